"""The proxy check: how well each scalar metric, used as a zero-cost proxy, ranks
NAS-Bench-201 architectures.

A seeded sample of the space's architectures is scored as standalone networks at
initialisation (:func:`fewshotnas.metrics.proxy.score_architectures`) on a real batch, and
each metric's scores are rank-correlated with NB201 test accuracy on CIFAR-10, CIFAR-100 and
ImageNet16-120 (:mod:`fewshotnas.analysis.proxy_table`). This module draws the sample and
scores it; a score that is not finite (e.g. a cell with no path from input to output) is
kept as NaN with ``finite`` false.

Vector metrics (gradient matching) give no per-architecture score and are not checked.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from fewshotnas.bench import BENCH_DATASETS, NB201Table
from fewshotnas.metrics import METRICS
from fewshotnas.metrics.proxy import Batch, ProxySetup, score_architectures
from fewshotnas.space import NUM_ARCHS

log = logging.getLogger(__name__)

SCORE_COLUMNS = {"metric": "string", "index": "int64", "arch_str": "string", "score": "float64", "finite": "bool",
                 "seconds": "float64", **{d: "float64" for d in BENCH_DATASETS}}
"""``proxies_scores.parquet``: one row per metric × architecture; ``score`` NaN when not finite;
the NB201 test accuracies (%) of the architecture, so the table can be recomputed from it alone."""


@dataclass(frozen=True)
class ProxyCheckConfig:
    """``samples`` architectures drawn without replacement from the 15,625 with ``seed`` (which
    also seeds the weights, the batches and the bootstrap); each is scored as a network of
    ``channels`` × ``cells_per_stage`` on ``batches`` batches of ``batch_size`` images;
    ``bootstrap`` resamples give the ``confidence`` intervals."""

    samples: int = 1000
    seed: int = 0
    batches: int = 1
    batch_size: int = 32
    channels: int = 8
    cells_per_stage: int = 1
    bootstrap: int = 1000
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not 1 <= self.samples <= NUM_ARCHS:
            raise ValueError(f"proxies samples must lie in 1..{NUM_ARCHS}, got {self.samples}")
        if self.batch_size < 2:
            raise ValueError(f"proxies batch_size must be ≥ 2 (BatchNorm needs two samples), got {self.batch_size}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"proxies confidence must lie in (0, 1), got {self.confidence}")


def scalar_metric_names() -> list[str]:
    """Every registered metric that gives one score per architecture (``kind == "scalar"``), sorted."""
    return sorted(name for name, spec in METRICS.items() if spec.kind == "scalar")


def sample_indices(samples: int, seed: int) -> np.ndarray:
    """``samples`` distinct benchmark indices drawn with ``seed``, sorted (the same for every metric)."""
    return np.sort(np.random.default_rng(seed).choice(NUM_ARCHS, size=samples, replace=False)).astype(np.int64)


def score_sample(metric: str, indices: Sequence[int], table: NB201Table, batches: list[Batch], setup: ProxySetup,
                 options: dict | None = None, device: torch.device | str = "cpu", label: str = "") -> pd.DataFrame:
    """The ``SCORE_COLUMNS`` rows of one metric on the architectures ``indices``; logs progress
    (done, rate, ETA) about every 10 %."""
    archs = [table.arch_str(int(i)) for i in indices]
    rows, t0 = [], time.perf_counter()
    step = max(1, len(archs) // 10)
    for k, (index, record) in enumerate(zip(indices, score_architectures(metric, archs, batches, setup, options,
                                                                         device)), start=1):
        score = record["score"] if record["finite"] else math.nan
        rows.append(dict(metric=metric, index=int(index), arch_str=record["arch_str"], score=score,
                         finite=record["finite"], seconds=record["seconds"]))
        if k % step == 0 or k == len(archs):
            elapsed = time.perf_counter() - t0
            log.info("%s%s: %d/%d architectures, %.3f s each, ETA %.0f s", label, metric, k, len(archs),
                     elapsed / k, elapsed / k * (len(archs) - k))
    frame = pd.DataFrame(rows, columns=[c for c in SCORE_COLUMNS if c not in BENCH_DATASETS])
    for dataset in BENCH_DATASETS:
        frame[dataset] = table.accuracies(frame["arch_str"], dataset)
    return frame.astype(SCORE_COLUMNS)


def config_metadata(cfg: ProxyCheckConfig, **extra) -> dict:
    """What to store in the Parquet metadata of the proxy tables."""
    return {"proxies": asdict(cfg), **extra}
