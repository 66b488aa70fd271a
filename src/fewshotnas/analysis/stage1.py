"""Stage-1 statistics of a searched leaf supernet: how well supernet training alone (alphas
and shared weights, before any architecture is picked) points at good architectures, after
*Picking up the pieces: separately evaluating supernet training and architecture selection*
(anonymous, ICLR 2022 submission) §4.1, and the top-architecture rank correlation of
*Generalizing few-shot NAS with gradient matching* (Hu, Wang, Hong, Li, Hsieh and Feng), Table 7.

* **Sampling mass**: the leaf's learned distribution over ops per edge (the final alphas
  softmaxed over the leaf's allowed ops; DrNAS: the Dirichlet mean; RSPS: uniform, by
  construction) defines a distribution over the leaf's architectures (the product over edges). We
  report the mass it puts on architectures at least as good as the space's top fraction f,
  against uniform sampling over the leaf (the share of the leaf's architectures there).
* **One-shot ranking**: a seeded sample of the leaf's architectures is evaluated with the
  supernet's inherited weights, BatchNorm statistics recalibrated on a few training batches
  per architecture, and ranked against NB201 accuracy (Spearman ρ, Kendall τ-b), over the
  whole sample and among its top fractions by NB201 accuracy.

* **Stage-1 curves** (*Picking up the pieces*, Fig. 1), against NB201 test-error thresholds,
  the space's top fractions :data:`CURVE_FRACTIONS`: ``recall``, the top-architecture
  identification rate (of the c ranked architectures at or below the threshold, the share the
  one-shot ranking also places in its top c; random ranking's expectation c/n as baseline),
  and ``cum_mass``, the sampling mass on the leaf's architectures at or below it (uniform's
  share as baseline).

Rows are long form (``STAGE1_COLUMNS``): ``statistic`` ∈ {mass, spearman, kendall, recall,
cum_mass}; ``error_threshold`` (NB201 test error %, for mass, recall and cum_mass rows; NaN
for correlations);
``subset`` the fraction (1.0 = the whole sample for correlations), ``value``, ``baseline``
(uniform mass; NaN for correlations), ``n`` (architectures the value is over) and ``known``
(the leaf's architectures with a benchmark accuracy). Where the benchmark table lacks
accuracies, everything is over the architectures with a known one: the space's top-f
thresholds, the mass and its uniform baseline (conditional on a known accuracy) and the
ranked sample (drawn from them).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from fewshotnas.bench import NB201Table
from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.search.result import LeafResult
from fewshotnas.space import NUM_EDGES, Network, OpMask
from fewshotnas.train.device import configure_torch, resolve_device
from fewshotnas.train.loop import new_network

log = logging.getLogger(__name__)

STAGE1_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string", "seed": "int64",
    "leaf": "int64", "statistic": "string", "subset": "float64", "value": "float64", "baseline": "float64",
    "n": "int64", "leaf_archs": "int64", "known": "int64", "error_threshold": "float64",
}

CURVE_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""Top fractions of the space whose accuracy thresholds the stage-1 curves are drawn at."""

MIN_RANKED = 3
"""Fewest architectures a rank correlation is computed over (fewer: NaN)."""


@dataclass(frozen=True)
class Stage1Config:
    """``sample``: architectures evaluated per leaf (all when the leaf has at most this many);
    ``bn_batches`` × ``batch_size`` training images recalibrate BatchNorm for each one;
    ``eval_images``: validation images (architecture half) each is scored on;
    ``mass_fractions``: top fractions of the space the sampling mass is reported above;
    ``top_fractions``: top fractions of the sample the correlations are also computed in;
    ``seed``: the sample's seed."""

    sample: int = 200
    bn_batches: int = 2
    batch_size: int = 64
    eval_images: int = 512
    mass_fractions: tuple[float, ...] = (0.001, 0.01, 0.05, 0.1, 0.5)
    top_fractions: tuple[float, ...] = (0.002, 0.005, 0.01)
    seed: int = 0


def masked_softmax(alphas: torch.Tensor | np.ndarray, mask: OpMask) -> np.ndarray:
    """(6, 5) per-edge softmax of ``alphas`` over the ops ``mask`` allows (0 elsewhere)."""
    a = np.asarray(alphas, dtype=np.float64).reshape(NUM_EDGES, -1)
    allowed = mask.to_array()
    logits = np.where(allowed, a, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def sampling_mass(alphas: torch.Tensor | np.ndarray, mask: OpMask, ops: np.ndarray) -> np.ndarray:
    """Probability of each architecture ``ops`` ((n, 6) op indices, all in ``mask``) under the
    per-edge softmax of ``alphas``: Π_e softmax(α_e)[op_e]. Over all the leaf's architectures
    it sums to 1."""
    return distribution_mass(masked_softmax(alphas, mask), ops)


def distribution_mass(probs: torch.Tensor | np.ndarray, ops: np.ndarray) -> np.ndarray:
    """Probability of each architecture ``ops`` ((n, 6) op indices) under the per-edge op
    distribution ``probs`` (6, 5): Π_e probs[e, op_e]. Each edge's row is
    renormalised in float64 first, so that a float32 softmax (rows summing to 1 ± 1e-7) gives
    masses summing to 1 up to float64 rounding, not 1 + 6e-7; a row of zeros stays zeros."""
    probs = np.asarray(probs, dtype=np.float64).reshape(NUM_EDGES, -1)
    totals = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, totals, out=np.zeros_like(probs), where=totals > 0)
    return np.prod(probs[np.arange(NUM_EDGES), ops], axis=1)


def mass_rows(mass: np.ndarray, acc: np.ndarray, thresholds: dict[float, float]) -> list[dict]:
    """For each top fraction f → accuracy threshold t: mass on architectures with accuracy ≥ t,
    against the uniform share of them (``mass`` and ``acc``: (n,) over the leaf's architectures).
    Architectures with NaN accuracy (the benchmark lacks them) are left out: value and baseline
    are then conditional on a known accuracy (mass and count renormalised over the known
    ones), NaN when none is known or the known ones carry no mass."""
    known = ~np.isnan(acc)
    known_mass = float(mass[known].sum())
    rows = []
    for fraction, t in thresholds.items():
        above = known & (acc >= t)
        value = float(mass[above].sum())
        if not known.all():  # renormalise over the known architectures (a complete leaf's mass sums to 1 already)
            value = value / known_mass if known_mass > 0 else math.nan
        rows.append(dict(statistic="mass", subset=fraction, value=value,
                         baseline=float(above.sum() / known.sum()) if known.any() else math.nan, n=int(above.sum()),
                         error_threshold=100.0 - t))
    return rows


def recall_rows(predicted: np.ndarray, truth: np.ndarray, thresholds: dict[float, float]) -> list[dict]:
    """Top-architecture identification rate of a one-shot ranking: for each top fraction f →
    accuracy threshold t, with c the ranked architectures whose ``truth`` (NB201 accuracy) is
    ≥ t, the share of them among the top c by ``predicted`` (ties by position); baseline c/n,
    a random ranking's expectation; NaN when c = 0. ``predicted``, ``truth``: (n,)."""
    n = len(truth)
    order = np.argsort(-np.asarray(predicted, dtype=float), kind="stable")
    rows = []
    for fraction, t in thresholds.items():
        good = np.asarray(truth) >= t
        c = int(good.sum())
        value = float(good[order[:c]].sum() / c) if c else math.nan
        rows.append(dict(statistic="recall", subset=fraction, value=value, baseline=c / n if n else math.nan, n=c,
                         error_threshold=100.0 - t))
    return rows


def rank_correlations(predicted: np.ndarray, truth: np.ndarray, top_fractions: Sequence[float]) -> list[dict]:
    """Spearman ρ and Kendall τ-b between ``predicted`` (one-shot accuracy) and ``truth``
    (NB201 accuracy), over all n architectures (subset 1.0) and among the top ``floor(f·n)``
    by ``truth`` (ties by position) for each f. NaN when fewer than ``MIN_RANKED``
    architectures or either side is constant."""
    order = np.argsort(-truth, kind="stable")
    rows = []
    for fraction in (1.0, *top_fractions):
        k = len(truth) if fraction == 1.0 else int(math.floor(fraction * len(truth) + 1e-9))
        idx = order[:k]
        rho = tau = math.nan
        if k >= MIN_RANKED and np.ptp(predicted[idx]) > 0 and np.ptp(truth[idx]) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rho = float(stats.spearmanr(predicted[idx], truth[idx]).statistic)
                tau = float(stats.kendalltau(predicted[idx], truth[idx]).statistic)
        rows += [dict(statistic="spearman", subset=fraction, value=rho, baseline=math.nan, n=k,
                      error_threshold=math.nan),
                 dict(statistic="kendall", subset=fraction, value=tau, baseline=math.nan, n=k,
                      error_threshold=math.nan)]
    return rows


def sample_architectures(leaf_indices: np.ndarray, size: int, seed: int, leaf: int) -> np.ndarray:
    """A sorted sample of ``size`` benchmark indices from ``leaf_indices`` without replacement
    (all of them when there are at most ``size``), seeded by (seed, leaf)."""
    if len(leaf_indices) <= size:
        return np.sort(leaf_indices)
    rng = np.random.default_rng([seed, leaf])
    return np.sort(rng.choice(leaf_indices, size=size, replace=False))


@torch.no_grad()
def recalibrate_bn(net: nn.Module, forward, batches: list[torch.Tensor]) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them as the plain average
    over ``batches`` (train-mode forwards, no gradients); leaves ``net`` in eval mode."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for x in batches:
        forward(x)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    net.eval()


@torch.no_grad()
def supernet_accuracy(net: Network, weights: torch.Tensor | None, mask: OpMask, calib: list[torch.Tensor],
                      evaluation: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Accuracy (%) of the supernet's ops in ``mask`` mixed with ``weights`` (6, 5; None: the
    uniform mixture, or the single op of each edge): BatchNorm recalibrated on ``calib`` (image
    batches), then scored on ``evaluation`` (image, label) batches; one sync at the end."""
    recalibrate_bn(net, lambda x: net(x, weights, mask), calib)
    correct = torch.zeros((), dtype=torch.int64, device=evaluation[0][1].device)
    total = 0
    for x, y in evaluation:
        correct += (net(x, weights, mask).argmax(1) == y).sum()
        total += len(y)
    return 100.0 * float(correct) / total


def one_shot_accuracy(net: Network, genotypes: Sequence[tuple[int, ...]], calib: list[torch.Tensor],
                      evaluation: list[tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
    """Accuracy (%) of each architecture with the supernet's inherited weights
    (:func:`supernet_accuracy` on its single-op mask). Only each architecture's own ops run.
    ``net`` is left with the last one's BN statistics."""
    return np.array([supernet_accuracy(net, None, OpMask.from_genotype(g), calib, evaluation) for g in genotypes],
                    dtype=float)


def leaf_stage1(net: Network, probs: torch.Tensor, mask: OpMask, table: NB201Table, bench_dataset: str, *,
                leaf: int, cfg: Stage1Config, calib: list[torch.Tensor],
                evaluation: list[tuple[torch.Tensor, torch.Tensor]]) -> list[dict]:
    """Sampling-mass and ranking rows (without the run's key columns) of one searched leaf,
    over the architectures with a known benchmark accuracy (the module's docstring). ``probs``:
    (6, 5) the leaf's learned op distribution (:attr:`LeafResult.probs`)."""
    acc_all = table.frame[bench_dataset].to_numpy(dtype=float)
    known_all = ~np.isnan(acc_all)
    member = np.flatnonzero(table.in_mask(mask))
    ops = table.op_matrix()[member]
    mass = distribution_mass(probs, ops)
    thresholds = {f: float(np.quantile(acc_all[known_all], 1.0 - f)) if known_all.any() else math.nan
                  for f in cfg.mass_fractions}
    rows = mass_rows(mass, acc_all[member], thresholds)
    curve = {f: float(np.quantile(acc_all[known_all], 1.0 - f)) if known_all.any() else math.nan
             for f in CURVE_FRACTIONS}
    rows += [dict(r, statistic="cum_mass") for r in mass_rows(mass, acc_all[member], curve)]
    known = member[known_all[member]]
    sample = sample_architectures(known, cfg.sample, cfg.seed, leaf)
    predicted = one_shot_accuracy(net, [tuple(int(o) for o in table.op_matrix()[i]) for i in sample], calib,
                                  evaluation)
    rows += rank_correlations(predicted, acc_all[sample], cfg.top_fractions)
    rows += recall_rows(predicted, acc_all[sample], curve)
    for row in rows:
        row.update(leaf=leaf, leaf_archs=len(member), known=len(known))
    return rows


def stage1_frame(rows: list[dict], **keys) -> pd.DataFrame:
    """Typed long-form table of :func:`leaf_stage1` rows, with the run's key columns."""
    frame = pd.DataFrame([{**keys, **r} for r in rows], columns=list(STAGE1_COLUMNS))
    return frame.astype(STAGE1_COLUMNS)


def stage1_batches(data: PreparedData, cfg: Stage1Config, device: torch.device
                   ) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
    """The BatchNorm calibration batches (``bn_batches`` seeded draws from the weight half)
    and the evaluation batches (the first ``eval_images`` of the architecture half), shared by
    every architecture and leaf."""
    gen = torch.Generator().manual_seed(cfg.seed)
    stream = BatchStream(data.weight, min(cfg.batch_size, len(data.weight)), data.mean, data.std, device=device,
                         generator=gen)
    calib = [x for (x, _), _ in zip(stream, range(cfg.bn_batches))]
    held = data.arch.select(torch.arange(min(cfg.eval_images, len(data.arch))))
    evaluation = list(BatchStream(held, 512, data.mean, data.std, device=device, shuffle=False, drop_last=False))
    return calib, evaluation


def load_leaf_result(path: str | Path, data: PreparedData) -> tuple[Network, torch.Tensor, OpMask] | None:
    """A searched leaf's final supernet (weights loaded, eval mode), learned op distribution
    (6, 5) and mask, from the ``final.pt`` a search writes; None for a disconnected leaf."""
    result = LeafResult.load(path)
    if result.disconnected:
        return None
    net = new_network(data, result.network, result.mask)
    net.load_state_dict(result.state_dict)
    return net.eval(), result.probs, result.mask


def run_stage1(finals: dict[int, str | Path], data: PreparedData, table: NB201Table, *, bench_dataset: str,
               cfg: Stage1Config, device: str = "auto", threads: int | None = None, label: str = "stage-1",
               **keys) -> pd.DataFrame:
    """Stage-1 rows of every searched leaf of one run (``finals``: leaf → ``final.pt``); the
    run's key columns (dataset, method, algorithm, seed, …) come from ``keys``. Disconnected
    leaves have no rows."""
    configure_torch(threads, cfg.seed)
    dev = resolve_device(device)
    calib, evaluation = stage1_batches(data, cfg, dev)
    rows = []
    for leaf, path in sorted(finals.items()):
        loaded = load_leaf_result(path, data)
        if loaded is None:
            log.info("%s leaf %d: disconnected, skipped", label, leaf)
            continue
        net, probs, mask = loaded
        t0 = time.perf_counter()
        leaf_rows = leaf_stage1(net.to(dev), probs, mask, table, bench_dataset, leaf=leaf, cfg=cfg, calib=calib,
                                evaluation=evaluation)
        rows += leaf_rows
        overall = {r["statistic"]: r["value"] for r in leaf_rows if r["subset"] == 1.0}
        log.info("%s leaf %d: %d architectures (%d with a benchmark accuracy), %d ranked, Kendall τ %.3f, "
                 "Spearman ρ %.3f (%.1fs)", label, leaf, leaf_rows[0]["leaf_archs"], leaf_rows[0]["known"],
                 min(cfg.sample, leaf_rows[0]["known"]), overall["kendall"], overall["spearman"],
                 time.perf_counter() - t0)
    return stage1_frame(rows, bench_dataset=bench_dataset, **keys)
