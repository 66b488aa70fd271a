"""Min-cut partition of a small set of operations from their similarity matrix.

All set partitions of the n items into exactly B non-empty groups are
enumerated (``more_itertools.set_partitions``; 15 for n=5, B=2). The chosen one
minimises the summed similarity of the pairs it separates (the metric-splitting
paper's eq. 3, GM-NAS eq. 3): the min-cut of the similarity graph. ``balanced`` restricts
group sizes to ⌊n/B⌋..⌈n/B⌉ (GM-NAS). Ties go to the first partition in
canonical order (groups sorted, partitions sorted).

Only the similarity itself is cut: turning a cosine into a distance 1 − cos and
maximising the separated distance picks another partition whenever partitions
separate different numbers of pairs (a 1|4 cut separates 4 pairs, a 2|3 cut 6).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from more_itertools import set_partitions

Partition = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Cut:
    """A partition of item positions 0..n-1, the summed similarity of the pairs it separates
    (``cut_value``) and of the pairs it keeps together (``within_value``)."""

    groups: Partition
    cut_value: float
    within_value: float


def canonical_partitions(n: int, groups: int, balanced: bool = False) -> list[Partition]:
    """Every partition of range(n) into ``groups`` non-empty groups, canonical order."""
    if not 1 <= groups <= n:
        raise ValueError(f"cannot split {n} items into {groups} non-empty groups")
    lo, hi = n // groups, -(-n // groups)
    out = []
    for parts in set_partitions(range(n), groups):
        part = tuple(sorted(tuple(sorted(g)) for g in parts))
        if balanced and not all(lo <= len(g) <= hi for g in part):
            continue
        out.append(part)
    return sorted(out)


def within_sum(matrix: np.ndarray, partition: Partition) -> float:
    """Σ of ``matrix[i, j]`` over pairs i<j in the same group."""
    return float(sum(matrix[i, j] for g in partition for i, j in itertools.combinations(g, 2)))


def min_cut(similarity: np.ndarray, groups: int, balanced: bool = False) -> Cut:
    """The partition of the rows of a symmetric n×n similarity matrix into ``groups`` non-empty
    groups that minimises the summed similarity across groups (ties: first in canonical order).
    The diagonal is ignored."""
    sim = np.asarray(similarity, dtype=float)
    n = sim.shape[0]
    if sim.shape != (n, n):
        raise ValueError(f"similarity matrix must be square, got {sim.shape}")
    if not np.all(np.isfinite(sim)):
        raise ValueError("similarity matrix holds NaN or inf; the metric failed on some sub-supernet")
    total = float(np.triu(sim, 1).sum())
    tolerance = 1e-12 * max(1.0, float(np.abs(np.triu(sim, 1)).sum()))
    best: Cut | None = None
    for part in canonical_partitions(n, groups, balanced):
        cross = total - within_sum(sim, part)
        if best is None or cross < best.cut_value - tolerance:
            best = Cut(part, cross, total - cross)
    assert best is not None
    return best
