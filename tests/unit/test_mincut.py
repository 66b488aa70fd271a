"""The min-cut against an independent brute force over label assignments, and against the
objective it replaced (maximising 1 − cos across groups)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fewshotnas.split.mincut import canonical_partitions, min_cut


def assignments(n: int, groups: int, balanced: bool):
    """Every labelling of n items with exactly ``groups`` non-empty groups (balanced: sizes ±1)."""
    for labels in itertools.product(range(groups), repeat=n):
        sizes = np.bincount(labels, minlength=groups)
        if np.any(sizes == 0) or (balanced and sizes.max() - sizes.min() > 1):
            continue
        yield labels


def cross_sum(matrix: np.ndarray, labels) -> float:
    n = len(matrix)
    return sum(matrix[i, j] for i in range(n) for j in range(i + 1, n) if labels[i] != labels[j])


def group_sizes(labels_or_groups) -> list[int]:
    if isinstance(labels_or_groups[0], tuple):
        return sorted(len(g) for g in labels_or_groups)
    return sorted(np.bincount(labels_or_groups).tolist())


def symmetric(rng: np.random.Generator, n: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    a = rng.uniform(lo, hi, (n, n))
    sim = (a + a.T) / 2
    np.fill_diagonal(sim, 0)
    return sim


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.parametrize("trial", range(5))
def test_min_cut_matches_brute_force(groups, balanced, trial):
    rng = np.random.default_rng(trial * 10 + groups)
    n = 5 if trial % 2 == 0 else 4
    sim = symmetric(rng, n)
    cut = min_cut(sim, groups, balanced)
    assert cut.cut_value == pytest.approx(min(cross_sum(sim, lab) for lab in assignments(n, groups, balanced)))
    assert cut.cut_value + cut.within_value == pytest.approx(float(np.triu(sim, 1).sum()))
    assert len(cut.groups) == groups
    assert sorted(i for g in cut.groups for i in g) == list(range(n))
    if balanced:
        sizes = [len(g) for g in cut.groups]
        assert max(sizes) - min(sizes) <= 1


def old_objective_best(cos: np.ndarray, groups: int, balanced: bool):
    """The replaced objective: maximise the summed distance 1 − cos across groups."""
    dist = 1.0 - cos
    np.fill_diagonal(dist, 0)
    return max(assignments(len(cos), groups, balanced), key=lambda lab: cross_sum(dist, lab))


def test_unbalanced_two_way_cut_keeps_the_similarity_not_the_distance():
    """conv3×3 (op 3) is unlike the rest (cos 0.2), the rest alike (cos 0.6). Least similarity
    across: {3} | rest (0.8 < any 2|3 cut, e.g. 2.4). Most 1 − cos across would cut 2|3 (six
    pairs beat four)."""
    cos = np.full((5, 5), 0.6)
    cos[3, :] = cos[:, 3] = 0.2
    np.fill_diagonal(cos, 1.0)
    cut = min_cut(cos, 2)
    assert cut.groups == ((0, 1, 2, 4), (3,))
    assert cut.cut_value == pytest.approx(0.8)
    assert group_sizes(old_objective_best(cos, 2, False)) == [2, 3]


def test_unbalanced_three_way_cut_prefers_fewer_similar_pairs_across():
    """All ops equally alike (cos 0.5, ties broken by tiny offsets): a 3|1|1 cut separates 7
    pairs, a 2|2|1 cut 8. Least similarity picks 3|1|1; most 1 − cos picks 2|2|1."""
    rng = np.random.default_rng(0)
    cos = 0.5 + symmetric(rng, 5, -1e-3, 1e-3)
    np.fill_diagonal(cos, 1.0)
    cut = min_cut(cos, 3)
    assert group_sizes(cut.groups) == [1, 1, 3]
    assert group_sizes(old_objective_best(cos, 3, False)) == [1, 2, 2]


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize("trial", range(4))
def test_balanced_cuts_agree_with_the_distance_objective(groups, trial):
    """Balanced partitions all separate the same number of pairs, so cutting the least cos and
    the most 1 − cos pick the same partition (GM-NAS's setting)."""
    cos = symmetric(np.random.default_rng(100 + trial), 5)
    np.fill_diagonal(cos, 1.0)
    labels = old_objective_best(cos, groups, True)
    expected = tuple(sorted(tuple(i for i in range(5) if labels[i] == k) for k in set(labels)))
    assert min_cut(cos, groups, balanced=True).groups == expected


def test_partition_counts():
    assert len(canonical_partitions(5, 2)) == 15
    assert len(canonical_partitions(5, 2, balanced=True)) == 10
    assert len(canonical_partitions(5, 3)) == 25
    assert len(canonical_partitions(5, 5)) == 1


def test_separates_two_clusters_and_breaks_ties_deterministically():
    scores = np.array([0.0, 0.1, 10.0, 10.2, 0.05])
    sim = -np.abs(scores[:, None] - scores[None, :])  # scalar metrics: −|Δscore|
    assert min_cut(sim, 2).groups == ((0, 1, 4), (2, 3))
    flat = np.zeros((4, 4))
    assert min_cut(flat, 2).groups == canonical_partitions(4, 2)[0]


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        min_cut(np.array([[0, np.nan], [np.nan, 0]]), 2)
    with pytest.raises(ValueError):
        min_cut(np.zeros((3, 3)), 4)
    with pytest.raises(ValueError, match="square"):
        min_cut(np.zeros((3, 2)), 2)
