"""OpMask: a sub-supernet as a boolean edge × op table.

A mask allows a set of operations on every edge; its architectures are the
product of the allowed sets. The leaves of a splitting tree are disjoint masks
whose union is the whole space.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fewshotnas.space.nb201 import EDGES, NUM_EDGES, NUM_OPS, OPS, Genotype, check_genotype

SHORT_OP_NAMES = {"none": "none", "skip_connect": "skip", "nor_conv_1x1": "1x1", "nor_conv_3x3": "3x3",
                  "avg_pool_3x3": "pool"}
"""Short display names of the NB201 operations (figure and table labels)."""


@dataclass(frozen=True)
class OpMask:
    """Allowed operations per edge: ``allowed[e][o]`` is True when op ``o`` may sit on edge ``e``.

    Immutable and hashable, so it can key caches. Every edge allows at least one op.
    """

    allowed: tuple[tuple[bool, ...], ...]

    def __post_init__(self) -> None:
        rows = tuple(tuple(bool(v) for v in row) for row in self.allowed)
        if len(rows) != NUM_EDGES or any(len(row) != NUM_OPS for row in rows):
            raise ValueError(f"an OpMask is {NUM_EDGES}×{NUM_OPS}, got {len(rows)} rows")
        if not all(any(row) for row in rows):
            raise ValueError("every edge of an OpMask must allow at least one operation")
        object.__setattr__(self, "allowed", rows)

    @classmethod
    def full(cls) -> OpMask:
        """The whole space: every op allowed on every edge."""
        return cls(tuple((True,) * NUM_OPS for _ in range(NUM_EDGES)))

    @classmethod
    def from_genotype(cls, genotype: tuple[int, ...]) -> OpMask:
        """The single-architecture mask of a genotype."""
        ops = check_genotype(genotype)
        return cls(tuple(tuple(o == op for o in range(NUM_OPS)) for op in ops))

    @classmethod
    def from_array(cls, array: np.ndarray | torch.Tensor | Iterable[Iterable[bool]]) -> OpMask:
        """From a 6×5 boolean array (numpy, torch or nested lists)."""
        return cls(tuple(tuple(bool(v) for v in row) for row in np.asarray(array, dtype=bool)))

    @classmethod
    def from_bits(cls, bits: str) -> OpMask:
        """Inverse of :meth:`to_bits`."""
        rows = bits.split("-")
        return cls(tuple(tuple(ch == "1" for ch in row) for row in rows))

    def to_bits(self) -> str:
        """Compact text form, one group of 5 bits per edge: ``11111-11111-…``."""
        return "-".join("".join("1" if v else "0" for v in row) for row in self.allowed)

    def to_array(self) -> np.ndarray:
        """6×5 numpy bool array."""
        return np.array(self.allowed, dtype=bool)

    def to_tensor(self, device: torch.device | str | None = None) -> torch.Tensor:
        """6×5 torch bool tensor (for fused programs that keep masks on the device)."""
        return torch.tensor(self.allowed, dtype=torch.bool, device=device)

    def ops_on(self, edge: int) -> tuple[int, ...]:
        """Indices of the ops allowed on ``edge``."""
        return tuple(o for o, ok in enumerate(self.allowed[edge]) if ok)

    def restrict(self, edge: int, ops: Iterable[int]) -> OpMask:
        """This mask with ``edge`` limited to ``ops`` (which must be allowed here)."""
        keep = set(ops)
        if not keep or not keep <= set(self.ops_on(edge)):
            raise ValueError(f"cannot restrict edge {edge} to {sorted(keep)}: allowed are {self.ops_on(edge)}")
        rows = list(self.allowed)
        rows[edge] = tuple(o in keep for o in range(NUM_OPS))
        return OpMask(tuple(rows))

    def contains(self, genotype: tuple[int, ...]) -> bool:
        """Whether the architecture ``genotype`` lies in this sub-space."""
        return all(self.allowed[e][o] for e, o in enumerate(check_genotype(genotype)))

    @property
    def num_archs(self) -> int:
        """Number of architectures in the sub-space."""
        return int(np.prod([len(self.ops_on(e)) for e in range(NUM_EDGES)]))

    def genotypes(self) -> Iterator[Genotype]:
        """Every architecture of the sub-space."""
        import itertools

        return itertools.product(*(self.ops_on(e) for e in range(NUM_EDGES)))  # type: ignore[return-value]

    def can_connect(self) -> bool:
        """True when some architecture of the mask has a path from the cell's input (node 0) to
        its output (node 3) through ops other than ``none``. False: every architecture's cell
        outputs zero whatever its input, so there is nothing to search."""
        reached = {0}
        for e, (dst, src) in enumerate(EDGES):  # edges in order of their target node
            if src in reached and any(OPS[o] != "none" for o in self.ops_on(e)):
                reached.add(dst)
        return 3 in reached

    def short_label(self) -> str:
        """The edges this mask restricts, with short op names (:data:`SHORT_OP_NAMES`):
        ``e0:{3x3} e2:{skip,1x1}``; ``all ops`` for the whole space. For figure labels."""
        parts = [f"e{e}:{{" + ",".join(SHORT_OP_NAMES[OPS[o]] for o in self.ops_on(e)) + "}"
                 for e in range(NUM_EDGES) if len(self.ops_on(e)) < NUM_OPS]
        return " ".join(parts) if parts else "all ops"

    def describe(self) -> str:
        """Human-readable ``e0:{skip,conv3} e1:* …`` form; ``*`` = all ops."""
        parts = []
        for e in range(NUM_EDGES):
            ops = self.ops_on(e)
            parts.append(f"e{e}:" + ("*" if len(ops) == NUM_OPS else "{" + ",".join(OPS[o] for o in ops) + "}"))
        return " ".join(parts)
