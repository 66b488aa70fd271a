"""The S1 × S2 table (*Picking up the pieces*, Table 2) and the Stage-2 baselines' reliance
statistics (§4.2, Fig. 2), from the rows of :mod:`fewshotnas.analysis.stage2`.

Per (method, Stage-1 algorithm, Stage-2 selector, seed) the leaf is chosen as the main table
chooses it (:func:`fewshotnas.analysis.tables.best_over_leaves`, ``benchmark``: the highest
NB201 accuracy across leaves), so the ``prune`` column equals the main table. A selector that
is undefined for an algorithm (``prune`` without alphas) stays undefined, never a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewshotnas.analysis.cost import hours_text
from fewshotnas.analysis.labels import (
    algorithm_label,
    algorithm_order,
    bench_label,
    dataset_label,
    method_label,
    method_order,
    stage2_label,
    supernet_label,
)
from fewshotnas.analysis.stage2 import SELECTORS, SUPERNETS

TWO_STAGE_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string", "selector": "string",
    "seed": "int64", "leaf": "int64", "defined": "bool", "genotype": "string", "test_acc": "float64",
    "test_err": "float64",
}


def best_leaf_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """One :data:`TWO_STAGE_COLUMNS` row per (dataset, method, algorithm, selector, seed): the
    leaf whose selected architecture has the highest NB201 accuracy (first of ties). NaN (leaf
    −1) when the selector is undefined on every leaf, or when a defined leaf's architecture
    has no benchmark accuracy (the best across leaves is then unknown)."""
    keys = ["dataset", "bench_dataset", "method", "algorithm", "selector", "seed"]
    out = []
    for key, group in rows.groupby(keys, observed=True, sort=False):
        defined = group[group["defined"]]
        row = dict(zip(keys, key), leaf=-1, defined=not defined.empty, genotype=None, test_acc=np.nan)
        if not defined.empty and defined["test_acc"].notna().all():
            best = defined.loc[defined["test_acc"].idxmax()]
            row.update(leaf=int(best["leaf"]), genotype=best["genotype"], test_acc=float(best["test_acc"]))
        out.append(row)
    frame = pd.DataFrame(out, columns=[c for c in TWO_STAGE_COLUMNS if c != "test_err"])
    frame["test_err"] = 100.0 - frame["test_acc"]
    return frame[list(TWO_STAGE_COLUMNS)].astype(TWO_STAGE_COLUMNS)


def _cell(values: pd.DataFrame) -> str:
    """'mean ± std' of the test error over seeds (sample std, with > 1 seed); 'undefined'."""
    if not values["defined"].any():
        return "undefined"
    err = values["test_err"]
    if err.isna().any():
        return "n/a"
    return f"{err.mean():.2f}" + (f" ± {err.std(ddof=1):.2f}" if len(err) > 1 else "")


def _wide(frame: pd.DataFrame, index: str, order: list[str], label, name: str = "Stage 1") -> str:
    selectors = [s for s in SELECTORS if s in set(frame["selector"])]
    cells = frame.groupby([index, "selector"], observed=True).apply(_cell, include_groups=False).unstack("selector")
    cells = cells.reindex(index=order, columns=selectors)
    cells.columns = [stage2_label(s) for s in selectors]
    cells.index = [label(i) for i in cells.index]
    cells.index.name = name
    return cells.to_markdown(disable_numparse=True) + "\n"


def two_stage_markdown(table: pd.DataFrame) -> str:
    """One block per split method (no splitting first): rows Stage-1 algorithms, columns
    Stage-2 selectors, cells NB201 test error (%) mean ± std over seeds."""
    if table.empty:
        return "(no Stage-2 results)\n"
    dataset, bench = str(table["dataset"].iat[0]), str(table["bench_dataset"].iat[0])
    seeds = table.groupby("algorithm", observed=True)["seed"].nunique()
    lines = [f"# Stage 1 × Stage 2 on {dataset_label(dataset)}", "",
             f"{bench_label(bench)} test error (%) of the architecture each Stage-2 selector picks from each Stage-1 "
             "algorithm's supernet, best leaf per seed (as the main table chooses it, so *prune* equals it), mean ± "
             f"sample std over {', '.join(f'{algorithm_label(a)} {n}' for a, n in seeds.items())} seed(s). "
             "*undefined*: the selector needs architecture weights the algorithm does not learn.", ""]
    for method in method_order(list(table["method"].unique())):
        sub = table[table["method"] == method]
        lines += [f"## {method_label(method)}", ""]
        if "cost_s" in sub.columns:  # one Stage-1 search (split levels + leaf searches), mean over seeds
            runs = sub.drop_duplicates(["algorithm", "seed"])
            costs = runs.groupby("algorithm", observed=True).agg(
                cost_s=("cost_s", "mean"), device=("cost_device", lambda d: "+".join(sorted(set(d.dropna())))))
            lines += ["Stage-1 search cost: " + ", ".join(
                f"{algorithm_label(a)} {hours_text(costs.at[a, 'cost_s'], costs.at[a, 'device'])}"
                for a in algorithm_order(list(costs.index))) + ".", ""]
        lines.append(_wide(sub, "algorithm", algorithm_order(list(sub["algorithm"].unique())), algorithm_label))
    return "\n".join(lines)


def reliance(table: pd.DataFrame) -> pd.DataFrame:
    """The baselines' reliance statistics per (selector, seed), in NB201 test accuracy points:
    ``distribution`` = biased − uniform (RSPS-trained weights) and ``weights`` = trained −
    untrained (uniform sampling), from a :func:`best_leaf_per_seed` table of the
    :data:`SUPERNETS` (named in ``supernet``)."""
    wide = table.pivot_table(index=["selector", "seed"], columns="supernet", values="test_acc", aggfunc="first")
    for name in SUPERNETS:
        if name not in wide:
            wide[name] = np.nan
    out = pd.DataFrame({"distribution": wide["rsps_biased"] - wide["rsps_uniform"],
                        "weights": wide["rsps_uniform"] - wide["init_uniform"]}).reset_index()
    return out.melt(id_vars=["selector", "seed"], var_name="reliance", value_name="value")


def baselines_markdown(table: pd.DataFrame) -> str:
    """Rows baseline supernets (``supernet``), columns selectors (test error mean ± std), then
    the reliance statistics (accuracy points, mean over seeds)."""
    if table.empty:
        return "(no Stage-2 baselines)\n"
    dataset, bench = str(table["dataset"].iat[0]), str(table["bench_dataset"].iat[0])
    order = [s for s in SUPERNETS if s in set(table["supernet"])]
    rel = reliance(table).groupby(["reliance", "selector"], observed=True)["value"].mean().unstack("selector")
    rel = rel[[s for s in SELECTORS if s in rel.columns]]
    rel.columns = [stage2_label(s) for s in rel.columns]
    rel.index = [{"distribution": "learned distribution (biased − uniform)",
                  "weights": "trained weights (RSPS − initial, uniform)"}[i] for i in rel.index]
    rel.index.name = "reliance on"
    return "\n".join([
        f"# Stage-2 baselines on {dataset_label(dataset)}", "",
        f"{bench_label(bench)} test error (%) of the architecture each selector picks on the baseline supernets of "
        "*Picking up the pieces* §4.2 (no splitting), mean ± sample std over seeds.", "",
        _wide(table, "supernet", order, supernet_label, "supernet"),
        "Reliance statistics: NB201 test accuracy points gained, mean over seeds.", "",
        rel.to_markdown(floatfmt=".2f") + "\n"])
