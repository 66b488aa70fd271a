"""How a splitting tree grows: the split part of the config, checked across fields.

Standard library only: the workflow imports this module while Snakemake parses the
Snakefile (to count leaves and check the config), in an environment that may hold nothing
but Snakemake. :class:`fewshotnas.split.SplitConfig` adds the checks that need the metric
registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

NUM_OPS = 5
"""Operations per edge in the NAS-Bench-201 space (``fewshotnas.space.OPS``; tested equal)."""
NUM_EDGES = 6
RANDOM = "random"
NOSPLIT = "nosplit"
POLICIES = ("constant", "exhaustive")
EDGE_CHOICES = ("fixed", "cutcost")
WEIGHTS = ("trained", "init")


@dataclass
class TreeShape:
    """How a tree grows. ``branching``: one int for every level or one per level (ignored by
    ``exhaustive``); ``edges``: edge split at level 1, 2, … (``fixed``) or the candidate edges
    (``cutcost``); ``balanced``: equal group sizes (±1); ``weights``: score the trained base
    supernet (``trained``) or fresh weights seeded by the split seed (``init``), one value for
    every method or a mapping ``{method: value, default: value}`` (:meth:`weights_for`;
    ``default`` is ``trained`` when left out); ``warmup_epochs``: training of each
    node before it splits (level ≥ 2); ``metric_batches``/``batch_size``: data the metrics see;
    ``metric_options``: per-metric options, keyed by metric name."""

    depth: int = 3
    branching: int | list[int] = 2
    edges: list[int] = field(default_factory=lambda: [0, 1, 2])
    balanced: bool = False
    policy: str = "constant"
    edge_choice: str = "fixed"
    weights: str | dict[str, str] = "trained"
    warmup_epochs: int = 0
    metric_batches: int = 1
    batch_size: int = 64
    metric_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        weights = self.weights if isinstance(self.weights, dict) else {"default": self.weights}
        checks = [("policy", self.policy, POLICIES), ("edge_choice", self.edge_choice, EDGE_CHOICES)]
        checks += [("weights" if isinstance(self.weights, str) else f"weights.{m}", w, WEIGHTS)
                   for m, w in weights.items()]
        for key, value, known in checks:
            if value not in known:
                raise ValueError(f"unknown split {key} {value!r}; known: {', '.join(known)}")
        if self.depth < 1:
            raise ValueError(f"split depth must be ≥ 1, got {self.depth}")
        if self.warmup_epochs < 0:
            raise ValueError(f"split.warmup_epochs must be ≥ 0, got {self.warmup_epochs}")
        if len(self.edges) < self.depth or len(set(self.edges)) != len(self.edges):
            raise ValueError(f"split.edges needs {self.depth} distinct edges for depth {self.depth}, got {self.edges}")
        if any(not 0 <= e < NUM_EDGES for e in self.edges):
            raise ValueError(f"split.edges must lie in 0..5, got {self.edges}")
        if self.policy == "constant":
            for level in range(1, self.depth + 1):
                b = self.branching_at(level)
                if not 2 <= b <= NUM_OPS:
                    raise ValueError(f"branching factor at level {level} must lie in 2..{NUM_OPS}, got {b}")
        for name, options in self.metric_options.items():
            if not isinstance(options, dict):
                raise ValueError(f"split.metric_options.{name} must be a mapping of option: value")

    def weights_for(self, method: str) -> str:
        """``trained`` or ``init``: the weights ``method``'s metric scores (its own entry of a
        ``weights`` mapping, else the mapping's ``default``, else ``trained``)."""
        if isinstance(self.weights, str):
            return self.weights
        return self.weights.get(method, self.weights.get("default", "trained"))

    def for_method(self, method: str) -> dict:
        """The fields of this shape as keyword arguments, ``weights`` resolved for ``method``
        (what one method's split jobs need: another method's entry never reruns them)."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "weights": self.weights_for(method)}

    def branching_at(self, level: int, num_ops: int = NUM_OPS) -> int:
        """Groups at level ``level`` (1-based) for a node with ``num_ops`` allowed ops."""
        if self.policy == "exhaustive":
            return num_ops
        if isinstance(self.branching, int):
            return self.branching
        if len(self.branching) < self.depth:
            raise ValueError(f"split.branching lists {len(self.branching)} levels, depth is {self.depth}")
        return int(self.branching[level - 1])

    def edge_at(self, level: int) -> int:
        """The edge of level ``level`` under ``fixed`` edge choice."""
        return int(self.edges[level - 1])

    def num_leaves(self) -> int:
        """Leaves of a tree grown from the whole space (every edge starts with all ops)."""
        return math.prod(self.branching_at(level) for level in range(1, self.depth + 1))
