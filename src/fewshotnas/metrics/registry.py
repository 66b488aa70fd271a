"""The metric registry: one place that names every splitting metric.

A metric scores the supernet restricted to a mask (a candidate sub-supernet
with one op left on the target edge). Each metric also says how similar two of
its scores are: scalar metrics −|f(a) − f(b)| (the metric-splitting
paper's eq. 2, as a similarity), vector metrics the cosine (GM-NAS eq. 2); a metric may bring its
own (gradient matching's per-filter cosine). The split is the min-cut of that
similarity (:mod:`fewshotnas.split.mincut`).

This module imports no metric: ``fewshotnas.metrics`` imports every metric
module, which registers itself here.

Non-finite scores (NaN or ±inf, e.g. a candidate whose cells have no path from
input to output, 341 of the 15,625 architectures) are *degenerate*; see
:func:`fewshotnas.metrics.similarity.similarity_matrix` for how they are grouped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MetricContext:
    """What a metric may use: the data batches (x normalised (B, C, H, W), y (B,)), the edge
    being split (−1: none), the device, the metric's options and a seed for any randomness
    of its own (the same for every candidate of one split, so candidates are comparable)."""

    batches: list[Batch]
    edge: int
    device: torch.device
    options: dict
    seed: int = 0


Score = "float | torch.Tensor | list[torch.Tensor]"
MetricFn = Callable[[Network, OpMask, MetricContext], Score]
SimilarityFn = Callable[[Score, Score, dict], float]


def scalar_similarity(a: Score, b: Score, options: dict) -> float:
    """−|a − b| (≤ 0; 0 for equal scores): the similarity of two scalar scores."""
    return -abs(float(a) - float(b))


def cosine_similarity(a: Score, b: Score, options: dict) -> float:
    """cos(a, b) of two flat vectors, in [−1, 1]; 0 when either is the zero vector."""
    a_vec, b_vec = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    denom = a_vec.norm() * b_vec.norm()
    if denom == 0:
        return 0.0
    return float(torch.dot(a_vec, b_vec) / denom)


DEFAULT_SIMILARITY: dict[str, SimilarityFn] = {"scalar": scalar_similarity, "vector": cosine_similarity}


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: MetricFn
    kind: Literal["scalar", "vector"]
    needs_data: bool
    doc: str
    similarity_fn: SimilarityFn
    options: tuple[str, ...] = ()

    def check_options(self, options: dict) -> None:
        """Raise ValueError naming any option this metric does not know."""
        unknown = set(options) - set(self.options)
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ValueError(f"metric {self.name!r} has no option(s) {sorted(unknown)}; known: {known}")

    def similarity(self, a: Score, b: Score, options: dict) -> float:
        """Similarity of two finite scores of this metric (larger: more alike)."""
        return self.similarity_fn(a, b, options)


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, kind: Literal["scalar", "vector"] = "scalar", needs_data: bool = True,
                    similarity_fn: SimilarityFn | None = None, options: tuple[str, ...] = ()):
    """Decorator adding a metric function to :data:`METRICS` under ``name``; ``similarity_fn``
    defaults to the kind's (scalar: −|Δ|, vector: cosine); ``options``: the option names it
    accepts (others are config errors)."""

    def wrap(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricSpec(name, fn, kind, needs_data, (fn.__doc__ or "").strip().splitlines()[0],
                                   similarity_fn or DEFAULT_SIMILARITY[kind], options)
        return fn

    return wrap


def get_metric(name: str) -> MetricSpec:
    """The spec of metric ``name``; the error lists the known names."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name]


def metric_names() -> list[str]:
    """Names of every registered metric, sorted."""
    return sorted(METRICS)


def is_finite(score: Score) -> bool:
    """True when every value of the score is finite (a score that is not is *degenerate*).

    A scalar is judged on its float64 value (``math.isfinite``): a synflow score of 1e48 is
    finite, although it would overflow float32. Tensors are judged in their own dtype."""
    if isinstance(score, list):
        return all(bool(torch.isfinite(t).all()) for t in score)
    if isinstance(score, torch.Tensor):
        return bool(torch.isfinite(score).all())
    return math.isfinite(float(score))


def score_norm(score: Score) -> float:
    """Euclidean norm of a vector score (over all its parts)."""
    if isinstance(score, list):
        return float(torch.sqrt(sum(t.double().pow(2).sum() for t in score)))
    return float(torch.as_tensor(score, dtype=torch.float64).norm())
