"""Splitting policy: which edge each node splits on and into how many groups,
and the split of one level of the tree.

Policies (``SplitConfig.policy``): ``constant`` (Algorithm 1 of the zero-cost
few-shot paper: every node of level l−1 splits into ``branching[l−1]``
groups) and ``exhaustive`` (Few-Shot NAS: one group per allowed op). Edge
choice (``edge_choice``): ``fixed`` (the l-th edge of ``edges`` at level l) or
``cutcost`` (GM-NAS: per node, among the ``edges`` not yet split on its path,
the one whose best partition has the largest between-group distance). The
method ``random`` draws groups (and, with ``cutcost``, the edge) at random from
a seed and scores nothing: it is the ``random`` policy of DESIGN.md §4.

Degenerate scores (NaN or ±inf) follow :func:`distance_matrix`.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.metrics import MetricContext, get_metric
from fewshotnas.metrics.registry import MetricSpec, Score, is_finite, score_norm
from fewshotnas.space import OPS
from fewshotnas.space.supernet import Network
from fewshotnas.split.mincut import Cut, canonical_partitions, min_cut
from fewshotnas.split.tree import TreeNode, tree_from_frame, tree_to_frame
from fewshotnas.split.warmup import StateDict, warm_up

log = logging.getLogger("fewshotnas")

RANDOM = "random"
NOSPLIT = "nosplit"
POLICIES = ("constant", "exhaustive")
EDGE_CHOICES = ("fixed", "cutcost")
WEIGHTS = ("trained", "init")


@dataclass
class SplitConfig:
    """How a tree grows. ``branching``: one int for every level or one per level (ignored by
    ``exhaustive``); ``edges``: edge split at level 1, 2, … (``fixed``) or the candidate edges
    (``cutcost``); ``balanced``: equal group sizes (±1); ``weights``: score the trained base
    supernet or fresh weights (seeded by the split seed); ``warmup_epochs``: training of each
    node before it splits (level ≥ 2); ``metric_batches``/``batch_size``: data the metrics see;
    ``metric_options``: per-metric options, keyed by metric name."""

    depth: int = 3
    branching: int | list[int] = 2
    edges: list[int] = field(default_factory=lambda: [0, 1, 2])
    balanced: bool = False
    policy: str = "constant"
    edge_choice: str = "fixed"
    weights: str = "trained"
    warmup_epochs: int = 0
    metric_batches: int = 1
    batch_size: int = 64
    metric_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value, known in (("policy", self.policy, POLICIES), ("edge_choice", self.edge_choice, EDGE_CHOICES),
                                  ("weights", self.weights, WEIGHTS)):
            if value not in known:
                raise ValueError(f"unknown split {key} {value!r}; known: {', '.join(known)}")
        if self.depth < 1:
            raise ValueError(f"split depth must be ≥ 1, got {self.depth}")
        if self.warmup_epochs < 0:
            raise ValueError(f"split.warmup_epochs must be ≥ 0, got {self.warmup_epochs}")
        if len(self.edges) < self.depth or len(set(self.edges)) != len(self.edges):
            raise ValueError(f"split.edges needs {self.depth} distinct edges for depth {self.depth}, got {self.edges}")
        if any(not 0 <= e < 6 for e in self.edges):
            raise ValueError(f"split.edges must lie in 0..5, got {self.edges}")
        if self.policy == "constant":
            for level in range(1, self.depth + 1):
                b = self.branching_at(level)
                if not 2 <= b <= len(OPS):
                    raise ValueError(f"branching factor at level {level} must lie in 2..{len(OPS)}, got {b}")
        for name, options in self.metric_options.items():
            if not isinstance(options, dict):
                raise ValueError(f"split.metric_options.{name} must be a mapping of option: value")
            get_metric(name).check_options(options)

    def branching_at(self, level: int, num_ops: int = len(OPS)) -> int:
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
        return int(np.prod([self.branching_at(level) for level in range(1, self.depth + 1)]))


class LevelSplit(NamedTuple):
    """What :func:`split_level` returns: the tree down to the level, the scores table of the
    level, and the warmed-up weights of the nodes it split (empty without warm-up)."""

    tree: pd.DataFrame
    scores: pd.DataFrame
    warm_states: dict[str, StateDict]


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


def distance_matrix(spec: MetricSpec, scores: list[Score], options: dict) -> np.ndarray:
    """Symmetric n×n distances between the scores of n candidates.

    Degenerate scores (any NaN or ±inf) are at distance 0 from each other and at twice the
    largest finite distance (1 when there is none or it is 0) from every finite score, so the
    min-cut puts degenerate candidates together and apart from the others."""
    n = len(scores)
    finite = [is_finite(s) for s in scores]
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if finite[i] and finite[j]:
                dist[i, j] = dist[j, i] = spec.distance(scores[i], scores[j], options)
    if not all(finite):
        worst = float(np.nanmax(dist)) if n else 0.0
        far = 2.0 * worst if math.isfinite(worst) and worst > 0 else 1.0
        for i in range(n):
            for j in range(n):
                if i != j and finite[i] != finite[j]:
                    dist[i, j] = far
    return dist


def score_edge(net: Network, node: TreeNode, edge: int, spec: MetricSpec, ctx: MetricContext
               ) -> tuple[list[Score], np.ndarray]:
    """Score the node's candidates on ``edge`` (one allowed op left there, in op order).

    Returns the per-op scores and their distance matrix. Metrics run in train mode; the
    network's BN buffers are restored after every candidate, so each sees the same weights."""
    saved = {name: buf.clone() for name, buf in net.named_buffers()}
    scores = []
    for o in node.mask.ops_on(edge):
        scores.append(spec.fn(net, node.mask.restrict(edge, [o]), replace(ctx, edge=edge)))
        with torch.no_grad():
            for name, buf in net.named_buffers():
                buf.copy_(saved[name])
    bad = [OPS[o] for o, s in zip(node.mask.ops_on(edge), scores) if not is_finite(s)]
    if bad:
        log.warning("node %s edge %d: %s gives a non-finite score for %s; grouped as degenerate",
                    node.node, edge, spec.name, bad)
    dist = distance_matrix(spec, scores, ctx.options)
    if len(scores) > 1 and not dist.any():
        log.warning("node %s edge %d: %s scores every candidate the same; the partition is the first in canonical "
                    "order (a tie), not a finding", node.node, edge, spec.name)
    return scores, dist


def path_edges(node: TreeNode, by_id: dict[str, TreeNode]) -> set[int]:
    """Edges already split on the path from the root to ``node``."""
    edges = set()
    while node.split_edge >= 0:
        edges.add(node.split_edge)
        node = by_id[node.parent]
    return edges


def split_level(
    parent_tree: pd.DataFrame,
    level: int,
    method: str,
    config: SplitConfig,
    seed: int,
    net: Network | None = None,
    data: PreparedData | None = None,
    device: torch.device | str = "cpu",
    inherited: dict[str, StateDict] | None = None,
    warmup_train: dict | None = None,
) -> LevelSplit:
    """Split every node of level ``level − 1`` of ``parent_tree``.

    ``method``: a metric name or ``random``. Metrics need ``net`` (whose weights are scored:
    the base supernet or fresh weights) and ``data``. With ``config.warmup_epochs`` > 0 and
    ``level`` ≥ 2, each node first trains from its parent's warmed-up weights (``inherited``,
    keyed by node id; the parent is the root: ``net``'s weights) with ``warmup_train``'s SGD
    settings; the result's ``warm_states`` hold these weights for the next level.
    """
    nodes = tree_from_frame(parent_tree)
    by_id = {n.node: n for n in nodes}
    if max(n.level for n in nodes) != level - 1:
        raise ValueError(f"parent tree ends at level {max(n.level for n in nodes)}, expected {level - 1}")
    device = torch.device(device)
    spec = ctx = None
    base_state: StateDict | None = None
    warm = config.warmup_epochs > 0 and level >= 2 and method != RANDOM
    if method != RANDOM:
        if net is None or data is None:
            raise ValueError(f"metric {method!r} needs a supernet and data")
        spec = get_metric(method)  # clear error before any work
        batches = metric_batches(data, config.metric_batches, config.batch_size, seed * 1000 + level, device)
        ctx = MetricContext(batches, -1, device, config.metric_options.get(method, {}))
        net.train()
        if warm:
            base_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    score_rows: list[dict] = []
    new_nodes = list(nodes)
    warm_states: dict[str, StateDict] = {}
    for node in sorted((n for n in nodes if n.level == level - 1), key=lambda n: n.node):
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, level, zlib.crc32(node.node.encode())])
        done = path_edges(node, by_id)
        candidates = [config.edge_at(level)] if config.edge_choice == "fixed" else [e for e in config.edges
                                                                                    if e not in done]
        if config.edge_choice == "fixed" and candidates[0] in done:
            raise ValueError(f"edge {candidates[0]} is split twice on the path to node {node.node}")
        if warm:
            assert net is not None and data is not None and base_state is not None
            net.load_state_dict(inherited[node.parent] if inherited and node.parent in inherited else base_state)
            warm_states[node.node] = warm_up(net, node.mask, data, config.warmup_epochs, warmup_train or {},
                                             seed * 7919 + zlib.crc32(node.node.encode()), device)
            net.train()
        options: dict[int, tuple[Cut, np.ndarray | None, list]] = {}
        for edge in candidates:
            ops = node.mask.ops_on(edge)
            groups = config.branching_at(level, len(ops))
            if len(ops) < groups:
                raise ValueError(f"node {node.node} has {len(ops)} ops on edge {edge}, cannot split into {groups}")
            if spec is None:
                options[edge] = (random_cut(len(ops), groups, config.balanced, rng), None, [])
            else:
                assert ctx is not None and net is not None
                scores, dist = score_edge(net, node, edge, spec, ctx)
                options[edge] = (min_cut(dist, groups, config.balanced), dist, scores)
        if spec is None:
            chosen = candidates[int(rng.integers(len(candidates)))]
        else:  # largest cut value; ties: the first candidate (max keeps the first)
            chosen = max(candidates, key=lambda e: options[e][0].cut_value)
        cut = options[chosen][0]
        ops = node.mask.ops_on(chosen)
        log.info("level %d node %s edge %d (%s): groups %s, %.2fs", level, node.node, chosen, method,
                 [[OPS[ops[i]] for i in g] for g in cut.groups], time.perf_counter() - t0)
        for k, group in enumerate(cut.groups):
            group_ops = tuple(ops[i] for i in group)
            new_nodes.append(TreeNode(f"{node.node}.{k}", level, node.node, chosen, group_ops,
                                      node.mask.restrict(chosen, group_ops), cut.cut_value))
        for edge in candidates:
            score_rows += _score_rows(node.node, level, edge, edge == chosen, node.mask.ops_on(edge), *options[edge],
                                      "none" if spec is None else spec.kind)
    if base_state is not None and net is not None:
        net.load_state_dict(base_state)  # the caller's network comes back as it was given
    return LevelSplit(tree_to_frame(new_nodes), _scores_frame(score_rows), warm_states)


SCORE_COLUMNS = {"node": "string", "level": "int64", "edge": "int64", "chosen": "bool", "op": "string",
                 "kind": "string", "score": "float64", "score_norm": "float64", "finite": "bool", "group": "int64",
                 "cut_value": "float64", **{f"dist_{o}": "float64" for o in OPS}}


def _score_rows(node: str, level: int, edge: int, chosen: bool, ops: tuple[int, ...], cut: Cut,
                dist: np.ndarray | None, scores: list, kind: str) -> list[dict]:
    rows = []
    for i, o in enumerate(ops):
        score = scores[i] if scores else None
        row = dict(node=node, level=level, edge=edge, chosen=chosen, op=OPS[o], kind=kind,
                   score=float(score) if kind == "scalar" else np.nan,
                   score_norm=score_norm(score) if kind == "vector" else np.nan,
                   finite=is_finite(score) if score is not None else True,
                   group=next(k for k, g in enumerate(cut.groups) if i in g), cut_value=cut.cut_value)
        for other in range(len(OPS)):
            row[f"dist_{OPS[other]}"] = float(dist[i, ops.index(other)]) if dist is not None and other in ops else np.nan
        rows.append(row)
    return rows


def _scores_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS)).astype(SCORE_COLUMNS)
