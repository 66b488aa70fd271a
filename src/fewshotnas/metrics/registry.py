"""The metric registry: one place that names every splitting metric.

A metric scores the supernet restricted to a mask (a candidate sub-supernet
with one op left on the target edge). ``kind`` says how two scores compare:
``scalar`` → |f(a) − f(b)|, ``vector`` → 1 − cos(f(a), f(b)); a metric may bring
its own ``distance`` (gradient matching's per-filter cosine).

Non-finite scores (NaN or ±inf, e.g. a candidate whose cells have no path from
input to output, 341 of the 15,625 architectures) are *degenerate*; see
:func:`fewshotnas.split.policy.distance_matrix` for how they are grouped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch

from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MetricContext:
    """What a metric may use: the data batches (x normalised (B, C, H, W), y (B,)),
    the edge being split, and the device."""

    batches: list[Batch]
    edge: int
    device: torch.device
    options: dict


Score = "float | torch.Tensor | list[torch.Tensor]"
MetricFn = Callable[[Network, OpMask, MetricContext], Score]
DistanceFn = Callable[[Score, Score, dict], float]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: MetricFn
    kind: Literal["scalar", "vector"]
    needs_data: bool
    doc: str
    distance_fn: DistanceFn | None = None
    options: tuple[str, ...] = ()

    def check_options(self, options: dict) -> None:
        """Raise ValueError naming any option this metric does not know."""
        unknown = set(options) - set(self.options)
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ValueError(f"metric {self.name!r} has no option(s) {sorted(unknown)}; known: {known}")

    def distance(self, a: Score, b: Score, options: dict) -> float:
        """Distance of two scores of this metric (``options``: the metric's options)."""
        if self.distance_fn is not None:
            return self.distance_fn(a, b, options)
        return distance(self.kind, a, b)


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, kind: Literal["scalar", "vector"] = "scalar", needs_data: bool = True,
                    distance_fn: DistanceFn | None = None, options: tuple[str, ...] = ()):
    """Decorator adding a metric function to :data:`METRICS` under ``name``;
    ``options``: the option names it accepts (others are config errors)."""

    def wrap(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricSpec(name, fn, kind, needs_data, (fn.__doc__ or "").strip().splitlines()[0],
                                   distance_fn, options)
        return fn

    return wrap


def get_metric(name: str) -> MetricSpec:
    """The spec of metric ``name``; the error lists the known names."""
    _load_all()
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name]


def metric_names() -> list[str]:
    """Names of every registered metric, sorted."""
    _load_all()
    return sorted(METRICS)


def _load_all() -> None:
    from fewshotnas.metrics import (  # noqa: F401
        gradientmatching,
        gradnorm,
        grasp,
        jacobcov,
        linear_regions,
        ntk,
        params,
        snip,
        synflow,
    )


def is_finite(score: Score) -> bool:
    """True when every value of the score is finite (a score that is not is *degenerate*)."""
    if isinstance(score, list):
        return all(bool(torch.isfinite(t).all()) for t in score)
    return bool(torch.isfinite(torch.as_tensor(score)).all())


def score_norm(score: Score) -> float:
    """Euclidean norm of a vector score (over all its parts)."""
    if isinstance(score, list):
        return float(torch.sqrt(sum(t.double().pow(2).sum() for t in score)))
    return float(torch.as_tensor(score, dtype=torch.float64).norm())


def distance(kind: str, a: "float | torch.Tensor", b: "float | torch.Tensor") -> float:
    """|a − b| for scalars; 1 − cos(a, b) for vectors (0 when either vector is zero)."""
    if kind == "scalar":
        return abs(float(a) - float(b))
    a_vec, b_vec = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    denom = a_vec.norm() * b_vec.norm()
    if denom == 0:
        return 1.0
    return float(1.0 - torch.dot(a_vec, b_vec) / denom)
