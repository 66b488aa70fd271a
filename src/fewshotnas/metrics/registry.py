"""The metric registry: one place that names every splitting metric.

A metric scores the supernet restricted to a mask (a candidate sub-supernet
with one op left on the target edge). ``kind`` says how two scores compare:
``scalar`` → |f(a) − f(b)|, ``vector`` → 1 − cos(f(a), f(b)).
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


MetricFn = Callable[[Network, OpMask, MetricContext], "float | torch.Tensor"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: MetricFn
    kind: Literal["scalar", "vector"]
    needs_data: bool
    doc: str


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, kind: Literal["scalar", "vector"] = "scalar", needs_data: bool = True):
    """Decorator adding a metric function to :data:`METRICS` under ``name``."""

    def wrap(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricSpec(name, fn, kind, needs_data, (fn.__doc__ or "").strip().splitlines()[0])
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
    from fewshotnas.metrics import gradientmatching, gradnorm, params, synflow  # noqa: F401


def distance(kind: str, a: "float | torch.Tensor", b: "float | torch.Tensor") -> float:
    """|a − b| for scalars; 1 − cos(a, b) for vectors (0 when either vector is zero)."""
    if kind == "scalar":
        return abs(float(a) - float(b))
    a_vec, b_vec = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    denom = a_vec.norm() * b_vec.norm()
    if denom == 0:
        return 1.0
    return float(1.0 - torch.dot(a_vec, b_vec) / denom)
