"""The scores table of one split level: one row per split node × scored edge × allowed op."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewshotnas.metrics.registry import Score, is_finite, score_norm
from fewshotnas.space import OPS
from fewshotnas.split.mincut import Cut

SCORE_COLUMNS = {"node": "string", "level": "int64", "edge": "int64", "chosen": "bool", "op": "string",
                 "kind": "string", "score": "float64", "score_norm": "float64", "finite": "bool", "group": "int64",
                 "cut_value": "float64", **{f"sim_{o}": "float64" for o in OPS}}


def edge_score_rows(node: str, level: int, edge: int, chosen: bool, ops: tuple[int, ...], cut: Cut,
                    similarity: np.ndarray | None, scores: list[Score], kind: str) -> list[dict]:
    """Rows of one scored edge: ``ops`` the allowed ops (in op order), ``scores`` their scores
    (empty for ``random``), ``similarity`` their len(ops)² similarity matrix (None for
    ``random``), ``cut`` the edge's best partition, ``kind`` the metric's kind (``none`` for
    ``random``)."""
    rows = []
    for i, o in enumerate(ops):
        score = scores[i] if scores else None
        row = dict(node=node, level=level, edge=edge, chosen=chosen, op=OPS[o], kind=kind,
                   score=float(score) if kind == "scalar" else np.nan,
                   score_norm=score_norm(score) if kind == "vector" else np.nan,
                   finite=is_finite(score) if score is not None else True,
                   group=next(k for k, g in enumerate(cut.groups) if i in g), cut_value=cut.cut_value)
        for other in range(len(OPS)):
            present = similarity is not None and other in ops and other != o
            row[f"sim_{OPS[other]}"] = float(similarity[i, ops.index(other)]) if present else np.nan
        rows.append(row)
    return rows


def scores_frame(rows: list[dict]) -> pd.DataFrame:
    """The typed scores table (columns :data:`SCORE_COLUMNS`)."""
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS)).astype(SCORE_COLUMNS)
