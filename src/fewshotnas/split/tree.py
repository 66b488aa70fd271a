"""The splitting tree as a table: one row per node down to some level.

Node ids are paths: ``root``, then ``root.0``, ``root.0.1`` … (child k of a
node has id ``<parent>.<k>``). The nodes at the deepest level are the leaves,
numbered 0..L-1 in id order (``leaf`` column; -1 for inner nodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fewshotnas.space import OPS, OpMask

ROOT = "root"

TREE_COLUMNS = {
    "node": "string",
    "level": "int64",
    "parent": "string",
    "split_edge": "int64",
    "split_ops": "string",
    "mask": "string",
    "num_archs": "int64",
    "cut_value": "float64",
    "leaf": "int64",
}


@dataclass(frozen=True)
class TreeNode:
    """A sub-supernet in the tree. ``split_edge``/``split_ops``: how its parent split
    (−1 and all ops for the root); ``cut_value``: summed cross-group similarity of that split (the min-cut value)."""

    node: str
    level: int
    parent: str
    split_edge: int
    split_ops: tuple[int, ...]
    mask: OpMask
    cut_value: float


def root_node(mask: OpMask | None = None) -> TreeNode:
    """The root: the whole space (or ``mask``)."""
    mask = mask or OpMask.full()
    return TreeNode(ROOT, 0, "", -1, tuple(range(len(OPS))), mask, float("nan"))


def tree_to_frame(nodes: list[TreeNode]) -> pd.DataFrame:
    """Typed table of ``nodes``; leaves = nodes of the deepest level, numbered in id order."""
    depth = max(n.level for n in nodes)
    leaves = sorted((n.node for n in nodes if n.level == depth), key=_node_key)
    leaf_of = {node: i for i, node in enumerate(leaves)}
    rows = [
        dict(node=n.node, level=n.level, parent=n.parent, split_edge=n.split_edge,
             split_ops=",".join(OPS[o] for o in n.split_ops), mask=n.mask.to_bits(), num_archs=n.mask.num_archs,
             cut_value=n.cut_value, leaf=leaf_of.get(n.node, -1))
        for n in sorted(nodes, key=lambda n: (n.level, _node_key(n.node)))
    ]
    return pd.DataFrame(rows, columns=list(TREE_COLUMNS)).astype(TREE_COLUMNS)


def tree_from_frame(df: pd.DataFrame) -> list[TreeNode]:
    """Inverse of :func:`tree_to_frame`."""
    missing = set(TREE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"not a tree table: columns {sorted(missing)} missing")
    return [
        TreeNode(str(r.node), int(r.level), str(r.parent), int(r.split_edge),
                 tuple(OPS.index(o) for o in str(r.split_ops).split(",")), OpMask.from_bits(str(r.mask)),
                 float(r.cut_value))
        for r in df.itertuples(index=False)
    ]


def leaf_masks(df: pd.DataFrame) -> list[OpMask]:
    """Masks of the leaves, in leaf order."""
    leaves = df[df["leaf"] >= 0].sort_values("leaf")
    return [OpMask.from_bits(str(bits)) for bits in leaves["mask"]]


def _node_key(node: str) -> tuple[int, ...]:
    return tuple(int(p) for p in node.split(".")[1:])
