"""Figures for people, each written as PNG and PDF with seaborn's figure-level API (facets):
leaf distributions (cf. Fig. 3), per-epoch leaf accuracy (cf. Fig. 4 left), successive
halving (cf. Fig. 4 right), split distance, and stage-1 statistics.

Conventions: display names only (``#lr``, ``DARTS-1st``, ``Fashion-MNIST``,
``NB201 CIFAR-10``); panels that are compared share their y axis; one legend per figure;
a statistic the run cannot provide (e.g. one seed) is said once in the title, never drawn as
empty axes. The Parquet tables keep the identifiers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from fewshotnas.analysis.labels import (  # noqa: E402
    algorithm_label,
    algorithm_order,
    bench_label,
    dataset_label,
    method_label,
    method_order,
    percent,
)
from fewshotnas.analysis.selection import cut_epochs_of, successive_halving  # noqa: E402
from fewshotnas.analysis.tables import missing_lookup  # noqa: E402
from fewshotnas.files import atomic_write  # noqa: E402

sns.set_theme(style="whitegrid", context="paper", font_scale=1.0)
SINGLE_COLUMN = 3.5
"""Width (inches) of a figure that fills one column of a two-column paper."""
DOUBLE_COLUMN = 7.2
"""Width (inches) of a figure that spans both columns."""
# TrueType (Type 42) fonts in PDF and PS: publishers' checkers refuse Type 3 fonts
matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42})


def figure_paths(path: str | Path) -> tuple[Path, Path]:
    """The PNG and PDF a figure is written to: ``path`` with suffix .png and .pdf."""
    path = Path(path)
    return path.with_suffix(".png"), path.with_suffix(".pdf")


def save_figure(fig: plt.Figure | sns.FacetGrid, path: str | Path) -> None:
    """Write ``path`` as PNG (150 dpi) and PDF, each atomically, and close the figure."""
    figure = fig.figure if isinstance(fig, sns.FacetGrid) else fig
    png, pdf = figure_paths(path)
    try:
        atomic_write(png, lambda f: figure.savefig(f, format="png", dpi=150, bbox_inches="tight"))
        atomic_write(pdf, lambda f: figure.savefig(f, format="pdf", bbox_inches="tight"))
    finally:
        plt.close(figure)


def _placeholder(text: str, path: str | Path) -> None:
    """A figure that only says why there is nothing to draw (never empty axes)."""
    fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN, 1.2))
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save_figure(fig, path)


def _leaf_palette(leaves: list[int]) -> dict[str, tuple]:
    colors = sns.color_palette("tab10" if len(leaves) <= 10 else "husl", len(leaves))
    return {f"leaf {k}": c for k, c in zip(leaves, colors)}


def _legend(fig: plt.Figure, handles: list, title: str | None = None) -> None:
    """One legend for the figure, below it (the figure keeps its paper width)."""
    fig.legend(handles=handles, title=title, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False,
               ncol=min(len(handles), 4), fontsize=7, title_fontsize=7)


def _title(fig: plt.Figure, text: str, width: float) -> None:
    """A figure title wrapped to the figure's width (``width`` inches, ~13 characters per inch at 8 pt)."""
    # a plain text above the axes, not suptitle: tight_layout (seaborn calls it) would shrink the axes
    # to fit a suptitle placed above the figure
    fig.text(0.5, 1.0, textwrap.fill(text, int(width * 13)), fontsize=8, ha="center", va="bottom")


def _ylabel(fig: plt.Figure, text: str) -> None:
    """One y label for a grid of panels, left of them (a plain text: see :func:`_title`)."""
    fig.text(-0.01, 0.5, text, rotation=90, fontsize=9, ha="right", va="center")


def _facet_height(ncols: int, aspect: float, width: float = DOUBLE_COLUMN - 0.5) -> float:
    """Facet height (inches) at which ``ncols`` facets of ``aspect`` fill ``width`` (room is
    left for the y label and the margin titles)."""
    return width / (max(1, ncols) * aspect)


def _with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Display-name columns ``Method``/``Algorithm`` next to the identifiers."""
    out = frame.copy()
    if "method" in out:
        out["Method"] = out["method"].map(method_label)
    if "algorithm" in out:
        out["Algorithm"] = out["algorithm"].map(algorithm_label)
    return out


def _method_labels(frame: pd.DataFrame) -> list[str]:
    return [method_label(m) for m in method_order(list(frame["method"].unique()))]


def _algorithm_labels(frame: pd.DataFrame) -> list[str]:
    return [algorithm_label(a) for a in algorithm_order(list(frame["algorithm"].unique()))]


def _seed_note(frame: pd.DataFrame) -> str:
    seeds = sorted(int(s) for s in frame["seed"].unique())
    return f"search seed {seeds[0]}" + (f" of {len(seeds)}" if len(seeds) > 1 else "")


def plot_distributions(dist: pd.DataFrame, *, dataset: str, bench_dataset: str, top_fraction: float,
                       path: str | Path, leaf_labels: dict[str, dict[int, str]] | None = None,
                       searched: pd.DataFrame | None = None, label_key: str | None = None) -> None:
    """Rows = split methods, two columns wide (7.2 in). Left: NB201 accuracy of every
    architecture per leaf (the whole space in grey); middle: the space's top ``top_fraction``
    stacked by leaf; right: the row's legend, each leaf by the ops it keeps (``leaf_labels``:
    method → leaf → :meth:`OpMask.short_label`, ``label_key`` the legend of its op codes, which
    the title quotes) and its count in the top. Columns share x and y.
    The left x-range starts at the 5th percentile of the accuracies (the long tail of near-chance
    architectures is left out and counted in the panel). ``searched`` (rows ``method, leaf,
    algorithm, test_acc``): the final architecture each leaf's search derived, marked on the left
    panel (triangles at the top, leaf colour, one row of marks per algorithm). Architectures
    without an accuracy (NaN) are left out, and the title says how many."""
    top_name = f"top {percent(top_fraction)} of the space"
    leaves = sorted(int(k) for k in dist["leaf"].unique())
    palette = _leaf_palette(leaves)
    known = dist["test_acc"].notna()
    unknown = int((~known).sum() // max(1, dist["method"].nunique()))  # each method's leaves cover the space
    frame = dist[known]
    if frame.empty:
        _placeholder(f"Leaf distributions on {dataset_label(dataset)}: {bench_label(bench_dataset)} has no accuracy "
                     "for any architecture", path)
        return
    top = frame[frame["top"]] if frame["top"].any() else frame
    low = float(np.floor(np.quantile(frame["test_acc"], 0.05)))
    bins_all = np.linspace(low, frame["test_acc"].max(), 61)
    bins_top = np.linspace(top["test_acc"].min(), top["test_acc"].max(), 21)
    methods = method_order(list(dist["method"].unique()))
    algorithms = algorithm_order(list(searched["algorithm"].unique())) if searched is not None else []
    marks = dict(zip(algorithms, "v^<>DsPXo*"))
    fig, axes = plt.subplots(len(methods), 3, figsize=(DOUBLE_COLUMN, 1.7 * len(methods) + 0.6), squeeze=False,
                             sharex="col", sharey="col", gridspec_kw={"width_ratios": [1.0, 1.0, 1.15]})
    for row, method in enumerate(methods):
        sub = frame[frame["method"] == method]
        ax_all, ax_top, ax_key = axes[row]
        ax_all.hist(sub["test_acc"].clip(lower=low), bins=bins_all, color="0.85")
        for k in leaves:
            values = sub.loc[sub["leaf"] == k, "test_acc"]
            if len(values):
                ax_all.hist(values.clip(lower=low), bins=bins_all, histtype="step", color=palette[f"leaf {k}"], lw=1)
        below = int((sub["test_acc"] < low).sum())
        ax_all.text(0.03, 0.80, f"{below:,} below\n{low:.0f} %: in\nthe first bin", transform=ax_all.transAxes,
                    va="top", fontsize=7, color="0.3")
        stack = [sub.loc[(sub["leaf"] == k) & sub["top"], "test_acc"] for k in leaves]
        ax_top.hist(stack, bins=bins_top, stacked=True, color=[palette[f"leaf {k}"] for k in leaves])
        if searched is not None:
            mine = searched[(searched["method"] == method) & searched["test_acc"].notna()]
            for j, algo in enumerate(algorithms):
                for r in mine[mine["algorithm"] == algo].itertuples():
                    ax_all.plot(max(r.test_acc, low), 1.0 - 0.07 * j, marker=marks[algo], ls="",
                                color=palette[f"leaf {int(r.leaf)}"], markeredgecolor="k", markeredgewidth=0.4,
                                markersize=5, transform=ax_all.get_xaxis_transform(), clip_on=False)
        labels = (leaf_labels or {}).get(method, {})
        counts = sub[sub["top"]].groupby("leaf").size()
        handles = [Line2D([], [], color=palette[f"leaf {k}"], lw=3,
                          label=f"{k}: {labels.get(k, f'leaf {k}')} ({counts.get(k, 0)})") for k in leaves]
        handles += [Line2D([], [], marker=marks[a], color="0.6", markeredgecolor="k", markeredgewidth=0.4, ls="",
                           label=f"searched: {algorithm_label(a)}") for a in algorithms]
        ax_key.set_axis_off()
        ax_key.legend(handles=handles, loc="center left", fontsize=7, frameon=False, handlelength=1.0,
                      labelspacing=0.3, borderaxespad=0.0,
                      title=f"{method_label(method)}: leaf, ops kept (in top)", title_fontsize=7)
        ax_all.set_ylabel(f"{method_label(method)}\narchitectures")
        if row == 0:
            ax_all.set_title("all architectures", fontsize=8)
            ax_top.set_title(top_name, fontsize=8)
    axes[-1][0].set_xlabel("test acc (%)")
    axes[-1][1].set_xlabel("test acc (%)")
    axes[-1][1].xaxis.set_major_locator(MaxNLocator(3))  # the column shares its x axis: set once
    axes[-1][1].xaxis.set_major_formatter(FormatStrFormatter("%.1f"))
    note = (f"; {unknown:,} architectures without an accuracy left out, the top is of the known ones" if unknown
            else "")
    if algorithms:
        note += "; marks at the top of the left panels: each leaf's searched architecture (leaf colour)"
    if label_key:
        note += f"; ops: {label_key}"
    _title(fig, f"Leaf distributions: searched on {dataset_label(dataset)}, accuracies from "
                f"{bench_label(bench_dataset)}{note}", DOUBLE_COLUMN)
    fig.tight_layout()
    save_figure(fig, path)


def plot_leaf_epochs(lookup: pd.DataFrame, *, dataset: str, bench_dataset: str, path: str | Path) -> None:
    """Rows = algorithms, columns = methods (first search seed): NB201 accuracy of each leaf's
    derived architecture per epoch; black rings mark the leaf with the best supernet validation
    accuracy at that epoch (chosen among all searched leaves: when that leaf's architecture
    has no benchmark accuracy, the epoch has no dot, and the title counts the missing lookups).
    All panels share y."""
    seed_rows = lookup[lookup["seed"] == lookup["seed"].min()].reset_index(drop=True)
    searched = seed_rows[seed_rows["val_acc"].notna()]
    best_rows = searched.groupby(["method", "algorithm", "epoch"], observed=True)["val_acc"].idxmax().to_numpy()
    seed_rows = seed_rows.assign(best_val=seed_rows.index.isin(best_rows))
    missing = int(missing_lookup(seed_rows).sum())
    first = seed_rows[seed_rows["test_acc"].notna()]
    if first.empty:
        _placeholder(f"Derived architectures on {dataset_label(dataset)}: no {bench_label(bench_dataset)} accuracy "
                     "to draw", path)
        return
    leaves = sorted(int(k) for k in first["leaf"].unique())
    palette = _leaf_palette(leaves)
    frame = _with_labels(first).assign(Leaf=lambda d: d["leaf"].map(lambda k: f"leaf {k}"))
    grid = sns.relplot(frame, x="epoch", y="test_acc", hue="Leaf", hue_order=list(palette), palette=palette,
                       col="Method", row="Algorithm", col_order=_method_labels(first),
                       row_order=_algorithm_labels(first), kind="line", marker="o", markersize=3,
                       height=_facet_height(first["method"].nunique(), 0.9), aspect=0.9, legend=False,
                       facet_kws=dict(sharey=True, margin_titles=True))

    def best_val(data: pd.DataFrame, **_) -> None:
        best = data[data["best_val"]]
        plt.gca().scatter(best["epoch"], best["test_acc"], s=60, facecolor="none", edgecolor="k", lw=1.2, zorder=5)

    grid.map_dataframe(best_val)
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grid.set_axis_labels("search epoch", "")
    _ylabel(grid.figure, f"{bench_label(bench_dataset)} test acc (%)")
    grid.set_titles(col_template="{col_name}", row_template="{row_name}")
    _legend(grid.figure, [Line2D([], [], color=c, lw=1.5, marker="o", markersize=3, label=k)
                          for k, c in palette.items()]
            + [Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="k", ls="", markersize=7,
                      label="best supernet val acc")])
    _title(grid.figure, f"Derived architecture per leaf and epoch ({_seed_note(lookup)}), searched on "
                        f"{dataset_label(dataset)}; ringed: the leaf with the best supernet validation accuracy"
                        + (f"; {missing} lookups missing in the benchmark table, not drawn" if missing else ""),
           DOUBLE_COLUMN)
    save_figure(grid, path)


def plot_halving(lookup: pd.DataFrame, selection: pd.DataFrame, *, dataset: str, bench_dataset: str,
                 path: str | Path) -> None:
    """Successive halving (cf. Fig. 4 right), rows = algorithms, columns = methods, first
    search seed: each leaf's supernet validation accuracy per epoch, solid while it survives
    and faded after the cut that drops it; dotted lines at the cut epochs; the oracle leaf
    (best final NB201 accuracy) drawn thick with a star, the survivor ringed. Where missing
    lookups leave the oracle unknown (``oracle_complete`` false) there is no star, and the
    title says so."""
    runs = lookup[lookup["method"].isin(selection["method"].unique())]
    if runs.empty:  # nothing to select from (no split runs with 2+ searched leaves)
        _placeholder(f"Successive halving on {dataset_label(dataset)}: no run with two or more searched leaves", path)
        return
    seed = int(runs["seed"].min())
    runs = runs[(runs["seed"] == seed) & runs["val_acc"].notna()]
    sel = selection[selection["seed"] == seed]
    leaves = sorted(int(k) for k in runs["leaf"].unique())
    palette = _leaf_palette(leaves)
    frame = _with_labels(runs)

    def draw(data: pd.DataFrame, **_) -> None:
        ax = plt.gca()
        picks = sel[(sel["method"] == data["method"].iat[0]) & (sel["algorithm"] == data["algorithm"].iat[0])]
        if picks.empty:
            return
        cuts = cut_epochs_of(picks)
        survivor, dropped = successive_halving(data[["leaf", "epoch", "val_acc"]], cuts)
        oracle = picks["oracle_leaf"].iat[0]  # <NA> when a missing lookup leaves it unknown: no star
        oracle = int(oracle) if pd.notna(oracle) else None
        for cut in sorted(set(cuts)):
            ax.axvline(cut, color="0.5", ls=":", lw=1)
            repeats = cuts.count(cut)
            if repeats > 1:  # several halvings at one epoch: say how many
                ax.text(cut, 0.98, f" {repeats} cuts", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                        ha="left", color="0.3")
        for leaf, curve in data.sort_values("epoch").groupby("leaf"):
            color = palette[f"leaf {leaf}"]
            width = 2.8 if leaf == oracle else 1.3
            gone = dropped.get(int(leaf))
            alive = curve if gone is None or leaf == survivor else curve[curve["epoch"] <= gone]
            ax.plot(curve["epoch"], curve["val_acc"], color=color, alpha=0.2, lw=width)
            ax.plot(alive["epoch"], alive["val_acc"], color=color, lw=width, marker="o", markersize=3)
            end = curve.iloc[-1]
            if leaf == oracle:
                ax.scatter(end["epoch"], end["val_acc"], marker="*", s=180, color=color, edgecolor="k", zorder=6)
            if leaf == survivor:
                ax.scatter(end["epoch"], end["val_acc"], s=110, facecolor="none", edgecolor="k", lw=1.5, zorder=6)

    grid = sns.FacetGrid(frame, col="Method", row="Algorithm", col_order=_method_labels(runs),
                         row_order=_algorithm_labels(runs), sharey=True,
                         height=_facet_height(runs["method"].nunique(), 0.9), aspect=0.9, margin_titles=True)
    grid.map_dataframe(draw)
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grid.set_axis_labels("search epoch", "")
    _ylabel(grid.figure, "supernet validation acc (%)")
    grid.set_titles(col_template="{col_name}", row_template="{row_name}")
    handles = [Line2D([], [], color=c, lw=2, label=k) for k, c in palette.items()]
    handles += [Line2D([], [], color="0.3", alpha=0.25, lw=2, label="after being dropped"),
                Line2D([], [], color="0.5", ls=":", label="cut epoch (n cuts: n halvings there)"),
                Line2D([], [], marker="*", color="0.3", markeredgecolor="k", ls="", markersize=12,
                       label=f"oracle leaf (best final {bench_label(bench_dataset)})"),
                Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="k", ls="", markersize=9,
                       label="halving survivor")]
    _legend(grid.figure, handles)
    unknown = "" if sel["oracle_complete"].all() else (
        "; no star: the benchmark table lacks a leaf's final accuracy, the oracle is unknown")
    _title(grid.figure, f"Successive halving on {dataset_label(dataset)} ({_seed_note(lookup)}){unknown}",
           DOUBLE_COLUMN)
    save_figure(grid, path)


def plot_split_distance(table: pd.DataFrame, *, dataset: str, path: str | Path) -> None:
    """Split distance per method (cf. Fig. 1–2 of the zero-cost few-shot paper): one panel per
    setting (internal, external), bars per depth level and all levels together, mean ± std
    over split seeds. With one split seed there are no external pairs: the title says so."""
    seeds = table["seed"].nunique()
    data = table[table["distance"].notna()].assign(
        Method=lambda d: d["method"].map(method_label),
        Levels=lambda d: d["level"].map(lambda v: "all levels" if v == 0 else f"level {v}"))
    settings = [s for s in ("internal", "external") if s in set(data["setting"])]
    levels = ["all levels"] + [f"level {v}" for v in sorted(data.loc[data["level"] > 0, "level"].unique())]
    notes = [] if "external" in settings else [f"external distance needs ≥ 2 split seeds (this run has {seeds})"]
    grid = sns.catplot(data, kind="bar", x="Method", y="distance", hue="Levels", hue_order=levels, col="setting",
                       col_order=settings, order=_method_labels(table), errorbar="sd", capsize=0.1,
                       height=_facet_height(len(settings), 1.6), aspect=1.6, sharey=True, legend=False,
                       palette=["0.35"] + sns.color_palette("tab10", len(levels) - 1))
    grid.set_axis_labels("", "split distance")
    for ax, setting in zip(grid.axes.flat, settings):
        ax.set_title("internal: pairs of splits of one tree" if setting == "internal"
                     else "external: splits of trees from different seeds", fontsize=8)
        ax.set_xticks(ax.get_xticks(), [textwrap.fill(t.get_text(), 12) for t in ax.get_xticklabels()])
        for bars in ax.containers:  # a zero bar has no height: mark it, so a zero reads as zero
            for bar in getattr(bars, "patches", bars):
                if np.isfinite(bar.get_height()) and abs(bar.get_height()) < 1e-12:
                    x = bar.get_x() + bar.get_width() / 2
                    ax.plot(x, 0, marker="o", color=bar.get_facecolor(), markeredgecolor="k", markersize=4,
                            clip_on=False, zorder=5)
                    ax.annotate("0", (x, 0), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)
    palette = ["0.35"] + sns.color_palette("tab10", len(levels) - 1)
    _legend(grid.figure, [matplotlib.patches.Patch(color=c, label=lv) for lv, c in zip(levels, palette)])
    spread = f"mean ± std over {seeds} split seeds" if seeds > 1 else "one split seed"
    _title(grid.figure, f"Split distance on {dataset_label(dataset)} ({spread}; a dot marks a distance of 0)"
           + "".join(f"; {n}" for n in notes), DOUBLE_COLUMN)
    save_figure(grid, path)


def plot_stage1(stage1: pd.DataFrame, *, dataset: str, bench_dataset: str, path: str | Path) -> None:
    """Stage-1 statistics, columns = methods, hue = algorithm, mean ± std over leaves and
    seeds: Kendall τ and Spearman ρ of the one-shot ranking (whole sample and its top
    fractions by NB201 accuracy), and the sampling mass the final alphas put above the space's
    top-f accuracy minus uniform sampling's (> 0: the alphas favour good architectures).
    Subsets with fewer than 3 ranked architectures are left out and named in the title; where
    the benchmark table lacks accuracies (``known`` < ``leaf_archs``) the title says the
    statistics are over the known ones."""
    frame = _with_labels(stage1)
    corr = frame[frame["statistic"].isin(["kendall", "spearman"])]
    empty = sorted(set(corr.loc[corr["value"].isna(), "subset"]) - set(corr.loc[corr["value"].notna(), "subset"]))
    rows = [
        corr.dropna(subset=["value"]).assign(
            quantity=lambda d: d["statistic"].map({"kendall": "Kendall τ", "spearman": "Spearman ρ"}),
            subset_label=lambda d: d["subset"].map(lambda f: "all" if f == 1.0 else percent(f))),
        frame[frame["statistic"] == "mass"].assign(
            quantity="mass − uniform", value=lambda d: d["value"] - d["baseline"],
            subset_label=lambda d: d["subset"].map(percent)).dropna(subset=["value"]),
    ]
    long = pd.concat(rows, ignore_index=True)
    if long.empty:
        _placeholder(f"Stage-1 statistics on {dataset_label(dataset)}: no value to draw (no ranked architectures, "
                     f"no {bench_label(bench_dataset)} accuracy)", path)
        return
    subsets_corr = ["all"] + [percent(f) for f in sorted(corr["subset"].unique(), reverse=True)
                              if f != 1.0 and f not in empty]
    subsets_mass = [percent(f) for f in sorted(frame.loc[frame["statistic"] == "mass", "subset"].unique())]
    quantities = [q for q in ("Kendall τ", "Spearman ρ", "mass − uniform") if q in set(long["quantity"])]
    algorithms = _algorithm_labels(stage1)

    def draw(data: pd.DataFrame, **kws) -> None:
        order = subsets_mass if data["quantity"].iat[0] == "mass − uniform" else subsets_corr
        sns.pointplot(data, x="subset_label", y="value", hue="Algorithm", order=order, hue_order=algorithms,
                      errorbar="sd", dodge=0.3 if len(algorithms) > 1 else False, linestyles="none",
                      palette="colorblind", ax=plt.gca(), legend=False)
        plt.gca().axhline(0, color="0.5", lw=0.8)

    grid = sns.FacetGrid(long, row="quantity", col="Method", row_order=quantities,
                         col_order=_method_labels(stage1), sharex=False, sharey="row",
                         height=_facet_height(stage1["method"].nunique(), 0.9), aspect=0.9)
    grid.map_dataframe(draw)
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    grid.set_axis_labels("", "")
    grid.set_titles("{col_name}")
    for i, (axes_row, quantity) in enumerate(zip(grid.axes, quantities)):
        axes_row[0].set_ylabel(quantity)
        for ax in axes_row:
            if i > 0:
                ax.set_title("")
    colors = sns.color_palette("colorblind", len(_algorithm_labels(stage1)))
    _legend(grid.figure, [Line2D([], [], color=c, marker="o", ls="", label=a)
                          for a, c in zip(_algorithm_labels(stage1), colors)])
    note = ""
    if empty:
        note = f"; top {', '.join(percent(f) for f in empty)} of the sample hold fewer than 3 architectures"
    if "known" in stage1 and (stage1["known"] < stage1["leaf_archs"]).any():
        note += "; over the architectures with a known benchmark accuracy only"
    _title(grid.figure, f"Stage-1 statistics on {dataset_label(dataset)} vs {bench_label(bench_dataset)} "
                        f"(mean ± std over leaves and seeds){note}. τ, ρ: the whole ranked sample (all) or its "
                        "top fraction by NB201 accuracy; mass: architectures above the space's top-f accuracy",
           DOUBLE_COLUMN)
    save_figure(grid, path)


def plot_stage1_curves(stage1: pd.DataFrame, *, dataset: str, bench_dataset: str, path: str | Path) -> None:
    """*Picking up the pieces* Fig. 1: rows = split methods; left the top-architecture
    identification rate (``recall``), right the cumulative sampling mass (``cum_mass``),
    against the NB201 test-error threshold (the space's top 0.1 % to 50 %; the whole space,
    where both are 1, is left out); hue = algorithm, mean over leaves and seeds; dashed grey:
    the random ranking's / uniform sampling's baseline (mean)."""
    frame = _with_labels(stage1[stage1["statistic"].isin(["recall", "cum_mass"]) & (stage1["subset"] < 1.0)])
    if frame.empty or frame["value"].notna().sum() == 0:
        _placeholder(f"Stage-1 curves on {dataset_label(dataset)}: nothing to draw (no ranked architectures)", path)
        return
    frame = frame.assign(quantity=frame["statistic"].map({"recall": "top-architecture recall",
                                                          "cum_mass": "cumulative sampling mass"}))
    algorithms = _algorithm_labels(stage1)
    palette = dict(zip(algorithms, sns.color_palette("colorblind", len(algorithms))))

    def draw(data: pd.DataFrame, **_) -> None:
        ax = plt.gca()
        mean = data.groupby(["Algorithm", "error_threshold"], observed=True)[["value", "baseline"]].mean().reset_index()
        for algorithm in algorithms:
            sub = mean[mean["Algorithm"] == algorithm]
            if not sub.empty:
                ax.plot(sub["error_threshold"], sub["value"], marker="o", ms=3, color=palette[algorithm])
        base = data.groupby("error_threshold")["baseline"].mean()
        ax.plot(base.index, base.to_numpy(), color="0.4", ls="--", lw=1)

    grid = sns.FacetGrid(frame, row="Method", col="quantity", row_order=_method_labels(stage1),
                         col_order=["top-architecture recall", "cumulative sampling mass"], sharex=True, sharey=True,
                         height=_facet_height(2, 2.0), aspect=2.0, margin_titles=True)
    grid.map_dataframe(draw)
    grid.set_axis_labels("", "")
    grid.figure.supxlabel(f"{bench_label(bench_dataset)} test error threshold (%)", y=-0.01)
    grid.set_titles(col_template="{col_name}", row_template="{row_name}")
    _legend(grid.figure, [Line2D([], [], color=palette[a], marker="o", label=a) for a in algorithms]
            + [Line2D([], [], color="0.4", ls="--", label="random / uniform")])
    _title(grid.figure, f"Stage-1 curves on {dataset_label(dataset)} (mean over leaves and seeds)", DOUBLE_COLUMN)
    save_figure(grid, path)


def plot_stage2_baselines(table: pd.DataFrame, *, path: str | Path) -> None:
    """*Picking up the pieces* Fig. 2: NB201 test error (%) of each selector (x) on the four
    baseline supernets (hue), mean ± std over seeds; ``table`` has a ``supernet`` column."""
    from fewshotnas.analysis.labels import STAGE2_LABELS, SUPERNET_LABELS, stage2_label, supernet_label

    frame = table.dropna(subset=["test_err"])
    if frame.empty:
        _placeholder("Stage-2 baselines: no selected architecture has a benchmark accuracy", path)
        return
    frame = frame.assign(Selector=frame["selector"].map(stage2_label), Supernet=frame["supernet"].map(supernet_label))
    order = [stage2_label(s) for s in STAGE2_LABELS if s in set(frame["selector"])]  # the paper's order
    hues = [supernet_label(s) for s in SUPERNET_LABELS if s in set(frame["supernet"])]
    fig, ax = plt.subplots(figsize=(DOUBLE_COLUMN, 3.0))
    sns.barplot(frame, x="Selector", y="test_err", hue="Supernet", order=order, hue_order=hues, errorbar="sd",
                palette="colorblind", ax=ax)
    ax.set_ylabel(f"{bench_label(str(frame['bench_dataset'].iat[0]))} test error (%)")
    ax.set_xlabel("Stage-2 selector")
    ax.legend(title="supernet", frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize=7,
              title_fontsize=7)
    ax.set_title(f"Stage-2 baselines on {dataset_label(str(frame['dataset'].iat[0]))}", fontsize=8)
    save_figure(fig, path)


def plot_cost(summary: pd.DataFrame, *, path: str | Path) -> None:
    """Best accuracy across leaves (selection ``benchmark``, mean over seeds, ± std as bars)
    against the search cost of one search (``cost_s``, hours, log scale): colour = split method,
    marker = algorithm. One column wide (3.5 in)."""
    sub = summary[(summary["selection"] == "benchmark") & summary["cost_s"].notna()
                  & summary["test_acc_mean"].notna()]
    if sub.empty:
        _placeholder("Accuracy against search cost: no cell with both an accuracy and a cost", path)
        return
    dataset, bench = str(sub["dataset"].iat[0]), str(sub["bench_dataset"].iat[0])
    devices = sorted(set(sub["cost_device"].dropna()))
    unit = "GPU" if devices == ["cuda"] else "CPU" if devices == ["cpu"] else "device"
    methods, algorithms = _method_labels(sub), _algorithm_labels(sub)
    colors = dict(zip(methods, sns.color_palette("colorblind", len(methods))))
    markers = dict(zip(algorithms, "osD^vP*Xph"))
    fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, 2.8))
    for r in _with_labels(sub).itertuples():
        std = r.test_acc_std if pd.notna(r.test_acc_std) else None
        ax.errorbar(r.cost_s / 3600, r.test_acc_mean, yerr=std, fmt=markers[r.Algorithm], color=colors[r.Method],
                    markersize=5, capsize=2, lw=0.8, markeredgecolor="k", markeredgewidth=0.4)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # labels within a decade too
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.003, not 3×10⁻³
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"search cost ({unit}-hours, log scale)")
    ax.set_ylabel(f"{bench_label(bench)} test acc (%)")
    ax.set_title(f"Best across leaves vs. cost, {dataset_label(dataset)}", fontsize=8)
    handles = ([Line2D([], [], color=c, marker="o", ls="", label=m) for m, c in colors.items()]
               + [Line2D([], [], color="0.3", marker=mk, ls="", label=a) for a, mk in markers.items()])
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False, ncol=2)
    save_figure(fig, path)
