"""Min-cut partition of a small set of operations from their distance matrix.

All set partitions of the n items into exactly B non-empty groups are
enumerated (``more_itertools.set_partitions``; 15 for n=5, B=2). The chosen one
maximises the total between-group distance — equivalently minimises the
within-group distance, the min-cut of the similarity graph. ``balanced``
restricts group sizes to ⌊n/B⌋..⌈n/B⌉ (GM-NAS). Ties go to the first partition
in canonical order (groups sorted, partitions sorted).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from more_itertools import set_partitions

Partition = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Cut:
    """A partition of item positions 0..n-1 and its between-group distance (``cut_value``)."""

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


def within_distance(dist: np.ndarray, partition: Partition) -> float:
    """Σ of ``dist[i, j]`` over pairs i<j in the same group."""
    return float(sum(dist[i, j] for g in partition for i, j in itertools.combinations(g, 2)))


def min_cut(dist: np.ndarray, groups: int, balanced: bool = False) -> Cut:
    """The partition of the rows of a symmetric n×n distance matrix that maximises the
    between-group distance (ties: first in canonical order)."""
    dist = np.asarray(dist, dtype=float)
    n = dist.shape[0]
    if dist.shape != (n, n):
        raise ValueError(f"distance matrix must be square, got {dist.shape}")
    if not np.all(np.isfinite(dist)):
        raise ValueError("distance matrix holds NaN or inf; the metric failed on some sub-supernet")
    total = float(np.triu(dist, 1).sum())
    best: Cut | None = None
    for part in canonical_partitions(n, groups, balanced):
        within = within_distance(dist, part)
        if best is None or within < best.within_value - 1e-12 * max(1.0, abs(total)):
            best = Cut(part, total - within, within)
    assert best is not None
    return best
