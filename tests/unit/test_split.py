"""Splitting levels, trees and the policy config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fewshotnas.data import prepare_data
from fewshotnas.space import NUM_ARCHS, OpMask, build_network
from fewshotnas.split import SplitConfig, leaf_masks, root_node, split_level, tree_from_frame, tree_to_frame


def grow(method, cfg, seed=0, net=None, data=None):
    tree = tree_to_frame([root_node()])
    all_scores = []
    for level in range(1, cfg.depth + 1):
        tree, scores = split_level(tree, level, method, cfg, seed, net=net, data=data)
        all_scores.append(scores)
    return tree, all_scores


def test_random_tree_partitions_the_space(nb201):
    cfg = SplitConfig(depth=3, branching=[2, 3, 2], edges=[0, 1, 2])
    tree, _ = grow("random", cfg, seed=5)
    masks = leaf_masks(tree)
    assert len(masks) == cfg.num_leaves() == 12
    assert sum(m.num_archs for m in masks) == NUM_ARCHS
    membership = np.stack([nb201.in_mask(m) for m in masks])
    assert np.all(membership.sum(axis=0) == 1)
    assert (membership.sum(axis=1) == [m.num_archs for m in masks]).all()


def test_same_seed_same_tree():
    cfg = SplitConfig(depth=2, branching=2)
    a, _ = grow("random", cfg, seed=1)
    b, _ = grow("random", cfg, seed=1)
    pd.testing.assert_frame_equal(a, b)
    trees = {tuple(grow("random", cfg, seed=s)[0]["mask"]) for s in range(6)}
    assert len(trees) > 1


def test_tree_frame_round_trip():
    cfg = SplitConfig(depth=2, branching=2)
    tree, _ = grow("random", cfg)
    pd.testing.assert_frame_equal(tree_to_frame(tree_from_frame(tree)), tree)
    assert tree["leaf"].max() == 3 and (tree["level"] == 2).sum() == 4


def test_metric_split_scores_and_tree(fmnist_root):
    data = prepare_data("fashion_mnist", fmnist_root, subset=80, test_subset=10, image_size=8)
    net = build_network(None, channels=2, cells_per_stage=1, num_classes=10, in_channels=1)
    cfg = SplitConfig(depth=2, branching=2, metric_batches=1, batch_size=16)
    tree, scores = grow("synflow", cfg, net=net, data=data)
    level1 = scores[0]
    assert len(level1) == 5 and set(level1["group"]) == {0, 1}
    dist = level1[[c for c in level1.columns if c.startswith("dist_")]].to_numpy()
    np.testing.assert_allclose(dist, dist.T)
    np.testing.assert_allclose(dist, np.abs(level1["score"].to_numpy()[:, None] - level1["score"].to_numpy()[None]))
    assert len(scores[1]) == sum(len(OpMask.from_bits(m).ops_on(1)) for m in tree[tree.level == 1]["mask"])
    # the chosen cut separates the metric's extremes
    lo, hi = level1["score"].idxmin(), level1["score"].idxmax()
    assert level1["group"][lo] != level1["group"][hi]


@pytest.mark.parametrize("bad", [dict(depth=4, edges=[0, 1, 2]), dict(branching=6), dict(edges=[0, 0, 1]),
                                 dict(policy="greedy"), dict(depth=2, branching=[2])])
def test_bad_split_config(bad):
    with pytest.raises(ValueError):
        SplitConfig(**bad).num_leaves()


def test_metric_needs_supernet():
    with pytest.raises(ValueError, match="needs a supernet"):
        split_level(tree_to_frame([root_node()]), 1, "synflow", SplitConfig(depth=1), 0)
    with pytest.raises(ValueError, match="unknown metric"):
        split_level(tree_to_frame([root_node()]), 1, "bogus", SplitConfig(depth=1), 0,
                    net=build_network(None, channels=2, cells_per_stage=1), data=object())
