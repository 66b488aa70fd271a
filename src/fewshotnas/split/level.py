"""The split of one level of the tree: score every node's candidates, min-cut, grow the tree.

Per node and edge, each allowed op is left alone in turn (a *candidate*), the
metric scores every candidate, the metric's similarity of every pair forms a
matrix, and the partition with the least similarity across groups is the split
(:func:`fewshotnas.split.mincut.min_cut`). With ``edge_choice: cutcost`` the
node splits the candidate edge whose best partition has the least cross-group
similarity (GM-NAS). The method ``random`` draws groups (and, with
``cutcost``, the edge) at random from a seed and scores nothing: it is the
``random`` policy of the design. Degenerate scores (NaN or ±inf) follow
:func:`fewshotnas.metrics.similarity_matrix`.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.metrics import MetricContext, MetricSpec, get_metric, similarity_matrix
from fewshotnas.metrics.registry import Score, is_finite
from fewshotnas.space import OPS
from fewshotnas.space.supernet import Network
from fewshotnas.split.config import RANDOM, SplitConfig
from fewshotnas.split.mincut import Cut, canonical_partitions, min_cut
from fewshotnas.split.scores import edge_score_rows, scores_frame
from fewshotnas.split.tree import TreeNode, tree_from_frame, tree_to_frame
from fewshotnas.split.warmup import StateDict, warm_up
from fewshotnas.train.loop import load_supernet, new_network

log = logging.getLogger("fewshotnas")


class LevelSplit(NamedTuple):
    """What :func:`split_level` returns: the tree down to the level, the scores table of the
    level, and the warmed-up weights of the nodes it split (empty without warm-up)."""

    tree: pd.DataFrame
    scores: pd.DataFrame
    warm_states: dict[str, StateDict]


def scoring_network(config: SplitConfig, seed: int, data: PreparedData, network: dict,
                    supernet_path: str | Path | None, device: torch.device | str, method: str = "") -> Network:
    """The supernet whose weights ``method``'s metric scores (:meth:`SplitConfig.weights_for`):
    with ``trained`` the base supernet at ``supernet_path``; with ``init`` fresh weights drawn
    from ``seed`` (the split seed: the same weights at every level of one tree, other weights
    for another seed), leaving torch's global random state as it was."""
    if config.weights_for(method) == "trained":
        if supernet_path is None:
            raise ValueError("split.weights: trained scores the base supernet; no supernet checkpoint was given")
        return load_supernet(supernet_path, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return new_network(data, network).to(device)


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


def score_edge(net: Network, node: TreeNode, edge: int, spec: MetricSpec, ctx: MetricContext
               ) -> tuple[list[Score], np.ndarray]:
    """Score the node's candidates on ``edge`` (one allowed op left there, in op order).

    Returns the per-op scores and their similarity matrix. Metrics run in train mode; the
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
    sim = similarity_matrix(spec, scores, ctx.options)
    off_diagonal = sim[~np.eye(len(scores), dtype=bool)]
    if len(scores) > 1 and np.all(off_diagonal == off_diagonal[0]):
        log.warning("node %s edge %d: %s finds every pair of candidates equally similar; the partition is the first "
                    "in canonical order (a tie), not a finding", node.node, edge, spec.name)
    return scores, sim


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
    :func:`scoring_network`) and ``data``. With ``config.warmup_epochs`` > 0 and
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
        batch_seed = seed * 1000 + level
        batches = metric_batches(data, config.metric_batches, config.batch_size, batch_seed, device)
        ctx = MetricContext(batches, -1, device, config.metric_options.get(method, {}), seed=batch_seed)
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
                scores, sim = score_edge(net, node, edge, spec, ctx)
                options[edge] = (min_cut(sim, groups, config.balanced), sim, scores)
        if spec is None:
            chosen = candidates[int(rng.integers(len(candidates)))]
        else:  # least cross-group similarity; ties: the first candidate (min keeps the first)
            chosen = min(candidates, key=lambda e: options[e][0].cut_value)
        cut = options[chosen][0]
        ops = node.mask.ops_on(chosen)
        log.info("level %d node %s edge %d (%s): groups %s, cut similarity %.4g, %.2fs", level, node.node, chosen,
                 method, [[OPS[ops[i]] for i in g] for g in cut.groups], cut.cut_value, time.perf_counter() - t0)
        for k, group in enumerate(cut.groups):
            group_ops = tuple(ops[i] for i in group)
            new_nodes.append(TreeNode(f"{node.node}.{k}", level, node.node, chosen, group_ops,
                                      node.mask.restrict(chosen, group_ops), cut.cut_value))
        for edge in candidates:
            score_rows += edge_score_rows(node.node, level, edge, edge == chosen, node.mask.ops_on(edge),
                                          *options[edge], "none" if spec is None else spec.kind)
    if base_state is not None and net is not None:
        net.load_state_dict(base_state)  # the caller's network comes back as it was given
    return LevelSplit(tree_to_frame(new_nodes), scores_frame(score_rows), warm_states)
