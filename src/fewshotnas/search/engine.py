"""The search engine: K ≥ 1 leaves searched as one program, with one epoch loop and one
resume path for every algorithm.

A separate search is K = 1; a fused one (the leaves of a tree, or of every tree of a
dataset) is K > 1. Each leaf keeps its own weights, BatchNorm statistics, alphas, mask,
optimiser state, gradient clipping and random draws, and sees the same batches in the same
order as it would alone, so K leaves together equal K separate runs up to float rounding.
They share the work of launching kernels: the leaves are stacked in a
:class:`~fewshotnas.space.fused.FusedNetwork` (one grouped convolution does K leaves'
convolutions) and their weights live in one flat tensor (:class:`FlatParameters`).

An algorithm is a :class:`Searcher` subclass in its own module: its math is written once,
batch-shaped over the K leaves ((K, 6, 5) alphas, (K,) losses), and registered in
:mod:`fewshotnas.search.registry` under its :mod:`fewshotnas.catalog` name.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fewshotnas.codehash import code_hash
from fewshotnas.data import PreparedData
from fewshotnas.files import EpochResume, config_hash
from fewshotnas.search.common import (
    SearchConfig,
    SearchStreams,
    batch_statistics,
    derive_genotype,
    disconnected_log,
    masked_logits,
    search_config,
    search_log_frame,
    validation_noise,
)
from fewshotnas.search.flat import FlatParameters
from fewshotnas.search.noise import NoiseStream
from fewshotnas.search.result import LeafResult
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask, genotype_from_str, genotype_to_str
from fewshotnas.space.fused import FusedNetwork
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast, configure_torch, resolve_device
from fewshotnas.train.loop import check_finite, check_steps, new_network, progress

log = logging.getLogger("fewshotnas")

Forward = Callable[[torch.Tensor], torch.Tensor]
"""Images (B, C, H, W) → (K, B, J) logits of every leaf."""


def leaf_losses(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """(K,) per-leaf cross-entropy (mean or sum over the batch) of (K, B, J) logits, in at least
    float32 (bf16 logits under autocast are upcast; float64 stays float64)."""
    k, b = logits.shape[:2]
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    per_sample = F.cross_entropy(logits.flatten(0, 1), y.repeat(k), reduction="none").view(k, b)
    return per_sample.mean(1) if reduction == "mean" else per_sample.sum(1)


class Searcher:
    """What every algorithm shares, for K leaves: the fused network ``net``, the flat weights
    and their Nesterov SGD with a cosine schedule from ``lr`` to ``lr_min`` (``w_opt``,
    ``w_sched``), (K, 6, 5) ``alphas`` with their Adam (``a_opt``) when the algorithm has
    them, the leaves' Gumbel ``noise`` when it samples, and the resumable state of all of it.

    The defaults are DARTS's: op weights softmax(α) over each leaf's mask, an architecture
    step then a weight step. Subclasses override :meth:`step` and whatever differs. Nothing
    here reads a tensor back to the host inside a step. Construct with :func:`build_searcher`.
    """

    name: ClassVar[str] = ""
    """The config name (a :data:`fewshotnas.catalog.CATALOG` key)."""
    has_alphas: ClassVar[bool] = True
    uses_noise: ClassVar[bool] = False
    samples_architectures: ClassVar[bool] = False
    """True when ``validation: sampled`` applies: the per-epoch validation then runs
    :meth:`validation_forward` (one architecture drawn per batch)."""

    @classmethod
    def init_leaf(cls, device: torch.device) -> dict:
        """One leaf's random initial state, drawn from torch's global RNG right after its
        network is built: alphas 1e-3·N(0, 1) as in DARTS, the seed of its noise generator."""
        init: dict = {}
        if cls.has_alphas:
            init["alphas"] = 1e-3 * torch.randn(NUM_EDGES, NUM_OPS, device=device)
        if cls.uses_noise:
            init["noise_seed"] = int(torch.randint(0, 2**62, ()))
        return init

    def __init__(self, nets: list[Network], masks: list[OpMask], cfg: SearchConfig, device: torch.device,
                 inits: list[dict]) -> None:
        self.cfg, self.device, self.leaves, self.masks = cfg, device, len(nets), list(masks)
        self.net = FusedNetwork.from_leaves(nets)
        self.mask_tensor = self.net.mask_tensor
        """(K, 6, 5) bool: each leaf's allowed ops."""
        self.params = list(self.net.parameters())
        self.flat = FlatParameters(self.params, self.leaves)
        self.w_opt = torch.optim.SGD([self.flat.flat], lr=cfg.lr, momentum=cfg.momentum,
                                     weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
        self.alphas: torch.nn.Parameter | None = None
        self.a_opt: torch.optim.Optimizer | None = None
        if self.has_alphas:
            self.alphas = torch.nn.Parameter(torch.stack([i["alphas"] for i in inits]))
            self.a_opt = torch.optim.Adam([self.alphas], lr=cfg.arch_lr, betas=cfg.arch_betas,
                                          weight_decay=cfg.arch_weight_decay)
        self.noise = NoiseStream(device, [i["noise_seed"] for i in inits]) if self.uses_noise else None

    # ----- architecture distribution
    def probabilities(self) -> torch.Tensor:
        """(K, 6, 5) softmax of each leaf's masked alphas (differentiable)."""
        return torch.softmax(masked_logits(self.alphas, self.mask_tensor), dim=-1)

    def distribution(self) -> torch.Tensor:
        """(K, 6, 5) each leaf's learned distribution over ops per edge (0 outside its mask),
        as the stage-1 statistics and the sampling selectors read it; detached."""
        return self.probabilities().detach()

    def arch_weights(self) -> torch.Tensor:
        """(K, 6, 5) op weights of the ``expected`` validation pass (logged as ``arch_probs``)."""
        return self.probabilities().detach()

    def eval_forward(self) -> Forward:
        """The ``expected`` validation pass with the current architecture weights."""
        weights = self.arch_weights()
        return lambda x: self.net(x, weights)

    def validation_forward(self, noise: Iterator[torch.Tensor]) -> Forward:
        """The ``sampled`` validation pass: per batch, each leaf on one architecture drawn from
        its distribution with the (6, 5) draw ``next(noise)`` (the same draw for every leaf)."""
        raise NotImplementedError(f"{self.name} has no sampled validation")

    def derive_masks(self) -> list[OpMask]:
        """Per leaf, the mask its genotype is derived in (the leaf's, or narrower)."""
        return list(self.masks)

    def derive(self, streams: SearchStreams, seed: int, epoch: int) -> list[tuple[int, ...]]:
        """Per leaf, the architecture the search has found after epoch ``epoch`` (0-based):
        the argmax of the alphas per edge within :meth:`derive_masks`."""
        alphas = self.alphas.detach().cpu()
        return [derive_genotype(alphas[k], m) for k, m in enumerate(self.derive_masks())]

    # ----- epochs
    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Called before epoch ``epoch`` (0-based) of ``epochs``: schedules, a fresh noise chunk."""
        if self.noise is not None:
            self.noise.restart()

    def end_epoch(self) -> float:
        """Step the schedules; return the weight learning rate the epoch used."""
        lr = self.w_sched.get_last_lr()[0]
        self.w_sched.step()
        return lr

    # ----- steps
    def training_weights(self) -> torch.Tensor:
        """(K, 6, 5) op weights of a training forward pass, differentiable w.r.t. the alphas
        (DARTS: the softmax; SNAS: a relaxed sample, fresh at each call)."""
        return self.probabilities()

    def forward(self, x: torch.Tensor, weights: torch.Tensor, run: OpMask | None = None) -> torch.Tensor:
        """(K, B, J) logits of every leaf with op weights ``weights`` (K, 6, 5); ``run``: the ops
        to compute (default every op of some leaf)."""
        return self.net(x, weights, run)

    def alpha_grad(self, x: torch.Tensor, y: torch.Tensor, full_precision: bool = False) -> torch.Tensor:
        """(K, 6, 5) gradient of each leaf's cross-entropy on (x, y) w.r.t. its alphas only.
        ``full_precision``: autocast off."""
        precision = torch.autocast(self.device.type, enabled=False) if full_precision else autocast(self.device)
        with precision:
            loss = leaf_losses(self.forward(x, self.training_weights()), y).sum()
        return torch.autograd.grad(loss, [self.alphas])[0]

    def arch_step(self, x_a: torch.Tensor, y_a: torch.Tensor, x_w: torch.Tensor, y_w: torch.Tensor) -> None:
        """One Adam step of the alphas on the architecture batch."""
        self.alphas.grad = self.alpha_grad(x_a, y_a)
        self.a_opt.step()

    def update_weights(self, losses: torch.Tensor) -> None:
        """One SGD step of every leaf on the gradient of its loss ((K,) ``losses``), each leaf's
        gradient clipped on its own."""
        self.flat.set_grads(torch.autograd.grad(losses.sum(), self.params, allow_unused=True))
        if self.cfg.grad_clip:
            self.flat.clip_grad_norm_(self.cfg.grad_clip)
        self.w_opt.step()

    def weight_step(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None,
                    run: OpMask | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step of the weights on (x, y) with op weights ``weights`` (default a fresh
        :meth:`training_weights`, detached); (K,) losses and (K, B, J) logits, detached."""
        with autocast(self.device):
            if weights is None:
                weights = self.training_weights().detach()
            logits = self.forward(x, weights, run)
            losses = leaf_losses(logits, y)
        self.update_weights(losses)
        return losses.detach(), logits.detach()

    def step(self, x_w: torch.Tensor, y_w: torch.Tensor, x_a: torch.Tensor, y_a: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One architecture step (architecture batch) and one weight step (weight batch) of
        every leaf; (K,) losses and (K, B, J) logits of the weight step, detached."""
        self.arch_step(x_a, y_a, x_w, y_w)
        return self.weight_step(x_w, y_w)

    # ----- state
    def state_dict(self) -> dict:
        state = dict(net=self.net.state_dict(), w_opt=self.w_opt.state_dict(), w_sched=self.w_sched.state_dict())
        if self.alphas is not None:
            state.update(alphas=self.alphas.detach().clone(), a_opt=self.a_opt.state_dict())
        if self.noise is not None:
            state["noise"] = self.noise.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.w_sched.load_state_dict(state["w_sched"])
        if self.alphas is not None:
            with torch.no_grad():
                self.alphas.copy_(state["alphas"])
            self.a_opt.load_state_dict(state["a_opt"])
        if self.noise is not None:
            self.noise.load_state_dict(state["noise"])


@torch.no_grad()
def evaluate_leaves(forward: Forward, leaves: int, streams: SearchStreams, device: torch.device
                    ) -> tuple[list[float], list[float]]:
    """Per leaf: mean cross-entropy and accuracy (%) of ``forward`` over the validation pass
    (one sync at the end)."""
    loss_sum = torch.zeros(leaves, device=device)
    correct = torch.zeros(leaves, device=device)
    count = 0
    for x, y in streams.val:
        with autocast(device):
            logits = forward(x)
        loss_sum += leaf_losses(logits, y, reduction="sum")
        correct += (logits.argmax(-1) == y).sum(1)
        count += len(y)
    return (loss_sum / count).tolist(), (100.0 * correct / count).tolist()


def algorithm_class(algorithm: str | type[Searcher]) -> type[Searcher]:
    """The implementation of a config name (or a :class:`Searcher` subclass, returned as is)."""
    if isinstance(algorithm, type) and issubclass(algorithm, Searcher):
        return algorithm
    from fewshotnas.search.registry import get_algorithm

    return get_algorithm(algorithm)


def stack_leaves(algorithm: str | type[Searcher], masks: list[OpMask], build: Callable[[OpMask], Network],
                 cfg: SearchConfig, seed: int, device: torch.device, threads: int | None = None) -> Searcher:
    """Initialise every leaf exactly as a search of it alone would (torch seeded with ``seed``,
    then the leaf's network ``build(mask)``, moved to ``device``, then its random state), then
    stack them into one :class:`Searcher` of K = len(masks) leaves."""
    cls = algorithm_class(algorithm)
    nets, inits = [], []
    for mask in masks:
        configure_torch(threads, seed)
        nets.append(build(mask).to(device))
        inits.append(cls.init_leaf(device))
    return cls(nets, list(masks), cfg, device, inits)


def build_searcher(algorithm: str | type[Searcher], data: PreparedData, masks: list[OpMask], network: dict,
                   cfg: SearchConfig, seed: int, threads: int | None, device: torch.device) -> Searcher:
    """:func:`stack_leaves` with the networks a search of ``data`` with config ``network`` builds."""
    return stack_leaves(algorithm, masks, lambda m: new_network(data, network, m), cfg, seed, device, threads)


def leaf_config_hash(algorithm: str, data: PreparedData, *, mask: OpMask, network: dict, search: dict,
                     seed: int) -> str:
    """The configuration hash of one leaf's search (stored in its ``final.pt``; the same
    whether the leaf ran alone or with others)."""
    return config_hash({"network": network, "search": search, "seed": seed, "mask": mask.to_bits(),
                        "algorithm": algorithm, "data": data.meta})


def search_leaves(
    algorithm: str | type[Searcher],
    data: PreparedData,
    *,
    masks: list[OpMask],
    network: dict,
    search: dict,
    seed: int,
    out_finals: list[str | Path],
    resume_path: str | Path,
    device: str = "auto",
    threads: int | None = None,
    quiet: bool = False,
    labels: list[str] | None = None,
    architectures: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[pd.DataFrame]:
    """Search every leaf of ``masks`` from fresh weights with ``algorithm`` (a config name, or a
    :class:`Searcher` subclass) as
    one program; returns one per-epoch log per leaf (docs/schemas.md; ``epoch_seconds`` is the
    epoch's time divided by the number of leaves) and writes each leaf's result
    (:class:`LeafResult`) to ``out_finals``.

    A leaf in which every architecture's cell is disconnected (no path from input to output)
    has nothing to search: it is not trained, and its log is one row marked ``disconnected``
    with NaN numbers. After each epoch a resume file is written atomically; a rerun with the
    same configuration, code and data continues from it. A non-finite loss or alpha, or a loss
    100× its first epoch's, in any leaf stops the job (:class:`DivergenceError`).

    ``architectures``: (M, 6) op indices and (M,) probabilities that RSPS draws each step's
    architecture from instead of uniformly (:meth:`~fewshotnas.search.rsps.Rsps.use_architectures`);
    part of the configuration hash.
    """
    algorithm_cls = algorithm_class(algorithm)  # an unknown name fails before anything is written
    algorithm = algorithm_cls.name
    if len(out_finals) != len(masks):
        raise ValueError(f"{len(masks)} leaves but {len(out_finals)} output paths")
    labels = labels or [f"leaf{k}" for k in range(len(masks))]
    cfg = search_config(search)
    configure_torch(threads, seed)
    dev = resolve_device(device)
    sampler = None
    if architectures is not None:
        if not hasattr(algorithm_cls, "use_architectures"):
            raise ValueError(f"{algorithm} draws no whole architectures; an architecture distribution applies to rsps")
        sampler = hashlib.sha256(np.ascontiguousarray(architectures[0], dtype=np.int64).tobytes()
                                 + np.ascontiguousarray(architectures[1], dtype=np.float64).tobytes()).hexdigest()[:16]
        search = {**search, "architecture_distribution": sampler}
    hashes = [leaf_config_hash(algorithm, data, mask=m, network=network, search=search, seed=seed) for m in masks]
    logs: list[pd.DataFrame | None] = [None] * len(masks)
    live = []
    for k, mask in enumerate(masks):
        if mask.can_connect():
            live.append(k)
            continue
        log.warning("%s: every architecture of this leaf is disconnected (no path from the cell's input to its "
                    "output); nothing to search, recorded with NaN accuracy", labels[k])
        LeafResult(mask, algorithm, network, hashes[k], disconnected=True).save(out_finals[k])
        logs[k] = disconnected_log(mask, cfg.epochs)
    if not live:
        Path(resume_path).unlink(missing_ok=True)
        return logs  # type: ignore[return-value]
    name = labels[live[0]] if len(live) == 1 else f"{algorithm} ({len(live)} leaves)"
    check_steps(f"{name}: weight half", len(data.weight), cfg.batch_size)
    check_steps(f"{name}: architecture half", len(data.arch), cfg.batch_size)
    live_masks = [masks[k] for k in live]
    algo = build_searcher(algorithm_cls, data, live_masks, network, cfg, seed, threads, dev)
    if architectures is not None:
        algo.use_architectures(torch.as_tensor(architectures[0]), torch.as_tensor(architectures[1]))
    if len(live) > 1:
        log.info("%s: %d leaves searched as one program on %s", algorithm, len(live), dev)
    streams = SearchStreams(data, cfg, seed, dev)
    key = {"config": config_hash({"network": network, "search": search, "seed": seed, "algorithm": algorithm,
                                  "masks": [m.to_bits() for m in live_masks], "data": data.meta}),
           "code": code_hash("fewshotnas.search")}
    resume = EpochResume(resume_path, "search", key, {"algorithm": algo, **streams.generators()})
    net = algo.net
    for epoch in resume.epochs(cfg.epochs):
        t0 = time.perf_counter()
        algo.begin_epoch(epoch, cfg.epochs)
        net.train()
        loss_sum = torch.zeros(len(live), device=dev)
        correct = torch.zeros(len(live), device=dev)
        seen = 0
        with progress(streams.steps, f"{name} epoch {epoch + 1}/{cfg.epochs}", quiet) as bar:
            for (x_w, y_w), (x_a, y_a) in streams.pairs():
                losses, logits = algo.step(x_w, y_w, x_a, y_a)
                loss_sum += losses * len(y_w)
                correct += (logits.argmax(-1) == y_w).sum(1)
                seen += len(y_w)
                bar.update()
        alphas = None if algo.alphas is None else algo.alphas.detach().cpu()
        train_loss = (loss_sum / seen).tolist()
        train_acc = (100.0 * correct / seen).tolist()
        for i, k in enumerate(live):
            check_finite(labels[k], epoch + 1, train_loss[i], [r[i] for r in resume.rows],
                         alphas=None if alphas is None else alphas[i], num_classes=data.num_classes)
        lr = algo.end_epoch()
        net.eval()
        if algo.samples_architectures and (cfg.validation == "sampled" or algo.alphas is None):
            # without architecture weights there is no expectation to take: always sampled (RSPS)
            with batch_statistics(net):
                val_loss, val_acc = evaluate_leaves(algo.validation_forward(validation_noise(seed, epoch)),
                                                    len(live), streams, dev)
        else:
            val_loss, val_acc = evaluate_leaves(algo.eval_forward(), len(live), streams, dev)
        genotypes = algo.derive(streams, seed, epoch)
        probs = algo.arch_weights().float().cpu()
        seconds = (time.perf_counter() - t0) / len(live)
        nan_alphas = [float("nan")] * (NUM_EDGES * NUM_OPS)
        rows = [dict(epoch=epoch + 1, lr=lr, train_loss=train_loss[i], train_acc=train_acc[i], val_loss=val_loss[i],
                     val_acc=val_acc[i], genotype=genotype_to_str(genotypes[i]),
                     alphas=nan_alphas if alphas is None else alphas[i].flatten().tolist(),
                     arch_probs=probs[i].flatten().tolist(), epoch_seconds=seconds, disconnected=False)
                for i in range(len(live))]
        resume.rows.append(rows)
        if len(live) == 1:
            log.info("%s epoch %d/%d: train acc %.1f%%, val acc %.1f%%, %s (%.1fs)", name, epoch + 1, cfg.epochs,
                     train_acc[0], val_acc[0], rows[0]["genotype"], seconds)
        else:
            memory = (f", GPU memory peak {torch.cuda.max_memory_allocated(dev) / 2**20:.0f} MiB"
                      if dev.type == "cuda" else "")
            log.info("%s epoch %d/%d: val acc %s (%.1fs per leaf%s)", name, epoch + 1, cfg.epochs,
                     " ".join(f"{a:.1f}" for a in val_acc), seconds, memory)
    distribution = algo.distribution().float().cpu()
    for i, k in enumerate(live):
        genotype = genotype_from_str(resume.rows[-1][i]["genotype"])
        LeafResult(masks[k], algorithm, network, hashes[k], genotype=tuple(genotype),
                   alphas=None if algo.alphas is None else algo.alphas[i].detach().cpu(),
                   probs=distribution[i], state_dict=net.leaf_state_dict(i),
                   fused_leaves=len(live)).save(out_finals[k])
        logs[k] = search_log_frame([r[i] for r in resume.rows])
    resume.finish()
    return logs  # type: ignore[return-value]


def run_search(algorithm: str | type[Searcher], data: PreparedData, *, mask: OpMask, network: dict, search: dict,
               seed: int, out_final: str | Path, resume_path: str | Path, device: str = "auto",
               threads: int | None = None, quiet: bool = False, label: str = "search") -> pd.DataFrame:
    """One leaf searched alone (:func:`search_leaves` with K = 1); returns its per-epoch log."""
    return search_leaves(algorithm, data, masks=[mask], network=network, search=search, seed=seed,
                         out_finals=[out_final], resume_path=resume_path, device=device, threads=threads,
                         quiet=quiet, labels=[label])[0]
