"""Stage-2 architecture selection on a searched supernet, after *Picking up the pieces:
separately evaluating supernet training and architecture selection* (anonymous, ICLR 2022
submission) §4.2: each selector takes one leaf's supernet (weights and learned distribution)
and returns one architecture, looked up in NAS-Bench-201.

* ``prune``: the search's own derived architecture, the argmax of the alphas per edge;
  undefined (no architecture, ``defined`` False) for an algorithm without alphas (RSPS).
* ``valid``: ``samples`` architectures drawn from the leaf's learned distribution; the one
  with the best one-shot validation accuracy (inherited weights, BatchNorm recalibrated as
  the stage-1 statistics do, :func:`fewshotnas.analysis.stage1.one_shot_accuracy`).
* ``synflow`` / ``jacobcov``: the same draws ranked by the zero-cost metric of each
  standalone architecture (fresh weights, :func:`fewshotnas.metrics.proxy.score_architectures`).
* ``perturb``: the perturbation selection of DARTS-PT (Wang et al., *Rethinking architecture
  selection in differentiable NAS*, ICLR 2021): edges in a seeded order; on each, every
  remaining op is masked out of the supernet's mixture in turn and the supernet's validation
  accuracy measured; the op whose removal lowers it most is kept; ``tune_epochs`` epochs of
  weight training on the narrowed supernet follow each edge (DARTS-PT on NAS-Bench-201: 5).

Draws ("samples") are with replacement, so duplicates are scored once. The baselines of the
paper's §4.2 (RSPS-trained or untrained weights, uniform or idealised sampling) feed the same
selectors with an :class:`ArchitectureDistribution` over whole architectures.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fewshotnas.analysis.stage1 import Stage1Config, one_shot_accuracy, stage1_batches, supernet_accuracy
from fewshotnas.bench import NB201Table
from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.metrics.proxy import ProxySetup, score_architectures
from fewshotnas.space import NUM_EDGES, OpMask, genotype_to_str
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast

log = logging.getLogger(__name__)

SELECTORS = ("prune", "valid", "synflow", "jacobcov", "perturb")
"""Every Stage-2 selector, in the paper's column order."""
SAMPLING_SELECTORS = ("valid", "synflow", "jacobcov")
"""The selectors that rank ``samples`` draws from the supernet's distribution."""
BASELINE_SELECTORS = ("valid", "synflow", "jacobcov", "perturb")
"""The selectors the baselines evaluate (``prune`` needs alphas, which no baseline has)."""
SUPERNETS = ("rsps_uniform", "rsps_biased", "init_uniform", "init_biased")
"""The paper's four baseline supernets: RSPS-trained or untrained weights × uniform or
idealised architecture sampling."""

STAGE2_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string", "seed": "int64",
    "leaf": "int64", "selector": "string", "defined": "bool", "genotype": "string", "test_acc": "float64",
    "score": "float64", "candidates": "int64", "seconds": "float64",
}


@dataclass(frozen=True)
class Stage2Config:
    """``selectors``: which to run (:data:`SELECTORS`); ``samples``: draws the sampling
    selectors rank (N, the paper's 100); ``tune_epochs``/``tune_lr``: perturb's weight training
    between edges (SGD, momentum 0.9); ``bn_batches`` × ``batch_size`` training images
    recalibrate BatchNorm per evaluated network; ``eval_images``: validation images each is
    scored on; ``proxy_batch_size``: images the zero-cost metrics score; ``seed``: the draws',
    the edge order's and the metrics' weights' seed."""

    selectors: tuple[str, ...] = SELECTORS
    samples: int = 100
    tune_epochs: int = 5
    tune_lr: float = 0.001
    bn_batches: int = 2
    batch_size: int = 64
    eval_images: int = 512
    proxy_batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.selectors) - set(SELECTORS))
        if unknown:
            raise ValueError(f"unknown Stage-2 selector(s) {unknown}; known: {', '.join(SELECTORS)}")
        if self.samples < 1:
            raise ValueError(f"report.stage2.samples must be ≥ 1, got {self.samples}")


@dataclass(frozen=True)
class ArchitectureDistribution:
    """A distribution over whole architectures: ``ops`` (M, 6) op indices, ``probs`` (M,)
    probabilities (non-negative, summing to 1)."""

    ops: np.ndarray
    probs: np.ndarray

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 6) architectures drawn with replacement."""
        return self.ops[rng.choice(len(self.probs), size=n, p=self.probs)]

    def edge_marginals(self) -> np.ndarray:
        """(6, 5) per-edge op marginals (the mixture weights perturb runs the supernet with)."""
        out = np.zeros((NUM_EDGES, 5))
        for e in range(NUM_EDGES):
            np.add.at(out[e], self.ops[:, e], self.probs)
        return out


def idealised_probabilities(acc: np.ndarray) -> np.ndarray:
    """The paper's idealised sampler: probability ∝ (N − rank), rank 0 for the most accurate
    of the N architectures with a known accuracy (ties by position), so it falls linearly
    from N for the best to 1 for the worst; 0 for a NaN accuracy. ``acc``: (M,) accuracies."""
    acc = np.asarray(acc, dtype=float)
    known = np.flatnonzero(~np.isnan(acc))
    if not len(known):
        raise ValueError("the idealised sampler needs at least one architecture with a benchmark accuracy")
    order = known[np.argsort(-acc[known], kind="stable")]
    weights = np.zeros(len(acc))
    weights[order] = len(known) - np.arange(len(known))
    return weights / weights.sum()


def edge_distribution_draw(probs: torch.Tensor | np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) architectures drawn with replacement from the per-edge distribution ``probs``
    (6, 5): each edge's op independently."""
    p = np.asarray(probs, dtype=np.float64).reshape(NUM_EDGES, -1)
    p = p / p.sum(axis=1, keepdims=True)
    return np.stack([rng.choice(p.shape[1], size=n, p=p[e]) for e in range(NUM_EDGES)], axis=1)


def unique_genotypes(draws: np.ndarray) -> list[tuple[int, ...]]:
    """The distinct rows of ``draws`` (n, 6), in order of first appearance."""
    seen: dict[tuple[int, ...], None] = {}
    for row in draws:
        seen.setdefault(tuple(int(o) for o in row), None)
    return list(seen)


def best_of(scores: Sequence[float]) -> int:
    """Index of the highest finite score (the first of ties); −1 when none is finite."""
    values = np.asarray(scores, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return -1
    return int(np.argmax(np.where(finite, values, -np.inf)))


def tune_supernet(net: Network, weights: torch.Tensor, mask: OpMask, stream: BatchStream, epochs: int,
                  lr: float) -> None:
    """``epochs`` passes of SGD (momentum 0.9, ``lr``) on the mixture ``weights`` over ``mask``."""
    if epochs <= 0:
        return
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    net.train()
    for _ in range(epochs):
        for x, y in stream:
            with autocast(x.device):
                loss = F.cross_entropy(net(x, weights, mask).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()


def perturb_select(net: Network, weights: torch.Tensor, mask: OpMask, calib: list[torch.Tensor],
                   evaluation: list[tuple[torch.Tensor, torch.Tensor]], *, seed: int,
                   tune: BatchStream | None = None, tune_epochs: int = 0, tune_lr: float = 0.001
                   ) -> tuple[tuple[int, ...], float]:
    """DARTS-PT's perturbation selection (module docstring) within ``mask``; returns the
    architecture and the accuracy (%) of the last edge's kept op (the final supernet's).
    ``weights``: (6, 5) the mixture weights (masked-out ops contribute nothing; the others
    keep their weight). ``net`` is changed (BatchNorm statistics, and weights when tuned)."""
    weights = torch.as_tensor(weights, dtype=torch.float32, device=evaluation[0][0].device)
    order = np.random.default_rng([seed, 7]).permutation(NUM_EDGES)
    current = mask
    last = math.nan
    for k, edge in enumerate(order):
        ops = current.ops_on(int(edge))
        if len(ops) <= 1:
            continue
        accuracy = [supernet_accuracy(net, weights, current.restrict(int(edge), [o for o in ops if o != op]), calib,
                                      evaluation) for op in ops]
        keep = ops[int(np.argmin(accuracy))]  # the op whose removal hurts most (first of ties)
        current = current.restrict(int(edge), [keep])
        last = min(accuracy)
        if tune is not None and tune_epochs > 0 and k < NUM_EDGES - 1:
            tune_supernet(net, weights, current, tune, tune_epochs, tune_lr)
    genotype = tuple(current.ops_on(e)[0] for e in range(NUM_EDGES))
    return genotype, last


@dataclass
class SelectionInputs:
    """What the selectors need besides the supernet: BatchNorm calibration and validation
    batches (as the stage-1 statistics build them), the zero-cost metrics' batch and network
    layout, and perturb's fine-tuning stream (None: no tuning)."""

    calib: list[torch.Tensor]
    evaluation: list[tuple[torch.Tensor, torch.Tensor]]
    proxy_batches: list[tuple[torch.Tensor, torch.Tensor]]
    proxy_setup: ProxySetup
    tune: BatchStream | None = None


def selection_inputs(data: PreparedData, network: dict, cfg: Stage2Config, device: torch.device,
                     tune_batch_size: int = 64) -> SelectionInputs:
    """The batches every leaf shares: BatchNorm calibration (seeded draws from the weight half),
    validation (the first ``eval_images`` of the architecture half), the metrics' batch (the
    first ``proxy_batch_size`` of the weight half) and perturb's tuning stream (weight half)."""
    calib, evaluation = stage1_batches(data, Stage1Config(bn_batches=cfg.bn_batches, batch_size=cfg.batch_size,
                                                          eval_images=cfg.eval_images, seed=cfg.seed), device)
    held = data.weight.select(torch.arange(min(cfg.proxy_batch_size, len(data.weight))))
    proxy = list(BatchStream(held, len(held), data.mean, data.std, device=device, shuffle=False, drop_last=False))
    setup = ProxySetup(channels=network["channels"], cells_per_stage=network["cells_per_stage"],
                       num_classes=data.num_classes, in_channels=data.in_channels, image_size=data.image_size,
                       seed=cfg.seed)
    tune = None
    if cfg.tune_epochs > 0 and "perturb" in cfg.selectors:
        tune = BatchStream(data.weight, min(tune_batch_size, len(data.weight)), data.mean, data.std, device=device,
                           generator=torch.Generator().manual_seed(cfg.seed))
    return SelectionInputs(calib, evaluation, proxy, setup, tune)


def proxy_scores(metric: str, genotypes: list[tuple[int, ...]], inputs: SelectionInputs,
                 device: torch.device) -> list[float]:
    """The zero-cost ``metric`` of each standalone architecture (NaN where not finite)."""
    archs = [genotype_to_str(g) for g in genotypes]
    return [r["score"] if r["finite"] else math.nan
            for r in score_architectures(metric, archs, inputs.proxy_batches, inputs.proxy_setup, device=device)]


def select_all(net: Network, *, mask: OpMask, weights: torch.Tensor | np.ndarray, draws: np.ndarray,
               prune: tuple[int, ...] | None, cfg: Stage2Config, inputs: SelectionInputs, seed: int,
               device: torch.device, selectors: Sequence[str] | None = None) -> list[dict]:
    """One row per selector of ``selectors`` (default ``cfg.selectors``) on one supernet:
    ``selector``, ``defined``, ``genotype`` (benchmark string, None when undefined),
    ``score`` (the chosen one's: one-shot accuracy %, metric value, perturb's final accuracy
    %), ``candidates`` (distinct architectures it scored) and ``seconds``. ``draws`` (n, 6):
    the sampling selectors' shared draws; ``weights``: perturb's mixture weights; ``prune``:
    the search's own architecture, None for an algorithm without alphas. ``net``'s state is
    restored after perturb changes it."""
    rows = []
    genotypes = unique_genotypes(draws)
    for selector in selectors if selectors is not None else cfg.selectors:
        t0 = time.perf_counter()
        chosen, score, candidates = None, math.nan, 0
        if selector == "prune":
            chosen = prune
        elif selector in SAMPLING_SELECTORS:
            if selector == "valid":
                scores = list(one_shot_accuracy(net, genotypes, inputs.calib, inputs.evaluation))
            else:
                scores = proxy_scores(selector, genotypes, inputs, device)
            best = best_of(scores)
            candidates = len(genotypes)
            if best >= 0:
                chosen, score = genotypes[best], float(scores[best])
        elif selector == "perturb":
            saved = {k: v.detach().clone() for k, v in net.state_dict().items()}
            chosen, score = perturb_select(net, torch.as_tensor(np.asarray(weights), dtype=torch.float32), mask,
                                           inputs.calib, inputs.evaluation, seed=seed, tune=inputs.tune,
                                           tune_epochs=cfg.tune_epochs, tune_lr=cfg.tune_lr)
            net.load_state_dict(saved)
            candidates = sum(len(mask.ops_on(e)) for e in range(NUM_EDGES) if len(mask.ops_on(e)) > 1)
        else:
            raise ValueError(f"unknown Stage-2 selector {selector!r}; known: {', '.join(SELECTORS)}")
        rows.append(dict(selector=selector, defined=chosen is not None,
                         genotype=None if chosen is None else genotype_to_str(chosen), score=score,
                         candidates=candidates, seconds=round(time.perf_counter() - t0, 3)))
    return rows


def add_accuracies(frame: pd.DataFrame, table: NB201Table, bench_dataset: str) -> pd.DataFrame:
    """``test_acc`` of each row's genotype on ``bench_dataset`` (NaN when undefined)."""
    acc = [table.accuracy(g, bench_dataset) if isinstance(g, str) else math.nan for g in frame["genotype"]]
    return frame.assign(test_acc=acc)


def stage2_frame(rows: list[dict], table: NB201Table, bench_dataset: str, **keys) -> pd.DataFrame:
    """Typed :data:`STAGE2_COLUMNS` table of :func:`select_all` rows (with ``leaf``) and the run's keys."""
    frame = pd.DataFrame([{**keys, "bench_dataset": bench_dataset, **r} for r in rows])
    if frame.empty:
        return pd.DataFrame(columns=list(STAGE2_COLUMNS)).astype(STAGE2_COLUMNS)
    frame = add_accuracies(frame, table, bench_dataset)
    return frame[list(STAGE2_COLUMNS)].astype(STAGE2_COLUMNS)


def leaf_draws(probs: torch.Tensor | np.ndarray, cfg: Stage2Config, seed: int, leaf: int) -> np.ndarray:
    """The sampling selectors' ``cfg.samples`` draws from a leaf's learned per-edge
    distribution, seeded by (``cfg.seed``, search seed, leaf)."""
    return edge_distribution_draw(probs, cfg.samples, np.random.default_rng([cfg.seed, seed, leaf]))


def run_stage2(finals: dict[int, str], data: PreparedData, table: NB201Table, *, bench_dataset: str,
               cfg: Stage2Config, network: dict, seed: int, device: str = "auto", threads: int | None = None,
               label: str = "stage-2", **keys) -> pd.DataFrame:
    """:data:`STAGE2_COLUMNS` rows of every selector on every searched leaf of one run
    (``finals``: leaf → ``final.pt``; ``seed``: the search seed). Disconnected leaves have no
    rows; the run's key columns (dataset, method, algorithm) come from ``keys``."""
    from fewshotnas.search.result import LeafResult
    from fewshotnas.train.device import configure_torch, resolve_device
    from fewshotnas.train.loop import new_network

    configure_torch(threads, cfg.seed)
    dev = resolve_device(device)
    inputs = selection_inputs(data, network, cfg, dev)
    rows = []
    for leaf, path in sorted(finals.items()):
        result = LeafResult.load(path)
        if result.disconnected:
            log.info("%s leaf %d: disconnected, skipped", label, leaf)
            continue
        net = new_network(data, result.network, result.mask)
        net.load_state_dict(result.state_dict)
        net = net.to(dev).eval()
        prune = tuple(result.genotype) if result.alphas is not None else None
        leaf_rows = select_all(net, mask=result.mask, weights=result.probs, draws=leaf_draws(result.probs, cfg, seed,
                                                                                                  leaf),
                               prune=prune, cfg=cfg, inputs=inputs, seed=cfg.seed + 1000 * seed + leaf, device=dev)
        for row in leaf_rows:
            row["leaf"] = leaf
        rows += leaf_rows
        log.info("%s leaf %d: %s", label, leaf, ", ".join(
            f"{r['selector']} {r['genotype'] or 'undefined'} ({r['seconds']:.1f}s)" for r in leaf_rows))
    return stage2_frame(rows, table, bench_dataset, seed=seed, **keys)


def baseline_distribution(supernet: str, table: NB201Table, bench_dataset: str) -> ArchitectureDistribution:
    """The architecture distribution of a baseline supernet (:data:`SUPERNETS`) over the whole
    space: uniform, or the idealised sampler on ``bench_dataset``'s accuracies (``*_biased``)."""
    ops = table.op_matrix()
    if supernet.endswith("_biased"):
        probs = idealised_probabilities(table.frame[bench_dataset].to_numpy(dtype=float))
    elif supernet.endswith("_uniform"):
        probs = np.full(len(ops), 1.0 / len(ops))
    else:
        raise ValueError(f"unknown baseline supernet {supernet!r}; known: {', '.join(SUPERNETS)}")
    return ArchitectureDistribution(ops, probs)


def run_baseline(supernet: str, net: Network, data: PreparedData, table: NB201Table, *, bench_dataset: str,
                 cfg: Stage2Config, network: dict, seed: int, device: str = "auto", threads: int | None = None,
                 **keys) -> pd.DataFrame:
    """:data:`STAGE2_COLUMNS` rows (``method`` nosplit, ``algorithm`` the supernet's name,
    leaf 0) of the :data:`BASELINE_SELECTORS` among ``cfg.selectors`` on one baseline supernet
    ``net`` (RSPS-trained, or fresh weights), its draws from :func:`baseline_distribution`
    seeded by (``cfg.seed``, ``seed``); perturb mixes the ops with the distribution's per-edge
    marginals."""
    from fewshotnas.train.device import configure_torch, resolve_device

    configure_torch(threads, cfg.seed)
    dev = resolve_device(device)
    inputs = selection_inputs(data, network, cfg, dev)
    dist = baseline_distribution(supernet, table, bench_dataset)
    draws = dist.draw(cfg.samples, np.random.default_rng([cfg.seed, seed, 0]))
    selectors = [s for s in cfg.selectors if s in BASELINE_SELECTORS]
    rows = select_all(net.to(dev).eval(), mask=OpMask.full(), weights=dist.edge_marginals(), draws=draws,
                      prune=None, cfg=cfg, inputs=inputs, seed=cfg.seed + 1000 * seed, device=dev,
                      selectors=selectors)
    for row in rows:
        row["leaf"] = 0
    log.info("baseline %s seed %d: %s", supernet, seed, ", ".join(
        f"{r['selector']} {r['genotype']} ({r['seconds']:.1f}s)" for r in rows))
    return stage2_frame(rows, table, bench_dataset, seed=seed, method="nosplit", algorithm=supernet, **keys)
