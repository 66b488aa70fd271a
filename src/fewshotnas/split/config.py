"""How a splitting tree grows: :class:`TreeShape` (standard library only, used by the
workflow while it is parsed) plus the checks that need the metric registry."""

from __future__ import annotations

from dataclasses import dataclass

from fewshotnas.metrics import get_metric
from fewshotnas.treeshape import EDGE_CHOICES, NOSPLIT, POLICIES, RANDOM, WEIGHTS, TreeShape

__all__ = ["EDGE_CHOICES", "NOSPLIT", "POLICIES", "RANDOM", "WEIGHTS", "SplitConfig"]


@dataclass
class SplitConfig(TreeShape):
    """:class:`TreeShape`, and every ``metric_options`` entry names a registered metric and
    only options that metric knows."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, options in self.metric_options.items():
            get_metric(name).check_options(options)
