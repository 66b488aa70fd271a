"""Splitting policy: which edge each level splits and into how many groups,
and the split of one level of the tree.

The ``constant`` policy (Algorithm 1 of the zero-cost few-shot paper): every
node of level l−1 splits on the l-th edge of ``edges`` into ``branching[l−1]``
groups. ``random`` groups ops at random (seeded), with no metric.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.metrics import MetricContext, distance, get_metric
from fewshotnas.space import OPS
from fewshotnas.space.supernet import Network
from fewshotnas.split.mincut import Cut, canonical_partitions, min_cut
from fewshotnas.split.tree import TreeNode, tree_from_frame, tree_to_frame

log = logging.getLogger("fewshotnas")

RANDOM = "random"
NOSPLIT = "nosplit"


@dataclass
class SplitConfig:
    """How a tree grows. ``branching``: one int for every level or one per level;
    ``edges``: edge split at level 1, 2, …; ``balanced``: equal group sizes (±1);
    ``metric_batches``/``batch_size``: data the metrics see; ``metric_options``: per-metric options."""

    depth: int = 3
    branching: int | list[int] = 2
    edges: list[int] = field(default_factory=lambda: [0, 1, 2])
    balanced: bool = False
    policy: str = "constant"
    metric_batches: int = 1
    batch_size: int = 64
    metric_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.policy != "constant":
            raise ValueError(f"unknown split policy {self.policy!r}; known: constant")
        if self.depth < 1:
            raise ValueError(f"split depth must be ≥ 1, got {self.depth}")
        if len(self.edges) < self.depth or len(set(self.edges[: self.depth])) != self.depth:
            raise ValueError(f"split.edges needs {self.depth} distinct edges for depth {self.depth}, got {self.edges}")
        if any(not 0 <= e < 6 for e in self.edges):
            raise ValueError(f"split.edges must lie in 0..5, got {self.edges}")
        for level in range(1, self.depth + 1):
            b = self.branching_at(level)
            if not 2 <= b <= len(OPS):
                raise ValueError(f"branching factor at level {level} must lie in 2..{len(OPS)}, got {b}")

    def branching_at(self, level: int) -> int:
        """Branching factor of level ``level`` (1-based)."""
        if isinstance(self.branching, int):
            return self.branching
        if len(self.branching) < self.depth:
            raise ValueError(f"split.branching lists {len(self.branching)} levels, depth is {self.depth}")
        return int(self.branching[level - 1])

    def edge_at(self, level: int) -> int:
        return int(self.edges[level - 1])

    def num_leaves(self) -> int:
        return int(np.prod([self.branching_at(level) for level in range(1, self.depth + 1)]))


def random_cut(num_ops: int, groups: int, balanced: bool, rng: np.random.Generator) -> Cut:
    """A uniformly random partition among the allowed ones (seeded)."""
    parts = canonical_partitions(num_ops, groups, balanced)
    return Cut(parts[int(rng.integers(len(parts)))], float("nan"), float("nan"))


def metric_batches(data: PreparedData, count: int, batch_size: int, seed: int, device: torch.device) -> list:
    """``count`` seeded batches from the weight half of the training set."""
    gen = torch.Generator().manual_seed(seed)
    stream = BatchStream(data.weight, batch_size, data.mean, data.std, device=device, generator=gen)
    batches = []
    for batch in stream:
        batches.append(batch)
        if len(batches) == count:
            break
    return batches


def score_node(
    net: Network, node: TreeNode, edge: int, method: str, ctx: MetricContext
) -> tuple[dict[int, "float | torch.Tensor"], np.ndarray, str]:
    """Score the node's candidate sub-supernets (one op left on ``edge``).

    Returns per-op scores, the op×op distance matrix over the allowed ops, and the metric kind.
    """
    spec = get_metric(method)
    ops = node.mask.ops_on(edge)
    # metrics run in train mode; keep the supernet's BN statistics as trained for every candidate
    saved = {name: buf.clone() for name, buf in net.named_buffers()}
    scores = {}
    for o in ops:
        scores[o] = spec.fn(net, node.mask.restrict(edge, [o]), ctx)
        with torch.no_grad():
            for name, buf in net.named_buffers():
                buf.copy_(saved[name])
    dist = np.zeros((len(ops), len(ops)))
    for i, a in enumerate(ops):
        for j in range(i + 1, len(ops)):
            dist[i, j] = dist[j, i] = distance(spec.kind, scores[a], scores[ops[j]])
    return scores, dist, spec.kind


def split_level(
    parent_tree: pd.DataFrame,
    level: int,
    method: str,
    config: SplitConfig,
    seed: int,
    net: Network | None = None,
    data: PreparedData | None = None,
    device: torch.device | str = "cpu",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split every node of level ``level − 1`` of ``parent_tree``.

    ``method``: a metric name or ``random``. Metrics need ``net`` (the supernet whose
    weights are scored) and ``data``. Returns (tree down to ``level``, scores of this level).
    """
    nodes = tree_from_frame(parent_tree)
    if max(n.level for n in nodes) != level - 1:
        raise ValueError(f"parent tree ends at level {max(n.level for n in nodes)}, expected {level - 1}")
    edge, groups = config.edge_at(level), config.branching_at(level)
    device = torch.device(device)
    ctx = None
    if method != RANDOM:
        if net is None or data is None:
            raise ValueError(f"metric {method!r} needs a supernet and data")
        get_metric(method)  # clear error before any work
        batches = metric_batches(data, config.metric_batches, config.batch_size, seed * 1000 + level, device)
        ctx = MetricContext(batches, edge, device, config.metric_options.get(method, {}))
        net.train()
    score_rows: list[dict] = []
    new_nodes = list(nodes)
    for node in sorted((n for n in nodes if n.level == level - 1), key=lambda n: n.node):
        ops = node.mask.ops_on(edge)
        t0 = time.perf_counter()
        if method == RANDOM:
            rng = np.random.default_rng([seed, level, zlib.crc32(node.node.encode())])
            cut, dist, scores, kind = random_cut(len(ops), groups, config.balanced, rng), None, {}, "none"
        else:
            assert ctx is not None and net is not None
            scores, dist, kind = score_node(net, node, edge, method, ctx)
            cut = min_cut(dist, groups, config.balanced)
        log.info("level %d node %s edge %d (%s): groups %s, %.2fs", level, node.node, edge, method,
                 [[OPS[ops[i]] for i in g] for g in cut.groups], time.perf_counter() - t0)
        for k, group in enumerate(cut.groups):
            group_ops = tuple(ops[i] for i in group)
            new_nodes.append(TreeNode(f"{node.node}.{k}", level, node.node, edge, group_ops,
                                      node.mask.restrict(edge, group_ops), cut.cut_value))
        for i, o in enumerate(ops):
            score = scores.get(o)
            row = dict(node=node.node, level=level, edge=edge, op=OPS[o], kind=kind,
                       score=float(score) if kind == "scalar" else np.nan,
                       score_norm=float(torch.as_tensor(score).norm()) if kind == "vector" else np.nan,
                       group=next(k for k, g in enumerate(cut.groups) if i in g))
            for other in OPS:
                row[f"dist_{other}"] = float(dist[i, ops.index(OPS.index(other))]) if (
                    dist is not None and OPS.index(other) in ops) else np.nan
            score_rows.append(row)
    scores_df = pd.DataFrame(score_rows).astype(
        {"node": "string", "level": "int64", "edge": "int64", "op": "string", "kind": "string", "score": "float64",
         "score_norm": "float64", "group": "int64", **{f"dist_{o}": "float64" for o in OPS}})
    return tree_to_frame(new_nodes), scores_df
