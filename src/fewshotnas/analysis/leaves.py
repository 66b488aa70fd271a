"""What each leaf of a splitting tree holds (the metric-splitting paper, §4.2)."""

from __future__ import annotations

import math

import pandas as pd

from fewshotnas.analysis.cost import hours_text
from fewshotnas.analysis.distributions import leaf_distribution
from fewshotnas.analysis.labels import bench_label, dataset_label, method_label, method_order, percent
from fewshotnas.bench import NB201Table
from fewshotnas.space import NUM_ARCHS, OpMask

LEAVES_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "split_seed": "int64", "leaf": "int64",
    "num_archs": "int64", "known": "int64", "space_share": "float64", "top_count": "int64", "top_share": "float64",
    "best_arch": "string", "best_acc": "float64", "holds_best": "bool", "top_fraction": "float64",
    "leaf_mask": "string", "ops": "string", "cost_s": "float64", "cost_device": "string",
}


def leaf_summary(table: NB201Table, masks: list[OpMask], *, dataset: str, bench_dataset: str, method: str,
                 split_seed: int, top_fraction: float, cost_s: float = math.nan,
                 cost_device: str | None = None) -> pd.DataFrame:
    """One row per leaf of one tree (``masks`` must partition the space).

    ``space_share``: the leaf's share of the 15,625 architectures; ``known``: how many of them
    have an NB201 accuracy on ``bench_dataset`` (the table may lack some); ``top_count``/
    ``top_share``: how many of the space's top ``top_fraction`` (of the architectures with a
    known accuracy) lie in the leaf, and which share of the top they are; ``best_arch``/
    ``best_acc``: the leaf's best architecture with a known accuracy and that accuracy (%);
    ``holds_best``: it is the best known of the space. A leaf with no known accuracy has NaN
    ``best_acc``, <NA> ``best_arch``; with no known accuracy anywhere ``top_share`` is NaN.
    ``leaf_mask``: the leaf's ops per edge (:meth:`OpMask.to_bits`, edges in NB201 order, ops
    in ``OPS`` order); ``ops``: the edges the splits restricted, short names
    (:meth:`OpMask.short_label`, e.g. ``e0:{3x3} e2:{skip,1x1}``). ``cost_s``/``cost_device``:
    the wall seconds of the split levels that built the tree (the same in each of its rows).
    """
    dist = leaf_distribution(table, masks, bench_dataset, method, top_fraction)
    known = dist["known"].to_numpy()
    best_overall = int(dist["test_acc"].idxmax()) if known.any() else None
    top_total = int(dist["top"].sum())
    rows = []
    for leaf, sub in dist.groupby("leaf", sort=True):
        best = int(sub["test_acc"].idxmax()) if sub["known"].any() else None
        top_count = int(sub["top"].sum())
        rows.append(dict(dataset=dataset, bench_dataset=bench_dataset, method=method, split_seed=split_seed,
                         leaf=int(leaf), num_archs=len(sub), known=int(sub["known"].sum()),
                         space_share=len(sub) / NUM_ARCHS, top_count=top_count,
                         top_share=top_count / top_total if top_total else math.nan,
                         best_arch=table.arch_str(best) if best is not None else None,
                         best_acc=float(sub["test_acc"].max()) if best is not None else math.nan,
                         holds_best=best is not None and best == best_overall, top_fraction=top_fraction,
                         leaf_mask=masks[int(leaf)].to_bits(), ops=masks[int(leaf)].short_label(), cost_s=cost_s,
                         cost_device=cost_device))
    return pd.DataFrame(rows, columns=list(LEAVES_COLUMNS)).astype(LEAVES_COLUMNS)


def escaped(arch_str: str) -> str:
    """A benchmark string inside a Markdown table cell (its pipes escaped)."""
    return arch_str.replace("|", "\\|")


def leaves_markdown(leaves: pd.DataFrame) -> str:
    """One Markdown table per split method (rows = split seed × leaf), display names."""
    if leaves.empty:
        return "(no splitting trees)\n"
    dataset, bench = str(leaves["dataset"].iat[0]), str(leaves["bench_dataset"].iat[0])
    top = percent(float(leaves["top_fraction"].iat[0]))
    lines = [f"# Leaves of the splitting trees on {dataset_label(dataset)}", "",
             f"Accuracies from {bench_label(bench)} (%); *top* = the space's top {top} by that accuracy; "
             "★ = the leaf holds the space's best architecture.", ""]
    unknown = int((leaves["num_archs"] - leaves["known"]).groupby([leaves["method"], leaves["split_seed"]]).sum().max())
    if unknown:  # every tree partitions the space: the same count in each
        lines += [f"The benchmark table has no accuracy for {unknown:,} of the {NUM_ARCHS:,} architectures (a leaf's "
                  "*known* count is shown next to its size): the top, its shares, the best and ★ are over the "
                  "architectures with a known accuracy.", ""]
    for method in method_order(list(leaves["method"].unique())):
        sub = leaves[leaves["method"] == method].sort_values(["split_seed", "leaf"])
        costs = sub.groupby("split_seed")[["cost_s", "cost_device"]].first()
        cost = ", ".join(f"seed {seed}: {hours_text(r.cost_s, r.cost_device)}" for seed, r in costs.iterrows())
        lines += [f"## {method_label(method)}", "", f"Split levels (wall clock): {cost}.", "",
                  f"| split seed | leaf | ops kept | architectures | share of space | top {top} | share of top | "
                  "best | best architecture |", "|---|---|---|---|---|---|---|---|---|"]
        for r in sub.itertuples():
            archs = f"{r.num_archs:,}" + (f" ({r.known:,} known)" if r.known < r.num_archs else "")
            share = "n/a" if math.isnan(r.top_share) else f"{100 * r.top_share:.1f} %"
            best = "n/a" if math.isnan(r.best_acc) else f"{r.best_acc:.2f}{' ★' if r.holds_best else ''}"
            arch = "" if pd.isna(r.best_arch) else f"`{escaped(r.best_arch)}`"
            lines.append(f"| {r.split_seed} | {r.leaf} | `{r.ops}` | {archs} | {100 * r.space_share:.1f} % | "
                         f"{r.top_count} | {share} | {best} | {arch} |")
        lines.append("")
    return "\n".join(lines)
