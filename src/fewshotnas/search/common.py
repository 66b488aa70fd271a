"""What every one-shot algorithm shares besides the engine: masked alphas, the derived
genotype, the search configuration, the batch streams and the per-epoch log's schema.

Alphas are a (6, 5) tensor of logits; ops outside the leaf's mask get −∞ in the
forward pass (``masked_logits``), so they are never chosen and never computed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import torch

from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.files import GeneratorState
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask, genotype_to_str

log = logging.getLogger("fewshotnas")



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
    validates ``expected``. ``gdas_temperature``: GDAS's Gumbel temperature at the first and last
    epoch, linear in between (10 → 0.1); ``aux_skip``: DARTS-'s auxiliary skip coefficient at the
    first and last epoch, linear (1 → 0); ``rsps_samples``: architectures RSPS draws to pick its
    result by one-shot validation accuracy (100)."""

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
    gdas_temperature: tuple[float, float] = (10.0, 0.1)
    aux_skip: tuple[float, float] = (1.0, 0.0)
    rsps_samples: int = 100

    def __post_init__(self) -> None:
        if self.validation not in VALIDATIONS:
            raise ValueError(f"unknown search validation {self.validation!r}; known: {', '.join(VALIDATIONS)}")


def validation_noise(seed: int, epoch: int, stream: int = 0) -> Iterator[torch.Tensor]:
    """Endless (6, 5) standard Gumbel draws (CPU) for the sampled validation pass of epoch
    ``epoch`` (0-based) of a search with seed ``seed``: the same for every leaf of that seed,
    whether it runs alone or fused, and after a resume; the training noise is not touched.
    ``stream`` 1 is a second, independent stream (RSPS's architecture draws)."""
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1) + epoch + 7_919 * stream)
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


TUPLE_HPARAMS = ("arch_betas", "temperature", "gdas_temperature", "aux_skip")


def search_config(search: dict) -> SearchConfig:
    """The :class:`SearchConfig` of a ``search.hparams`` config section."""
    return SearchConfig(**{k: tuple(v) if k in TUPLE_HPARAMS else v for k, v in search.items()})


class SearchStreams:
    """The batches of a search: weight half and architecture half (shuffled by generators
    seeded from ``seed``, so every leaf with that seed sees the same batches in the same order),
    the validation pass over the architecture half, and that half in training-size batches."""

    def __init__(self, data: PreparedData, cfg: SearchConfig, seed: int, device: torch.device) -> None:
        self.w_gen = torch.Generator().manual_seed(seed * 2 + 1)
        self.a_gen = torch.Generator().manual_seed(seed * 2 + 2)
        self.weight = BatchStream(data.weight, cfg.batch_size, data.mean, data.std, device=device,
                                  augment=cfg.augment, generator=self.w_gen)
        self.arch = BatchStream(data.arch, cfg.batch_size, data.mean, data.std, device=device, augment=cfg.augment,
                                generator=self.a_gen)
        self.val = BatchStream(data.arch, cfg.eval_batch_size, data.mean, data.std, device=device, shuffle=False,
                               drop_last=False)
        self.probe = BatchStream(data.arch, cfg.batch_size, data.mean, data.std, device=device, shuffle=False,
                                 drop_last=False)
        """The architecture half in order, in training-size batches (RSPS scores a candidate on one)."""
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
