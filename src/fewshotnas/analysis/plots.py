"""Figures for people: leaf distributions (cf. Fig. 3) and per-epoch leaf accuracy (cf. Fig. 4 left).

All figures use matplotlib's Agg backend and seaborn's function API.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import seaborn as sns  # noqa: E402

from fewshotnas.analysis.labels import algorithm_label, algorithm_order, method_label, method_order  # noqa: E402
from fewshotnas.files import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    """Save a PNG atomically and close the figure."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def plot_distributions(dist: pd.DataFrame, *, dataset: str, bench_dataset: str, path: str | Path) -> None:
    """Rows = split methods; left: accuracy distribution of all architectures per leaf
    (whole space in grey); right: the same restricted to the top 1 % of the space,
    stacked by leaf, with each leaf's count in the legend (cf. Fig. 3 of the paper)."""
    methods = method_order(list(dist["method"].unique()))
    fig, axes = plt.subplots(len(methods), 2, figsize=(12, 3.2 * len(methods)), squeeze=False)
    for row, method in enumerate(methods):
        sub = dist[dist["method"] == method].assign(leaf=lambda d: d["leaf"].astype(str))
        leaves = sorted(sub["leaf"].unique(), key=int)
        palette = dict(zip(leaves, sns.color_palette("tab10", len(leaves))))
        ax = axes[row, 0]
        ax.hist(sub["test_acc"], bins=60, color="0.85", label="whole space")
        sns.histplot(sub, x="test_acc", hue="leaf", hue_order=leaves, palette=palette, bins=60, element="step",
                     fill=False, ax=ax, legend=True)
        ax.set(xlabel=f"NB201 {bench_dataset} test accuracy (%)", ylabel="architectures",
               title=f"{method_label(method)}: all architectures per leaf (whole space in grey)")
        ax = axes[row, 1]
        top = sub[sub["top"]]
        counts = top.groupby("leaf").size().reindex(leaves, fill_value=0)
        labelled = top.assign(leaf=top["leaf"].map(lambda k: f"{k} (n={counts[k]})"))
        label_order = [f"{k} (n={counts[k]})" for k in leaves]
        sns.histplot(labelled, x="test_acc", hue="leaf", hue_order=label_order,
                     palette=dict(zip(label_order, palette.values())), bins=20, multiple="stack", ax=ax)
        ax.set(xlabel=f"NB201 {bench_dataset} test accuracy (%)", ylabel="architectures",
               title=f"{method_label(method)}: the top 1 % of the space ({len(top)} architectures) per leaf")
    fig.suptitle(f"Leaf distributions — searched on {dataset}, accuracies from NB201 {bench_dataset}")
    fig.tight_layout()
    save_figure(fig, path)


def plot_leaf_epochs(lookup: pd.DataFrame, *, dataset: str, bench_dataset: str, path: str | Path) -> None:
    """Per method × algorithm (first seed): benchmark test accuracy of each leaf's derived
    architecture per epoch; red dots mark the leaf with the best supernet validation accuracy."""
    first = lookup[lookup["seed"] == lookup["seed"].min()]
    panels = [(m, a) for m in method_order(list(first["method"].unique()))
              for a in algorithm_order(list(first["algorithm"].unique()))]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    leaves = sorted(first["leaf"].unique())
    palette = dict(zip(map(str, leaves), sns.color_palette("tab10" if len(leaves) <= 10 else "husl", len(leaves))))
    for ax, (method, algo) in zip(axes.flat, panels):
        sub = first[(first["method"] == method) & (first["algorithm"] == algo)].assign(
            leaf=lambda d: d["leaf"].astype(str))
        sns.lineplot(sub, x="epoch", y="test_acc", hue="leaf", palette=palette, marker="o", markersize=3, ax=ax,
                     legend=False)
        best = sub.loc[sub.groupby("epoch")["val_acc"].idxmax()]
        ax.scatter(best["epoch"], best["test_acc"], color="red", s=40, zorder=5)
        ax.set(xlabel="search epoch", ylabel=f"NB201 {bench_dataset} test acc (%)",
               title=f"{method_label(method)} / {algorithm_label(algo)}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=color, marker="o", markersize=3, label=f"leaf {leaf}")
               for leaf, color in palette.items()]
    handles.append(plt.Line2D([], [], color="red", marker="o", linestyle="", label="best supernet val acc"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(f"Derived architecture per leaf and epoch — searched on {dataset}, looked up in NB201 {bench_dataset}")
    fig.tight_layout()
    save_figure(fig, path)


def plot_split_distance(table: pd.DataFrame, *, dataset: str, path: str | Path) -> None:
    """Split distance per method (cf. Fig. 1–2 of the zero-cost few-shot paper). Top: internal
    and external distance over all levels, a dot per seed and the mean ± std over seeds;
    bottom: the same per depth level (pairs of splits of one level only)."""
    methods = [method_label(m) for m in method_order(list(table["method"].unique()))]
    table = table.assign(method=table["method"].map(method_label))
    seeds = table["seed"].nunique()
    levels = sorted(str(v) for v in table.loc[table["level"] > 0, "level"].unique())
    level_colors = dict(zip(levels, sns.color_palette("tab10", len(levels))))
    fig, axes = plt.subplots(2, 2, figsize=(max(8.0, 1.1 * len(methods) + 4), 8), squeeze=False)
    for col, setting in enumerate(("internal", "external")):
        sub = table[(table["setting"] == setting) & table["distance"].notna()]
        overall, by_level = sub[sub["level"] == 0], sub[sub["level"] > 0]
        ax = axes[0, col]
        if overall.empty:
            ax.text(0.5, 0.5, f"no {setting} pairs (external needs ≥ 2 seeds)", ha="center", va="center",
                    transform=ax.transAxes)
        else:
            sns.stripplot(overall, x="method", y="distance", order=methods, color="0.4", size=4, ax=ax, jitter=0.15)
            sns.pointplot(overall, x="method", y="distance", order=methods, errorbar="sd", color="C3",
                          linestyles="none", markers="D", capsize=0.2, ax=ax)
        ax.set(xlabel="", ylabel="split distance", title=f"({'ab'[col]}) {setting}, all levels")
        ax.tick_params(axis="x", rotation=45)
        ax = axes[1, col]
        if by_level.empty:
            ax.text(0.5, 0.5, f"no {setting} pairs within a level", ha="center", va="center", transform=ax.transAxes)
        else:
            sns.barplot(by_level.assign(level=by_level["level"].astype(str)), x="method", y="distance", hue="level",
                        order=methods, hue_order=levels, palette=level_colors, errorbar="sd", capsize=0.1, ax=ax)
            ax.legend(title="depth level", fontsize=8)
        ax.set(xlabel="", ylabel="split distance", title=f"{setting}, per depth level")
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle(f"Split distance on {dataset}: mean ± std over {seeds} seed{'s' if seeds != 1 else ''}")
    fig.tight_layout()
    save_figure(fig, path)
