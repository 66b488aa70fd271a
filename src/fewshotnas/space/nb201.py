"""The NAS-Bench-201 cell space: operations, edges and genotypes.

A genotype is a tuple of 6 operation indices, one per edge, in the order of the
benchmark string ``|o~0|+|o~0|o~1|+|o~0|o~1|o~2|``. Conversion to and from the
benchmark string is exact; the benchmark *index* is the row order of the
NAS-Bench-201 table, so index lookups live in :mod:`fewshotnas.bench.nb201`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The 5 candidate operations, in the project's canonical order."""

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""The 6 edges as (to_node, from_node), in benchmark-string order."""

NUM_OPS = len(OPS)
NUM_EDGES = len(EDGES)
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625

Genotype = tuple[int, int, int, int, int, int]
"""One operation index (into :data:`OPS`) per edge."""


class GenotypeError(ValueError):
    """A benchmark string or genotype that is not in the NAS-Bench-201 space."""


def op_index(name: str) -> int:
    """Index of an operation name in :data:`OPS`; clear error for unknown names."""
    try:
        return OPS.index(name)
    except ValueError:
        raise GenotypeError(f"unknown operation {name!r}; known: {', '.join(OPS)}") from None


def check_genotype(genotype: tuple[int, ...]) -> Genotype:
    """Return ``genotype`` as a tuple after checking its length and op range."""
    ops = tuple(int(o) for o in genotype)
    if len(ops) != NUM_EDGES or any(not 0 <= o < NUM_OPS for o in ops):
        raise GenotypeError(f"a genotype is {NUM_EDGES} op indices in 0..{NUM_OPS - 1}, got {genotype!r}")
    return ops  # type: ignore[return-value]


def genotype_to_str(genotype: tuple[int, ...]) -> str:
    """Benchmark string of a genotype, e.g. ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|…|``."""
    ops = check_genotype(genotype)
    nodes: list[str] = []
    for node in (1, 2, 3):
        parts = [f"{OPS[ops[e]]}~{src}" for e, (dst, src) in enumerate(EDGES) if dst == node]
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def genotype_from_str(arch_str: str) -> Genotype:
    """Parse a benchmark string; raises :class:`GenotypeError` naming the problem."""
    node_strs = arch_str.strip().split("+")
    if len(node_strs) != 3:
        raise GenotypeError(f"expected 3 nodes separated by '+', got {arch_str!r}")
    ops: list[int] = []
    for node, node_str in enumerate(node_strs, start=1):
        if not (node_str.startswith("|") and node_str.endswith("|")):
            raise GenotypeError(f"node {node} of {arch_str!r} must be enclosed in '|'")
        parts = node_str[1:-1].split("|")
        if len(parts) != node:
            raise GenotypeError(f"node {node} of {arch_str!r} needs {node} inputs, got {len(parts)}")
        for src, part in enumerate(parts):
            name, sep, src_str = part.partition("~")
            if sep != "~" or src_str != str(src):
                raise GenotypeError(f"expected '<op>~{src}' in node {node} of {arch_str!r}, got {part!r}")
            ops.append(op_index(name))
    return tuple(ops)  # type: ignore[return-value]


def all_genotypes() -> Iterator[Genotype]:
    """Every genotype of the space in lexicographic op-index order (15,625)."""
    return itertools.product(range(NUM_OPS), repeat=NUM_EDGES)  # type: ignore[return-value]
