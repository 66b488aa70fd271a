"""Reference copy (see tests/reference/__init__.py). What every one-shot algorithm shares: masked
alphas, the derived genotype, the search configuration and the epoch loop with logging and resume.

Alphas are a (6, 5) tensor of logits; ops outside the leaf's mask get −∞ in the
forward pass (``masked_logits``), so they are never chosen and never computed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
import torch
import torch.nn.functional as F

from fewshotnas.codehash import code_hash
from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.files import EpochResume, GeneratorState, config_hash, save_checkpoint
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask, genotype_to_str
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import configure_torch, resolve_device
from fewshotnas.train.loop import check_finite, check_steps, evaluate, new_network, progress

log = logging.getLogger("fewshotnas")

SEARCH_FORMAT = 2


def masked_logits(alphas: torch.Tensor, mask_tensor: torch.Tensor) -> torch.Tensor:
    """(6, 5) logits with −∞ where ``mask_tensor`` (bool (6, 5)) is False."""
    return alphas.masked_fill(~mask_tensor, float("-inf"))


def derive_genotype(alphas: torch.Tensor, mask: OpMask) -> tuple[int, ...]:
    """Argmax op per edge among the ops the mask allows (ties: lowest op index)."""
    logits = masked_logits(alphas.detach().cpu(), mask.to_tensor())
    return tuple(int(o) for o in logits.argmax(dim=1))


VALIDATIONS = ("sampled", "expected")


@dataclass
class SearchConfig:
    """Search hyperparameters (App. A.3–A.5): weights by (Nesterov) SGD with cosine lr from
    ``lr`` to ``lr_min``; alphas by Adam(``arch_lr``, ``arch_betas``, ``arch_weight_decay``);
    SNAS's ``temperature`` (first, last epoch); DSNAS's ``fix_threshold``; ``validation``:
    how the per-epoch supernet validation of the sampling algorithms (SNAS, DSNAS) runs —
    ``sampled`` (NB201's and DSNAS's search code: BatchNorm on each batch's statistics, one
    architecture drawn per batch from the leaf's distribution) or ``expected`` (BatchNorm's
    running statistics, softmax(α) for SNAS, the argmax path for DSNAS). DARTS always
    validates ``expected``."""

    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    augment: bool = False
    eval_batch_size: int = 512
    temperature: tuple[float, float] = (1.0, 0.1)
    fix_threshold: float = 0.8
    validation: str = "sampled"

    def __post_init__(self) -> None:
        if self.validation not in VALIDATIONS:
            raise ValueError(f"unknown search validation {self.validation!r}; known: {', '.join(VALIDATIONS)}")


class Algorithm(Protocol):
    """What :func:`run_search` needs of a one-shot algorithm.

    Constructed as ``cls(net, mask, cfg, device)``. Everything it updates (alphas,
    optimiser states, schedules) lives in tensors and ``state_dict()``, so a run
    resumes exactly and several leaves can later be fused into one program.
    """

    alphas: torch.Tensor
    """(6, 5) architecture logits (entries outside the mask are ignored)."""

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Called before epoch ``epoch`` (0-based) of ``epochs`` (e.g. temperature schedules)."""

    def step(self, x_w: torch.Tensor, y_w: torch.Tensor, x_a: torch.Tensor, y_a: torch.Tensor) -> tuple[
        torch.Tensor, torch.Tensor]:
        """Update alphas and weights; return (weight loss, weight-batch logits), both detached."""

    def end_epoch(self) -> float:
        """Step the schedules; return the weight learning rate the epoch used."""

    def arch_weights(self) -> torch.Tensor:
        """(6, 5) op weights for evaluation (0 outside the mask)."""

    def derive_mask(self) -> OpMask:
        """The mask the genotype is derived in: the leaf's, or narrower (DSNAS's fixed edges)."""

    def eval_mask(self) -> OpMask:
        """The run mask of the validation pass (ops with weight 0 there need not run)."""

    samples_architectures: bool
    """True when the algorithm trains on sampled architectures (SNAS, DSNAS): it then has
    :meth:`validation_sample`, used by ``validation: sampled``."""

    def validation_sample(self, noise: torch.Tensor) -> tuple[torch.Tensor, OpMask | None]:
        """(6, 5) op weights and run mask (None: the leaf's) of one architecture drawn from
        the leaf's distribution with the (6, 5) Gumbel ``noise``, detached."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def run_search(
    algorithm_cls: type,
    data: PreparedData,
    *,
    mask: OpMask,
    network: dict,
    search: dict,
    seed: int,
    out_final: str | Path,
    resume_path: str | Path,
    device: str = "auto",
    threads: int | None = None,
    quiet: bool = False,
    label: str = "search",
) -> pd.DataFrame:
    """Search the sub-space ``mask`` from fresh weights; returns the per-epoch log.

    After each epoch a resume file is written atomically; a rerun with the same
    configuration, code and data continues from it. ``out_final`` gets weights, alphas and
    the final derived genotype. A leaf in which every architecture's cell is disconnected
    (no path from input to output; :meth:`OpMask.can_connect`) has nothing to search: it is
    not trained, and its log is one row marked ``disconnected`` with NaN losses and
    accuracies. A non-finite loss or alpha, or a loss 100× its first epoch's, stops the search
    (:class:`DivergenceError`).
    """
    cfg = search_config(search)
    chash = leaf_config_hash(algorithm_cls, data, mask=mask, network=network, search=search, seed=seed)
    configure_torch(threads, seed)
    dev = resolve_device(device)
    if not mask.can_connect():
        log.warning("%s: every architecture of this leaf is disconnected (no path from the cell's input to its "
                    "output); nothing to search, recorded with NaN accuracy", label)
        save_checkpoint(dict(format=SEARCH_FORMAT, config_hash=chash, mask=mask.to_bits(), network=network,
                             disconnected=True), out_final)
        return disconnected_log(mask, cfg.epochs)
    check_steps(f"{label}: weight half", len(data.weight), cfg.batch_size)
    check_steps(f"{label}: architecture half", len(data.arch), cfg.batch_size)
    net = new_network(data, network, mask).to(dev)
    algo = algorithm_cls(net, mask, cfg, dev)
    streams = SearchStreams(data, cfg, seed, dev)
    resume = EpochResume(resume_path, "search", {"config": chash, "code": code_hash("fewshotnas.search")},
                         {"algorithm": algo, **streams.generators()})
    steps = streams.steps
    for epoch in resume.epochs(cfg.epochs):
        t0 = time.perf_counter()
        algo.begin_epoch(epoch, cfg.epochs)
        net.train()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        seen = 0
        with progress(steps, f"{label} epoch {epoch + 1}/{cfg.epochs}", quiet) as bar:
            for (x_w, y_w), (x_a, y_a) in streams.pairs():
                loss, logits = algo.step(x_w, y_w, x_a, y_a)
                loss_sum += loss * len(y_w)
                correct += (logits.argmax(1) == y_w).sum()
                seen += len(y_w)
                bar.update()
        alphas = algo.alphas.detach().cpu()
        check_finite(label, epoch + 1, float(loss_sum) / seen, resume.rows, alphas=alphas,
                     num_classes=data.num_classes)
        lr = algo.end_epoch()
        net.eval()
        weights = algo.arch_weights().detach()
        if cfg.validation == "sampled" and algo.samples_architectures:
            noise = validation_noise(seed, epoch)
            with batch_statistics(net):
                val_loss, val_acc = evaluate(lambda x, g=noise: net(x, *algo.validation_sample(next(g).to(dev))),
                                             streams.val, dev)
        else:
            run_mask = algo.eval_mask()
            val_loss, val_acc = evaluate(lambda x, w=weights, m=run_mask: net(x, w, m), streams.val, dev)
        genotype = derive_genotype(alphas, algo.derive_mask())
        row = dict(epoch=epoch + 1, lr=lr, train_loss=float(loss_sum) / seen, train_acc=100.0 * float(correct) / seen,
                   val_loss=val_loss, val_acc=val_acc, genotype=genotype_to_str(genotype),
                   alphas=alphas.flatten().tolist(), arch_probs=weights.float().cpu().flatten().tolist(),
                   epoch_seconds=time.perf_counter() - t0, disconnected=False)
        resume.rows.append(row)
        log.info("%s epoch %d/%d: train acc %.1f%%, val acc %.1f%%, %s (%.1fs)", label, epoch + 1, cfg.epochs,
                 row["train_acc"], val_acc, row["genotype"], row["epoch_seconds"])
    final_genotype = derive_genotype(algo.alphas, algo.derive_mask())
    save_checkpoint(dict(format=SEARCH_FORMAT, config_hash=chash, mask=mask.to_bits(), network=network,
                         alphas=algo.alphas.detach().cpu(), genotype=genotype_to_str(final_genotype),
                         disconnected=False, state_dict={k: v.cpu() for k, v in net.state_dict().items()}), out_final)
    resume.finish()
    return search_log_frame(resume.rows)


def validation_noise(seed: int, epoch: int) -> Iterator[torch.Tensor]:
    """Endless (6, 5) standard Gumbel draws (CPU) for the sampled validation pass of epoch
    ``epoch`` (0-based) of a search with seed ``seed``: the same for every leaf of that seed,
    whether it runs alone or fused, and after a resume; the training noise is not touched."""
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1) + epoch)
    while True:
        yield -torch.empty(NUM_EDGES, NUM_OPS).exponential_(generator=gen).log()


@contextmanager
def batch_statistics(net: torch.nn.Module) -> Iterator[None]:
    """Run ``net`` in train mode (BatchNorm normalises by each batch's statistics) and give
    every buffer (running statistics) back unchanged afterwards; gradients are not needed."""
    saved = [b.detach().clone() for b in net.buffers()]
    was_training = net.training
    net.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(net.buffers(), saved):
                buffer.copy_(value)
        net.train(was_training)


def search_config(search: dict) -> SearchConfig:
    """The :class:`SearchConfig` of a ``search.hparams`` config section."""
    known = set(SearchConfig.__dataclass_fields__)  # the reference ignores the engine's newer keys
    return SearchConfig(**{k: tuple(v) if k in ("arch_betas", "temperature") else v for k, v in search.items()
                           if k in known})


def leaf_config_hash(algorithm_cls: type, data: PreparedData, *, mask: OpMask, network: dict, search: dict,
                     seed: int) -> str:
    """The configuration hash of one leaf's search (stored in its ``final.pt``; the same
    whether the leaf ran alone or fused with others)."""
    return config_hash({"network": network, "search": search, "seed": seed, "mask": mask.to_bits(),
                        "algorithm": algorithm_cls.__name__, "data": data.meta})


class SearchStreams:
    """The batches of a search: weight half and architecture half (shuffled by generators
    seeded from ``seed``, so every leaf with that seed sees the same batches in the same order),
    and the validation pass over the architecture half."""

    def __init__(self, data: PreparedData, cfg: SearchConfig, seed: int, device: torch.device) -> None:
        self.w_gen = torch.Generator().manual_seed(seed * 2 + 1)
        self.a_gen = torch.Generator().manual_seed(seed * 2 + 2)
        self.weight = BatchStream(data.weight, cfg.batch_size, data.mean, data.std, device=device,
                                  augment=cfg.augment, generator=self.w_gen)
        self.arch = BatchStream(data.arch, cfg.batch_size, data.mean, data.std, device=device, augment=cfg.augment,
                                generator=self.a_gen)
        self.val = BatchStream(data.arch, cfg.eval_batch_size, data.mean, data.std, device=device, shuffle=False,
                               drop_last=False)
        self.steps = min(len(self.weight), len(self.arch))
        """Steps per epoch."""

    def generators(self) -> dict[str, GeneratorState]:
        """The data-order generators, as resume-file parts."""
        return {"w_gen": GeneratorState(self.w_gen), "a_gen": GeneratorState(self.a_gen)}

    def pairs(self):
        """One epoch of (x_w, y_w), (x_a, y_a) batch pairs."""
        return zip(self.weight, self.arch)


def disconnected_log(mask: OpMask, epochs: int) -> pd.DataFrame:
    """The log of a leaf with nothing to search: one row at the final epoch, marked
    ``disconnected``, with the leaf's first architecture and NaN numbers."""
    nan = float("nan")
    first = next(iter(mask.genotypes()))
    return search_log_frame([dict(epoch=epochs, lr=nan, train_loss=nan, train_acc=nan, val_loss=nan, val_acc=nan,
                                  genotype=genotype_to_str(first), alphas=[nan] * (NUM_EDGES * NUM_OPS),
                                  arch_probs=[nan] * (NUM_EDGES * NUM_OPS), epoch_seconds=0.0, disconnected=True)])


def search_log_frame(rows: list[dict]) -> pd.DataFrame:
    """Typed per-epoch search log (see docs/schemas.md)."""
    df = pd.DataFrame(rows, columns=["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "genotype",
                                     "alphas", "arch_probs", "epoch_seconds", "disconnected"])
    return df.astype({"epoch": "int64", "lr": "float64", "train_loss": "float64", "train_acc": "float64",
                      "val_loss": "float64", "val_acc": "float64", "genotype": "string",
                      "epoch_seconds": "float64", "disconnected": "bool"})


def weight_optimizer(net: Network, cfg: SearchConfig
                     ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Nesterov SGD on the weights and its cosine schedule (per epoch) from lr to lr_min."""
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          nesterov=cfg.nesterov)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
    return opt, sched


def new_alphas(device: torch.device) -> torch.nn.Parameter:
    """(6, 5) architecture logits, 1e-3·N(0, 1) as in DARTS (follows the torch seed)."""
    return torch.nn.Parameter(1e-3 * torch.randn(NUM_EDGES, NUM_OPS, device=device))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, computed in at least float32 (bf16 logits under autocast are upcast)."""
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    return F.cross_entropy(logits, y)
