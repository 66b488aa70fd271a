"""Splitting levels, trees and the policy config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fewshotnas.data import prepare_data
from fewshotnas.space import NUM_ARCHS, OpMask, build_network
from fewshotnas.split import (
    SplitConfig,
    leaf_masks,
    root_node,
    scoring_network,
    split_level,
    tree_from_frame,
    tree_to_frame,
)


def grow(method, cfg, seed=0, net=None, data=None):
    tree = tree_to_frame([root_node()])
    all_scores = []
    for level in range(1, cfg.depth + 1):
        tree, scores, _ = split_level(tree, level, method, cfg, seed, net=net, data=data)
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
    sim = level1[[c for c in level1.columns if c.startswith("sim_")]].to_numpy()
    np.testing.assert_allclose(sim, sim.T)
    assert np.isnan(np.diag(sim)).all()  # a candidate is no pair with itself
    off = ~np.eye(5, dtype=bool)
    values = level1["score"].to_numpy()
    np.testing.assert_allclose(sim[off], -np.abs(values[:, None] - values[None])[off])
    groups = level1["group"].to_numpy()
    cross = sum(sim[i, j] for i in range(5) for j in range(i + 1, 5) if groups[i] != groups[j])
    assert level1["cut_value"].iloc[0] == pytest.approx(cross)
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


@pytest.fixture(scope="module")
def small(fmnist_root):
    data = prepare_data("fashion_mnist", fmnist_root, subset=80, test_subset=10, image_size=8)
    torch.manual_seed(0)
    net = build_network(None, channels=2, cells_per_stage=1, num_classes=10, in_channels=1)
    return net, data


def test_cutcost_picks_the_edge_with_the_least_cross_similarity(small):
    net, data = small
    cfg = SplitConfig(depth=2, branching=2, edges=[0, 1, 2, 3], edge_choice="cutcost", metric_batches=1,
                      batch_size=16)
    tree, scores = grow("synflow", cfg, net=net, data=data)
    level1 = scores[0]
    assert set(level1["edge"]) == {0, 1, 2, 3}  # every candidate edge is scored
    cuts = level1.groupby("edge")["cut_value"].first()
    chosen = level1.loc[level1["chosen"], "edge"].unique()
    assert list(chosen) == [int(cuts.idxmin())]
    children = tree[tree.level == 1]
    assert set(children["split_edge"]) == {int(cuts.idxmin())}
    # level 2 never re-splits the level-1 edge on the same path
    for node, group in scores[1].groupby("node"):
        parent_edge = int(children.loc[children.node == node, "split_edge"].iloc[0])
        assert parent_edge not in set(group["edge"])


def test_exhaustive_policy_gives_one_group_per_op(nb201):
    cfg = SplitConfig(depth=2, policy="exhaustive", edges=[1, 4])
    tree, _ = grow("random", cfg)
    masks = leaf_masks(tree)
    assert len(masks) == cfg.num_leaves() == 25
    assert all(len(m.ops_on(1)) == 1 and len(m.ops_on(4)) == 1 for m in masks)
    assert sum(m.num_archs for m in masks) == NUM_ARCHS


def test_random_method_with_cutcost_draws_edges_from_the_seed():
    cfg = SplitConfig(depth=2, branching=2, edges=[0, 1, 2, 3, 4, 5], edge_choice="cutcost")
    a, _ = grow("random", cfg, seed=3)
    b, _ = grow("random", cfg, seed=3)
    pd.testing.assert_frame_equal(a, b)
    edges = {tuple(grow("random", cfg, seed=s)[0]["split_edge"]) for s in range(5)}
    assert len(edges) > 1


def test_init_weights_and_warmup(small):
    """Warm-up trains each level-1 node from the level's start weights before scoring; the
    next level inherits them. Without warm-up nothing is returned."""
    net, data = small
    cfg = SplitConfig(depth=2, branching=2, warmup_epochs=1, metric_batches=1, batch_size=16)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    level1 = split_level(tree_to_frame([root_node()]), 1, "gradnorm", cfg, 0, net=net, data=data)
    assert level1.warm_states == {}
    level2 = split_level(level1.tree, 2, "gradnorm", cfg, 0, net=net, data=data,
                         warmup_train={"lr": 0.05, "batch_size": 16})
    assert set(level2.warm_states) == {"root.0", "root.1"}
    a, b = level2.warm_states["root.0"], level2.warm_states["root.1"]
    assert any(not torch.equal(a[k], start[k]) for k in start)  # trained
    assert any(not torch.equal(a[k], b[k]) for k in start)  # on different sub-supernets
    again = split_level(level1.tree, 2, "gradnorm", cfg, 0, net=net, data=data,
                        warmup_train={"lr": 0.05, "batch_size": 16})
    pd.testing.assert_frame_equal(again.scores, level2.scores)  # deterministic
    no_warm = split_level(level1.tree, 2, "gradnorm", SplitConfig(depth=2, metric_batches=1, batch_size=16), 0,
                          net=net, data=data)
    assert not np.allclose(no_warm.scores["score"], level2.scores["score"])


def test_init_weights_follow_the_split_seed(small):
    """``weights: init``: the split seed draws the scored weights: same seed, same weights (and
    scores); another seed, other weights; torch's global random state is left alone."""
    _, data = small
    cfg = SplitConfig(depth=1, weights="init", metric_batches=1, batch_size=16)
    network = {"channels": 2, "cells_per_stage": 1}
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = scoring_network(cfg, 1, data, network, None, "cpu")
    b = scoring_network(cfg, 1, data, network, None, "cpu")
    c = scoring_network(cfg, 2, data, network, None, "cpu")
    assert torch.equal(torch.rand(1), expected_next)  # the global stream is untouched
    for key, value in a.state_dict().items():
        torch.testing.assert_close(value, b.state_dict()[key], rtol=0, atol=0)
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items() if v.is_floating_point())
    root = tree_to_frame([root_node()])
    score_a = split_level(root, 1, "snip", cfg, 1, net=a, data=data).scores
    score_b = split_level(root, 1, "snip", cfg, 1, net=b, data=data).scores
    pd.testing.assert_frame_equal(score_a, score_b)
    with pytest.raises(ValueError, match="no supernet checkpoint"):
        scoring_network(SplitConfig(depth=1), 1, data, network, None, "cpu")


def test_weights_per_method(small):
    """``weights`` as a mapping: each method scores its own entry's weights, the rest the
    default (``trained`` when the mapping has none); a job's config is resolved for its method."""
    _, data = small
    cfg = SplitConfig(depth=1, weights={"default": "init", "gradientmatching": "trained"})
    assert cfg.weights_for("synflow") == "init" and cfg.weights_for("gradientmatching") == "trained"
    assert SplitConfig(depth=1, weights={"snip": "init"}).weights_for("synflow") == "trained"
    job = SplitConfig(**cfg.for_method("synflow"))
    assert job.weights == "init" and job.depth == 1
    assert SplitConfig(**cfg.for_method("gradientmatching")).weights == "trained"
    network = {"channels": 2, "cells_per_stage": 1}
    fresh = scoring_network(cfg, 1, data, network, None, "cpu", "synflow")  # no supernet needed
    assert isinstance(fresh, torch.nn.Module)
    with pytest.raises(ValueError, match="no supernet checkpoint"):
        scoring_network(cfg, 1, data, network, None, "cpu", "gradientmatching")
    with pytest.raises(ValueError, match="unknown split weights.snip 'fresh'"):
        SplitConfig(weights={"snip": "fresh"})


@pytest.mark.parametrize("bad, match", [(dict(policy="greedy"), "unknown split policy"),
                                        (dict(edge_choice="best"), "unknown split edge_choice"),
                                        (dict(weights="pretrained"), "unknown split weights"),
                                        (dict(warmup_epochs=-1), "warmup_epochs"),
                                        (dict(metric_options={"nope": {}}), "unknown metric"),
                                        (dict(metric_options={"lr": {"image_size": 3}}), "has no option")])
def test_split_config_errors_name_the_key(bad, match):
    with pytest.raises(ValueError, match=match):
        SplitConfig(**bad)
