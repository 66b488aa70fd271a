"""Columns of the dataset's stage-1 table that keep one meaning whatever the statistic.

The per-run rows (:mod:`fewshotnas.analysis.stage1`) store the fraction a statistic is taken at
in ``subset`` and a count in ``n``, whose meaning changes with ``statistic``. The dataset table
adds columns that each mean one thing, NaN/<NA> where they do not apply:

* ``space_fraction``: the top fraction of the *space* (by NB201 accuracy) whose accuracy is the
  threshold — ``mass``, ``recall``, ``cum_mass`` rows;
* ``sample_fraction``: the top fraction of the *ranked sample* the correlation is over (1.0 =
  the whole sample) — ``kendall``, ``spearman`` rows;
* ``archs_above``: the leaf's architectures at or above the threshold — ``mass``, ``recall``,
  ``cum_mass`` rows (for ``recall`` and ``cum_mass``: of the ranked sample);
* ``archs_ranked``: the architectures a correlation ranks — ``kendall``, ``spearman`` rows.
"""

from __future__ import annotations

import pandas as pd

THRESHOLD_STATISTICS = ("mass", "recall", "cum_mass")
CORRELATION_STATISTICS = ("kendall", "spearman")


def with_single_meaning_columns(stage1: pd.DataFrame) -> pd.DataFrame:
    """``stage1`` (rows of any number of runs) with ``space_fraction``, ``sample_fraction``
    (float64) and ``archs_above``, ``archs_ranked`` (Int64) added; ``subset`` and ``n`` kept."""
    threshold = stage1["statistic"].isin(THRESHOLD_STATISTICS)
    correlation = stage1["statistic"].isin(CORRELATION_STATISTICS)
    return stage1.assign(
        space_fraction=stage1["subset"].where(threshold).astype("float64"),
        sample_fraction=stage1["subset"].where(correlation).astype("float64"),
        archs_above=stage1["n"].astype("Int64").where(threshold),
        archs_ranked=stage1["n"].astype("Int64").where(correlation),
    )
