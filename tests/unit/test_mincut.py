"""The min-cut against an independent brute force over label assignments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fewshotnas.split.mincut import canonical_partitions, min_cut


def brute_force(dist: np.ndarray, groups: int, balanced: bool) -> float:
    n = len(dist)
    best = -np.inf
    for labels in itertools.product(range(groups), repeat=n):
        sizes = np.bincount(labels, minlength=groups)
        if np.any(sizes == 0):
            continue
        if balanced and (sizes.max() - sizes.min() > 1):
            continue
        between = sum(dist[i, j] for i in range(n) for j in range(i + 1, n) if labels[i] != labels[j])
        best = max(best, between)
    return best


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.parametrize("trial", range(5))
def test_min_cut_matches_brute_force(groups, balanced, trial):
    rng = np.random.default_rng(trial * 10 + groups)
    n = 5 if trial % 2 == 0 else 4
    a = rng.random((n, n))
    dist = a + a.T
    np.fill_diagonal(dist, 0)
    cut = min_cut(dist, groups, balanced)
    assert cut.cut_value == pytest.approx(brute_force(dist, groups, balanced))
    assert len(cut.groups) == groups
    assert sorted(i for g in cut.groups for i in g) == list(range(n))
    if balanced:
        sizes = [len(g) for g in cut.groups]
        assert max(sizes) - min(sizes) <= 1


def test_partition_counts():
    assert len(canonical_partitions(5, 2)) == 15
    assert len(canonical_partitions(5, 2, balanced=True)) == 10
    assert len(canonical_partitions(5, 3)) == 25
    assert len(canonical_partitions(5, 5)) == 1


def test_separates_two_clusters_and_breaks_ties_deterministically():
    scores = np.array([0.0, 0.1, 10.0, 10.2, 0.05])
    dist = np.abs(scores[:, None] - scores[None, :])
    assert min_cut(dist, 2).groups == ((0, 1, 4), (2, 3))
    flat = np.zeros((4, 4))
    assert min_cut(flat, 2).groups == min_cut(flat, 2).groups == canonical_partitions(4, 2)[0]


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        min_cut(np.array([[0, np.nan], [np.nan, 0]]), 2)
    with pytest.raises(ValueError):
        min_cut(np.zeros((3, 3)), 4)
