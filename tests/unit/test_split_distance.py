"""Split distance (Definition 1 of the zero-cost few-shot paper): axioms, values, tables."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest
from more_itertools import set_partitions

from fewshotnas.split import (
    SplitConfig,
    root_node,
    split_distance,
    split_distance_table,
    split_level,
    tree_splits,
    tree_to_frame,
)

OPS5 = ["none", "skip", "c1", "c3", "pool"]
ALL = [tuple(map(tuple, p)) for k in range(1, 6) for p in set_partitions(OPS5, k)]


def by_hand(a, b):
    """Count, for every ordered pair of distinct ops, whether exactly one partition groups them."""
    group_a = {o: i for i, g in enumerate(a) for o in g}
    group_b = {o: i for i, g in enumerate(b) for o in g}
    moved = sum((group_a[o] == group_a[i]) != (group_b[o] == group_b[i]) for o in OPS5 for i in OPS5 if i != o)
    return moved / (2 * len(OPS5) - 1)


def test_values():
    assert split_distance([["a", "b"], ["c"]], [["a", "b"], ["c"]]) == 0
    # moving c into {a, b}: a, b gain c and c gains a, b → 4 / (2·3 − 1)
    assert split_distance([["a", "b"], ["c"]], [["a", "b", "c"]]) == pytest.approx(4 / 5)
    rng = random.Random(0)
    for a, b in (rng.sample(ALL, 2) for _ in range(200)):
        assert split_distance(a, b) == pytest.approx(by_hand(a, b))


def test_distance_axioms():
    """Identity, symmetry and the triangle inequality over every partition of 5 ops."""
    for a in ALL:
        assert split_distance(a, a) == 0
    for a, b in itertools.combinations(ALL, 2):
        assert split_distance(a, b) > 0
        assert split_distance(a, b) == split_distance(b, a)
    rng = random.Random(1)
    for _ in range(3000):
        a, b, c = rng.sample(ALL, 3)
        assert split_distance(a, c) <= split_distance(a, b) + split_distance(b, c) + 1e-12


def test_needs_partitions_of_one_set():
    with pytest.raises(ValueError, match="same set"):
        split_distance([["a"], ["b"]], [["a", "c"]])
    with pytest.raises(ValueError, match="disjoint"):
        split_distance([["a", "b"], ["b"]], [["a", "b"]])


def grow(seed, depth=3):
    tree = tree_to_frame([root_node()])
    for level in range(1, depth + 1):
        tree = split_level(tree, level, "random", SplitConfig(depth=depth), seed).tree
    return tree


def test_tree_splits_and_table():
    trees = {("random", s): grow(s) for s in (0, 1, 2)}
    splits = tree_splits(trees[("random", 0)])
    assert list(splits.groupby("level").size()) == [1, 2, 4]  # 1 + 2 + 4 splits in a binary depth-3 tree
    table = split_distance_table(trees)
    assert set(table["setting"]) == {"internal", "external"}
    row = table[(table.seed == 0) & (table.setting == "internal") & (table.level == 0)].iloc[0]
    pairs = list(itertools.combinations(splits["split"], 2))
    assert row.pairs == 21
    assert row.distance == pytest.approx(sum(split_distance(a, b) for a, b in pairs) / 21)
    ext = table[(table.seed == 0) & (table.setting == "external") & (table.level == 2)].iloc[0]
    assert ext.pairs == 2 * 4  # 2 level-2 splits of seed 0 × (2 + 2) of seeds 1 and 2
    lvl1 = table[(table.setting == "internal") & (table.level == 1)]
    assert lvl1["distance"].isna().all() and (lvl1["pairs"] == 0).all()  # one split at level 1
    same = split_distance_table({("m", 0): trees[("random", 0)], ("m", 1): trees[("random", 0)]})
    assert (same[(same.setting == "external") & (same.level == 1)]["distance"] == 0).all()
    assert pd.api.types.is_string_dtype(table["method"])
