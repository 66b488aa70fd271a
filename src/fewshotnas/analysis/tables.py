"""Result tables: best-over-leaves benchmark accuracy per method × algorithm."""

from __future__ import annotations

import pandas as pd

from fewshotnas.analysis.cost import hours_text
from fewshotnas.analysis.labels import (
    algorithm_label,
    algorithm_order,
    bench_label,
    dataset_label,
    method_label,
    method_order,
)

SUMMARY_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string",
    "selection": "string", "num_seeds": "int64", "test_acc_mean": "float64", "test_acc_std": "float64",
    "num_leaves": "int64", "disconnected_leaves": "int64", "missing_lookups": "int64",
    "best_seed": "Int64", "best_leaf": "Int64", "best_genotype": "string",
}
"""The summary's columns. ``best_seed``/``best_leaf``/``best_genotype``: the winning run of the
cell (the seed with the highest accuracy under the cell's selection) and its chosen leaf and
final architecture (<NA> when the cell's accuracy is unknown). The workflow's table adds the
search cost, ``cost_s`` and ``cost_device`` (:func:`fewshotnas.analysis.cost.with_costs`)."""


def final_epoch(lookup: pd.DataFrame) -> pd.DataFrame:
    """Rows of the last epoch of every (method, algorithm, seed, leaf)."""
    keys = ["dataset", "method", "algorithm", "seed", "leaf"]
    last = lookup.groupby(keys, observed=True)["epoch"].transform("max")
    return lookup[lookup["epoch"] == last]


def missing_lookup(rows: pd.DataFrame) -> pd.Series:
    """Rows of searched leaves whose architecture has no benchmark accuracy (NaN ``test_acc``,
    not ``disconnected``): the benchmark table lacks it. Data, not zero: a result that needs
    such a row is NaN, never the next leaf's number."""
    return rows["test_acc"].isna() & ~rows["disconnected"].astype(bool)


def best_over_leaves(lookup: pd.DataFrame) -> pd.DataFrame:
    """Summary per (dataset, method, algorithm), mean and sample standard deviation (ddof 1;
    NaN with one seed) over seeds, for two selections:

    * ``benchmark``: the final-epoch architecture with the highest benchmark accuracy
      across leaves (the paper's Tables 1–3: the potential of the split);
    * ``val_acc``: the leaf with the highest final supernet validation accuracy (what a
      user without the benchmark would pick).

    Leaves whose architectures are all disconnected (NaN accuracy) are counted in
    ``disconnected_leaves`` and never chosen. ``missing_lookups`` counts, over the seeds, the
    final-epoch architectures the cell needs that the benchmark table lacks
    (:func:`missing_lookup`): for ``benchmark`` every searched leaf's (the best across leaves
    is unknown while one is missing), for ``val_acc`` the picked leaf's. A cell with a missing
    lookup has NaN mean and std: a best across leaves never falls to the next leaf.
    """
    final = final_epoch(lookup)
    final = final.assign(missing=missing_lookup(final).astype("int64"))
    keys = ["dataset", "bench_dataset", "method", "algorithm", "seed"]
    best_bench = final.groupby(keys, observed=True).agg(missing_lookups=("missing", "sum")).reset_index()
    known = final[final["test_acc"].notna()]
    top = known.loc[known.groupby(keys, observed=True)["test_acc"].idxmax(), keys + ["test_acc", "leaf", "genotype"]]
    best_bench = best_bench.merge(top, on=keys, how="left")
    best_bench.loc[best_bench["missing_lookups"] > 0, ["test_acc", "leaf", "genotype"]] = None
    best_bench["selection"] = "benchmark"
    searched = final[final["val_acc"].notna()]  # disconnected leaves were not searched
    pick = searched.loc[searched.groupby(keys, observed=True)["val_acc"].idxmax()]
    best_val = pick[keys + ["test_acc", "missing", "leaf", "genotype"]].rename(columns={"missing": "missing_lookups"})
    best_val = best_val.assign(selection="val_acc")
    leaves = final.groupby(keys, observed=True).agg(num_leaves=("leaf", "nunique"),
                                                    disconnected_leaves=("disconnected", "sum")).reset_index()
    per_seed = pd.concat([best_bench, best_val], ignore_index=True).merge(leaves, on=keys)
    group = ["dataset", "bench_dataset", "method", "algorithm", "selection"]
    summary = per_seed.groupby(group, observed=True).agg(
        num_seeds=("seed", "nunique"), test_acc_mean=("test_acc", lambda s: float(s.mean(skipna=False))),
        test_acc_std=("test_acc", lambda s: float(s.std(ddof=1, skipna=False))), num_leaves=("num_leaves", "max"),
        disconnected_leaves=("disconnected_leaves", "max"), missing_lookups=("missing_lookups", "sum"),
    ).reset_index()
    winners = per_seed[per_seed["test_acc"].notna()].sort_values(["test_acc", "seed"], ascending=[False, True])
    winners = winners.groupby(group, observed=True).head(1)[group + ["seed", "leaf", "genotype"]]
    summary = summary.merge(winners.rename(columns={"seed": "best_seed", "leaf": "best_leaf",
                                                    "genotype": "best_genotype"}), on=group, how="left")
    summary.loc[summary["test_acc_mean"].isna(), ["best_seed", "best_leaf", "best_genotype"]] = None
    return summary[list(SUMMARY_COLUMNS)].astype(SUMMARY_COLUMNS)


def to_markdown(summary: pd.DataFrame, selection: str = "benchmark") -> str:
    """Rows = methods, columns = algorithms, in the papers' order and labels; cells 'mean ± std'
    (sample std, shown with > 1 seed), or "n/a (k missing)" where the benchmark table lacks
    accuracies the cell needs; each column header states its number of seeds."""
    sub = summary[summary["selection"] == selection]
    if sub.empty:
        return "(no results)\n"

    def cell_text(r) -> str:
        if r.missing_lookups > 0:
            return f"n/a ({r.missing_lookups} missing)"
        if pd.isna(r.test_acc_mean):
            return "n/a"
        return f"{r.test_acc_mean:.2f}" + (f" ± {r.test_acc_std:.2f}" if r.num_seeds > 1 else "")

    cell = sub.apply(cell_text, axis=1)
    wide = sub.assign(cell=cell).pivot(index="method", columns="algorithm", values="cell")
    wide = wide.reindex(method_order(list(wide.index)))[algorithm_order(list(wide.columns))]
    seeds = sub.groupby("algorithm", observed=True)["num_seeds"].max()
    wide.columns = [f"{algorithm_label(a)} ({_seeds(int(seeds[a]))})" for a in wide.columns]
    wide.index = [method_label(m) for m in wide.index]
    wide.index.name = "method"
    return wide.to_markdown(disable_numparse=True) + "\n"


def cost_markdown(summary: pd.DataFrame) -> str:
    """Rows = methods, columns = algorithms: the search cost of one search (``cost_s``, mean
    over seeds) in GPU- or CPU-hours; "(no costs)" when the summary has none."""
    if "cost_s" not in summary.columns:
        return "(no costs)\n"
    sub = summary[summary["selection"] == "benchmark"]
    cell = [hours_text(c, d) for c, d in zip(sub["cost_s"], sub["cost_device"])]
    wide = sub.assign(cell=cell).pivot(index="method", columns="algorithm", values="cell")
    wide = wide.reindex(method_order(list(wide.index)))[algorithm_order(list(wide.columns))]
    wide.columns = [algorithm_label(a) for a in wide.columns]
    wide.index = [method_label(m) for m in wide.index]
    wide.index.name = "method"
    return wide.to_markdown(disable_numparse=True) + "\n"


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def report_markdown(summary: pd.DataFrame, supernet_s: float | None = None) -> str:
    """The Markdown page of one dataset's tables (with the search cost when ``summary`` has
    ``cost_s``; ``supernet_s``: the shared base supernet's seconds, said once)."""
    dataset = str(summary["dataset"].iat[0])
    bench = str(summary["bench_dataset"].iat[0])
    via = "" if bench == dataset else (f" (searched on {dataset_label(dataset)}; architectures looked up in "
                                        f"{bench_label(bench)})")
    lines = [
        f"# Results on {dataset_label(dataset)}",
        "",
        f"NAS-Bench-201 test accuracy (%) on **{dataset_label(bench)}**{via}, final epoch, mean ± sample standard "
        "deviation over search seeds (the number of seeds is in each column's header).",
        "",
        "## Best architecture across leaves (chosen by the benchmark)",
        "",
        to_markdown(summary, "benchmark"),
        "## Leaf chosen by supernet validation accuracy",
        "",
        to_markdown(summary, "val_acc"),
    ]
    if "cost_s" in summary.columns:
        device = str(summary["cost_device"].dropna().iat[0]) if summary["cost_device"].notna().any() else None
        shared = ("" if supernet_s is None else f" The base supernet, shared by every split method, took "
                  f"{hours_text(supernet_s, device)} more.")
        lines += ["## Search cost", "",
                  "Wall-clock hours of one search (mean over seeds): the split levels that built the tree and the "
                  f"leaf searches (for no splitting: the one search).{shared}", "", cost_markdown(summary)]
    gone = summary[(summary["selection"] == "benchmark") & (summary["disconnected_leaves"] > 0)]
    if not gone.empty:
        lines += ["Leaves in which every architecture is disconnected (no path from the cell's input to its output; "
                  "nothing to search, NaN accuracy, never chosen):", ""]
        lines += [f"- {method_label(r.method)} / {algorithm_label(r.algorithm)}: {r.disconnected_leaves} of "
                  f"{r.num_leaves} leaves" for r in gone.itertuples()]
        lines.append("")
    incomplete = summary[summary["missing_lookups"] > 0]
    if not incomplete.empty:
        lines += ["Cells marked n/a (k missing): the benchmark table has no accuracy for k final architectures the "
                  "cell needs (summed over seeds), so it is left unknown rather than taken from the next leaf "
                  "(`missing_lookups` in the Parquet table).", ""]
    return "\n".join(lines)
