"""Split distance (Definition 1 of the zero-cost few-shot paper).

For two partitions A, B of the same op set O, with G_X(o) the other ops in o's group:

    S(A, B) = 1 / (2·|O| − 1) · Σ_o (|G_A(o) \\ G_B(o)| + |G_B(o) \\ G_A(o)|)

A *split* is the partition one node of a tree made of the ops allowed on its
edge. Internal distance: mean over pairs of splits in one tree; external: mean
over pairs of splits from trees grown with different seeds; both overall and per
depth level (pairs of splits of the same level).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

Split = tuple[frozenset[str], ...]


def split_distance(a: Iterable[Iterable[str]], b: Iterable[Iterable[str]]) -> float:
    """S(a, b) for two partitions of the same set (groups of hashable items). ≥ 0, symmetric,
    0 iff equal, triangle inequality (a scaled sum of symmetric differences)."""
    groups_a, groups_b = [frozenset(g) for g in a], [frozenset(g) for g in b]
    items = frozenset().union(*groups_a)
    if items != frozenset().union(*groups_b):
        raise ValueError(f"split distance needs partitions of the same set, got {sorted(items)} and "
                         f"{sorted(frozenset().union(*groups_b))}")
    if sum(map(len, groups_a)) != len(items) or sum(map(len, groups_b)) != len(items):
        raise ValueError("split distance needs partitions: groups must be disjoint")
    mates_a = {o: g - {o} for g in groups_a for o in g}
    mates_b = {o: g - {o} for g in groups_b for o in g}
    moved = sum(len(mates_a[o] - mates_b[o]) + len(mates_b[o] - mates_a[o]) for o in items)
    return moved / (2 * len(items) - 1)


def tree_splits(tree: pd.DataFrame) -> pd.DataFrame:
    """One row per split of a tree table: ``node`` (the node that split), ``level`` (1-based
    level of its children), ``edge`` and ``split`` (tuple of frozensets of op names)."""
    children = tree[tree["level"] > 0]
    rows = []
    for (parent, level, edge), group in children.groupby(["parent", "level", "split_edge"], sort=True):
        split = tuple(sorted((frozenset(str(s).split(",")) for s in group["split_ops"]), key=sorted))
        rows.append(dict(node=parent, level=int(level), edge=int(edge), split=split))
    return pd.DataFrame(rows, columns=["node", "level", "edge", "split"])


def _mean_pairs(pairs: Sequence[tuple[Split, Split]]) -> tuple[float, int]:
    values = [split_distance(a, b) for a, b in pairs]
    return (float(np.mean(values)) if values else float("nan")), len(values)


def split_distance_table(trees: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """Internal and external split distances of trees keyed by (method, seed).

    One row per (method, setting, level, seed): ``level`` 0 means all levels together;
    ``internal``: pairs within the seed's tree; ``external``: pairs between a split of the
    seed's tree and a split of another seed's tree of the same method. ``distance``: the
    mean, ``pairs``: how many pairs (NaN distance when there are none)."""
    splits = {key: tree_splits(t) for key, t in trees.items()}
    rows = []
    for (method, seed), own in splits.items():
        others = pd.concat([s for (m, sd), s in splits.items() if m == method and sd != seed] or
                           [own.iloc[:0]])
        levels = [0] + sorted(own["level"].unique().tolist())
        for level in levels:
            mine = own if level == 0 else own[own["level"] == level]
            theirs = others if level == 0 else others[others["level"] == level]
            internal = list(itertools.combinations(mine["split"], 2))
            external = list(itertools.product(mine["split"], theirs["split"]))
            for setting, pairs in (("internal", internal), ("external", external)):
                mean, count = _mean_pairs(pairs)
                rows.append(dict(method=method, seed=int(seed), setting=setting, level=int(level), distance=mean,
                                 pairs=count))
    return pd.DataFrame(rows, columns=["method", "seed", "setting", "level", "distance", "pairs"]).astype(
        {"method": "string", "seed": "int64", "setting": "string", "level": "int64", "distance": "float64",
         "pairs": "int64"})
