"""Supernet selection: which leaf would a user pick, and what does it cost against the oracle?

Selectors, per (dataset, method, algorithm, search seed) over the leaves of one tree:

* ``val_acc``: the leaf with the best final supernet validation accuracy;
* ``val_loss``: the leaf with the lowest final supernet validation loss (Few-Shot NAS);
* ``halving``: the survivor of successive halving on the per-epoch validation accuracy
  (GM-NAS, Algorithm 3; the metric-splitting paper, §4.3);
* ``oracle``: the leaf whose final derived architecture has the best NB201 accuracy.

Ties go to the lowest leaf index everywhere. Leaves in which every architecture is
disconnected (NaN numbers) are never picked. A searched leaf whose final architecture the
benchmark table lacks (a missing lookup) makes the oracle unknown: it is NaN and flagged
(``oracle_complete``), and so is every regret, never the next leaf's number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fewshotnas.analysis.cost import hours_text
from fewshotnas.analysis.labels import (
    SELECTOR_ORDER,
    algorithm_label,
    algorithm_order,
    bench_label,
    dataset_label,
    method_label,
    method_order,
    selector_label,
)
from fewshotnas.analysis.tables import final_epoch, missing_lookup

RUN_KEYS = ["dataset", "bench_dataset", "method", "algorithm", "seed"]

SELECTION_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string", "seed": "int64",
    "selector": "string", "leaf": "Int64", "genotype": "string", "test_acc": "float64", "regret": "float64",
    "oracle_leaf": "Int64", "oracle_dropped_at": "Int64", "cut_epochs": "string", "missing_lookups": "int64",
    "oracle_complete": "bool",
}


def cut_epochs(fractions: Sequence[float], epochs: int) -> list[int]:
    """The halving schedule in epochs: ``ceil(f · epochs)`` for each fraction f in (0, 1],
    clamped to 1..epochs, sorted. Repeats are kept (a schedule that maps two cuts onto one
    epoch halves twice there), so the number of halvings does not depend on the run length.
    The papers' (30, 100, 600) of 600 epochs is ``(0.05, 1/6, 1.0)``."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ValueError(f"halving fractions must be a non-empty list in (0, 1], got {list(fractions)}")
    return sorted(min(epochs, max(1, math.ceil(f * epochs - 1e-9))) for f in fractions)


def cut_epochs_of(selection: pd.DataFrame) -> list[int]:
    """The cut epochs a selection table's rows record (``cut_epochs``, e.g. ``"1,1,4"``)."""
    return [int(v) for v in str(selection["cut_epochs"].iat[0]).split(",")]


def successive_halving(curves: pd.DataFrame, cuts: Sequence[int]) -> tuple[int, dict[int, int]]:
    """Successive halving over one run's leaves.

    ``curves``: rows ``leaf, epoch, val_acc`` (%, NaN allowed). At each cut epoch, in order,
    the surviving leaves are ranked by their validation accuracy at that epoch (best first,
    ties by leaf index; a leaf without a finite value at that epoch ranks last) and the bottom
    ``floor(n / 2)`` are dropped. If several leaves survive the schedule, the one with the best
    validation accuracy at the last epoch is chosen and the others count as dropped then.

    Returns ``(survivor, dropped)``: the chosen leaf and {leaf: epoch it was dropped}.
    """
    leaves = sorted(int(v) for v in curves["leaf"].unique())
    acc = {(int(r.leaf), int(r.epoch)): float(r.val_acc) for r in curves.itertuples()}

    def ranked(alive: list[int], epoch: int) -> list[int]:
        def key(leaf: int) -> tuple[float, int]:
            value = acc.get((leaf, epoch), math.nan)
            return (-value if math.isfinite(value) else math.inf, leaf)
        return sorted(alive, key=key)

    alive, dropped = leaves, {}
    for epoch in sorted(cuts):
        if len(alive) <= 1:
            break
        order = ranked(alive, epoch)
        keep = math.ceil(len(order) / 2)
        dropped.update({leaf: epoch for leaf in order[keep:]})
        alive = sorted(order[:keep])
    if len(alive) > 1:
        last = int(curves["epoch"].max())
        order = ranked(alive, last)
        dropped.update({leaf: last for leaf in order[1:]})
        alive = order[:1]
    return alive[0], dropped


def _pick(final: pd.DataFrame, column: str, largest: bool) -> pd.Series | None:
    candidates = final[np.isfinite(final[column].to_numpy(dtype=float))].sort_values("leaf")
    if candidates.empty:
        return None
    values = candidates[column].to_numpy(dtype=float)
    return candidates.iloc[int(np.argmax(values) if largest else np.argmin(values))]


def select_leaves(lookup: pd.DataFrame, halving_fractions: Sequence[float]) -> pd.DataFrame:
    """The selection table (long form, one row per run × selector; schema in docs/schemas.md).

    ``lookup``: the benchmark lookups (columns of ``fewshotnas.bench.lookup.LOOKUP_COLUMNS``)
    of any number of runs. Runs with a single leaf (``nosplit``) have nothing to select and
    are left out. ``regret`` = oracle accuracy − chosen accuracy (≥ 0, percentage points);
    ``oracle_dropped_at``: the epoch at which successive halving dropped the oracle leaf
    (<NA> when it survived). ``missing_lookups``: the run's searched leaves whose final
    architecture the benchmark table lacks; with any, ``oracle_complete`` is false and the
    oracle row (leaf, genotype, accuracy), ``oracle_leaf``, ``oracle_dropped_at`` and every
    ``regret`` are <NA>/NaN. A selector whose own pick is missing has NaN ``test_acc``.
    """
    rows = []
    for key, run in lookup.groupby(RUN_KEYS, observed=True, sort=True):
        if run["leaf"].nunique() < 2:
            continue
        final = final_epoch(run).sort_values("leaf")
        if final["disconnected"].all():
            continue  # nothing was searched
        cuts = cut_epochs(halving_fractions, int(run["epoch"].max()))
        missing = int(missing_lookup(final).sum())
        oracle = _pick(final, "test_acc", largest=True) if missing == 0 else None
        survivor, dropped = successive_halving(run[["leaf", "epoch", "val_acc"]], cuts)
        picks = {"val_acc": _pick(final, "val_acc", largest=True), "val_loss": _pick(final, "val_loss", largest=False),
                 "halving": final[final["leaf"] == survivor].iloc[0], "oracle": oracle}
        oracle_acc = float(oracle["test_acc"]) if oracle is not None else math.nan
        oracle_leaf = int(oracle["leaf"]) if oracle is not None else None
        for selector in SELECTOR_ORDER:
            pick = picks[selector]
            if pick is None and selector != "oracle":
                continue
            known = pick is not None
            acc = float(pick["test_acc"]) if known else math.nan
            rows.append(dict(zip(RUN_KEYS, key), selector=selector, leaf=int(pick["leaf"]) if known else None,
                             genotype=str(pick["genotype"]) if known else None, test_acc=acc,
                             regret=oracle_acc - acc, oracle_leaf=oracle_leaf,
                             oracle_dropped_at=dropped.get(oracle_leaf) if oracle is not None else None,
                             cut_epochs=",".join(map(str, cuts)), missing_lookups=missing,
                             oracle_complete=oracle is not None))
    frame = pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
    return frame.astype(SELECTION_COLUMNS)


def selection_markdown(selection: pd.DataFrame, halving_fractions: Sequence[float]) -> str:
    """GM-NAS Table 8's layout: per method × algorithm, one row per selector with the best
    and the mean ± sample std over search seeds of the chosen leaf's NB201 accuracy, the mean
    regret, (successive-halving rows) when the oracle leaf was dropped in each seed, and the
    search cost of one search (``cost_s``, when the table has it)."""
    if selection.empty:
        return "(no split runs to select from)\n"
    dataset, bench = str(selection["dataset"].iat[0]), str(selection["bench_dataset"].iat[0])
    lines = [
        f"# Supernet selection on {dataset_label(dataset)}",
        "",
        f"{bench_label(bench)} test accuracy (%) of the final architecture of the leaf each selector picks; "
        "regret = the oracle's accuracy minus the chosen one (percentage points). Successive halving drops the "
        f"bottom half of the leaves by supernet validation accuracy at fractions {list(halving_fractions)} of the "
        f"search (epochs {', '.join(sorted(set(selection['cut_epochs'].astype(str))))}).",
        "",
        "| method | algorithm | selection | best | mean ± std | regret | oracle leaf dropped at | search cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    methods = method_order(list(selection["method"].unique()))
    algorithms = algorithm_order(list(selection["algorithm"].unique()))
    for method in methods:
        for algo in algorithms:
            sub = selection[(selection["method"] == method) & (selection["algorithm"] == algo)]
            if sub.empty:
                continue
            cost = "n/a"
            if "cost_s" in sub.columns:  # one search: the run's split levels and leaf searches, mean over seeds
                runs = sub.drop_duplicates("seed")
                cost = hours_text(float(runs["cost_s"].mean()), "+".join(sorted(set(runs["cost_device"].dropna()))))
            for selector in SELECTOR_ORDER:
                rows = sub[sub["selector"] == selector].sort_values("seed")
                if rows.empty:
                    continue
                acc = rows["test_acc"]
                mean = acc.mean(skipna=False)
                cell = _num(mean) + (f" ± {acc.std(ddof=1):.2f}" if len(rows) > 1 and pd.notna(mean) else "")
                drop = ""
                if selector == "halving":
                    drop = ", ".join("unknown" if not complete else "kept" if pd.isna(v) else f"epoch {int(v)}"
                                     for v, complete in zip(rows["oracle_dropped_at"], rows["oracle_complete"]))
                    drop += f" ({len(rows)} seed{'s' if len(rows) != 1 else ''})"
                lines.append(f"| {method_label(method)} | {algorithm_label(algo)} | {selector_label(selector)} | "
                             f"{_num(acc.max(skipna=False))} | {cell} | {_num(rows['regret'].mean(skipna=False))} "
                             f"| {drop} | {cost} |")
    incomplete = selection[~selection["oracle_complete"]].drop_duplicates(RUN_KEYS)
    if not incomplete.empty:
        runs = "; ".join(f"{method_label(r.method)} / {algorithm_label(r.algorithm)} seed {r.seed}: "
                         f"{r.missing_lookups} leaf" + ("s" if r.missing_lookups != 1 else "")
                         for r in incomplete.itertuples())
        lines += ["", "n/a: the benchmark table has no accuracy for the final architecture of some searched leaves "
                  f"({runs}), so the oracle, and with it every regret, is unknown there (`oracle_complete` false), "
                  "never the next leaf's; a selector whose own pick lacks an accuracy is n/a too."]
    return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    """Two decimals, or n/a for NaN (a missing benchmark accuracy)."""
    return "n/a" if pd.isna(value) else f"{value:.2f}"
