"""The proxy check's table and figure: rank correlations of each metric's scores
(:mod:`fewshotnas.analysis.proxies`) with NB201 test accuracy (Spearman ρ, Kendall τ-b) and
seeded percentile-bootstrap intervals, next to the published values.

Non-finite scores are left out of the correlation and counted. The published values are
those of *Zero-Cost Proxies for Lightweight NAS* (Abdelfattah, Mehrotra, Dudziak and Lane,
ICLR 2021), over all 15,625 architectures on CIFAR-10; all of them are positive ρ.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fewshotnas.bench import BENCH_DATASETS

TABLE_COLUMNS = {
    "metric": "string", "bench_dataset": "string", "spearman": "float64", "spearman_low": "float64",
    "spearman_high": "float64", "kendall": "float64", "kendall_low": "float64", "kendall_high": "float64",
    "n_archs": "int64", "n_finite": "int64", "n_nonfinite": "int64", "seconds_per_arch": "float64",
    "published_low": "float64", "published_high": "float64", "published_in_interval": "boolean",
}
"""``proxies.parquet``: one row per metric × NB201 dataset."""

MIN_FINITE = 3
"""Fewest finite scores a correlation is computed over (fewer: NaN)."""

ZERO_COST = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS (ICLR 2021), all 15,625 architectures"
PUBLISHED_CIFAR10: dict[str, tuple[float, float, str]] = {
    "synflow": (0.74, 0.74, ZERO_COST),
    "jacobcov": (0.73, 0.73, ZERO_COST),
    "gradnorm": (0.59, 0.60, ZERO_COST),
    "snip": (0.59, 0.60, ZERO_COST),
    "grasp": (0.51, 0.51, ZERO_COST),
    "params": (0.73, 0.73, ZERO_COST),
}
"""Published Spearman ρ against NB201 CIFAR-10 accuracy (low, high, source; a range where the
paper's figures for the metric differ). TE-NAS
(Chen, Gong and Wang, ICLR 2021) gives no Spearman ρ of the NTK condition number or of #lr
alone over the space, so ``ntk`` and ``lr`` have none."""


def _rank_statistic(kind: str):
    fn = stats.spearmanr if kind == "spearman" else stats.kendalltau

    def statistic(x: np.ndarray, y: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant resample: NaN, dropped below
            return float(fn(x, y).statistic)

    return statistic


def correlation(score: np.ndarray, accuracy: np.ndarray, kind: str, *, bootstrap: int, seed: int,
                confidence: float = 0.95) -> tuple[float, float, float]:
    """(value, low, high): Spearman ρ or Kendall τ-b (``kind``) of the finite ``score``s
    against ``accuracy``, and the percentile-bootstrap interval of ``bootstrap`` paired
    resamples drawn with ``seed`` (resamples whose statistic is undefined are dropped). NaN when
    fewer than ``MIN_FINITE`` finite scores remain or either side is constant."""
    keep = np.isfinite(score)
    x, y = np.asarray(score, dtype=np.float64)[keep], np.asarray(accuracy, dtype=np.float64)[keep]
    if len(x) < MIN_FINITE or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan
    statistic = _rank_statistic(kind)
    value = statistic(x, y)
    if bootstrap <= 0:
        return value, math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(x[idx], y[idx]) for idx in rng.integers(0, len(x), size=(bootstrap, len(x)))])
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return value, math.nan, math.nan
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return value, float(low), float(high)


def published_in_interval(low: float, high: float, published: tuple[float, float] | None) -> bool | None:
    """Whether the published ρ range [a, b] meets our interval [low, high] (signs count: every
    published value is a positive ρ); None when there is no published value or no interval."""
    if published is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return published[0] <= high and published[1] >= low


def proxy_table(scores: pd.DataFrame, *, bootstrap: int, seed: int, confidence: float = 0.95,
                bench_datasets: Sequence[str] = BENCH_DATASETS) -> pd.DataFrame:
    """The ``TABLE_COLUMNS`` table from ``SCORE_COLUMNS`` rows: per metric × NB201 dataset the
    correlations and intervals, the architecture counts, mean seconds per architecture and,
    for CIFAR-10, the published ρ and whether it lies in our interval."""
    rows = []
    for m_index, (metric, group) in enumerate(sorted(scores.groupby("metric", sort=True), key=lambda kv: kv[0])):
        score = group["score"].to_numpy(dtype=np.float64)
        n_finite = int(np.isfinite(score).sum())
        for d_index, dataset in enumerate(bench_datasets):
            accuracy = group[dataset].to_numpy(dtype=np.float64)
            row = dict(metric=metric, bench_dataset=dataset, n_archs=len(group), n_finite=n_finite,
                       n_nonfinite=len(group) - n_finite, seconds_per_arch=float(group["seconds"].mean()))
            for k_index, kind in enumerate(("spearman", "kendall")):
                value, low, high = correlation(score, accuracy, kind, bootstrap=bootstrap, confidence=confidence,
                                               seed=seed + 1000 * m_index + 10 * d_index + k_index)
                row.update({kind: value, f"{kind}_low": low, f"{kind}_high": high})
            published = PUBLISHED_CIFAR10.get(metric) if dataset == "cifar10" else None
            row.update(published_low=published[0] if published else math.nan,
                       published_high=published[1] if published else math.nan,
                       published_in_interval=published_in_interval(row["spearman_low"], row["spearman_high"],
                                                                    published[:2] if published else None))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).astype(TABLE_COLUMNS)


def _interval(value: float, low: float, high: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{value:.2f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def proxy_markdown(table: pd.DataFrame, *, description: str = "") -> str:
    """The table as Markdown: one row per metric (papers' order and names), ρ and τ with their
    intervals per NB201 dataset, the finite count, seconds per architecture and the published
    CIFAR-10 ρ with whether it lies in our interval."""
    from fewshotnas.analysis.labels import dataset_label, method_label, method_order

    datasets = list(dict.fromkeys(table["bench_dataset"]))
    header = ["metric"] + [f"ρ {dataset_label(d)}" for d in datasets] + [f"τ {dataset_label(d)}" for d in datasets]
    header += ["finite / scored", "s / arch", "published CIFAR-10 ρ", "published in interval"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for metric in method_order(list(table["metric"].unique())):
        rows = table[table["metric"] == metric].set_index("bench_dataset")
        first = rows.iloc[0]
        cells = [method_label(metric)]
        cells += [_interval(rows.at[d, "spearman"], rows.at[d, "spearman_low"], rows.at[d, "spearman_high"])
                  for d in datasets]
        cells += [_interval(rows.at[d, "kendall"], rows.at[d, "kendall_low"], rows.at[d, "kendall_high"])
                  for d in datasets]
        cells += [f"{first['n_finite']} / {first['n_archs']}", f"{first['seconds_per_arch']:.3f}"]
        if "cifar10" in rows.index and math.isfinite(rows.at["cifar10", "published_low"]):
            low, high = rows.at["cifar10", "published_low"], rows.at["cifar10", "published_high"]
            inside = rows.at["cifar10", "published_in_interval"]
            cells += [f"{low:.2f}" if low == high else f"{low:.2f}–{high:.2f}",
                      "n/a" if pd.isna(inside) else ("yes" if inside else "no")]
        else:
            cells += ["not given", "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ("ρ: Spearman, τ: Kendall τ-b, against NB201 test accuracy; [low, high]: percentile-bootstrap "
             "interval. Non-finite scores are left out and counted. Published: ρ of Abdelfattah et al., "
             "*Zero-Cost Proxies for Lightweight NAS* (ICLR 2021), all 15,625 architectures, CIFAR-10; "
             "\"in interval\": whether it lies in our interval. Gradient matching compares "
             "candidates pairwise and gives no per-architecture score, so it is not checked.")
    return "\n".join(([description, ""] if description else []) + lines + ["", notes]) + "\n"


def plot_proxies(table: pd.DataFrame, path: str | Path, *, description: str = "") -> None:
    """Point-and-interval figure of Spearman ρ per metric (rows) and NB201 dataset (hue), the
    published CIFAR-10 ρ as black diamonds; PNG + PDF."""
    from fewshotnas.analysis.labels import dataset_label, method_label, method_order
    from fewshotnas.analysis.plots import plt, save_figure, sns

    metrics = method_order(list(table["metric"].unique()))
    datasets = list(dict.fromkeys(table["bench_dataset"]))
    palette = sns.color_palette("colorblind", len(datasets))
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(metrics) + 1.6))
    offsets = np.linspace(-0.22, 0.22, len(datasets)) if len(datasets) > 1 else np.zeros(1)
    for d_index, dataset in enumerate(datasets):
        rows = table[table["bench_dataset"] == dataset].set_index("metric")
        for m_index, metric in enumerate(metrics):
            if metric not in rows.index:
                continue
            value, low, high = rows.loc[metric, ["spearman", "spearman_low", "spearman_high"]].astype(float)
            y = m_index + offsets[d_index]
            if math.isfinite(low) and math.isfinite(high):
                ax.plot([low, high], [y, y], color=palette[d_index], linewidth=2)
            ax.plot([value], [y], "o", color=palette[d_index], markersize=6,
                    label=f"NB201 {dataset_label(dataset)}" if m_index == 0 else None)
    published_label = "published ρ, CIFAR-10 (Abdelfattah et al.)"
    for m_index, metric in enumerate(metrics):
        if metric not in PUBLISHED_CIFAR10:
            continue
        low, high, _ = PUBLISHED_CIFAR10[metric]
        y = m_index + (offsets[datasets.index("cifar10")] if "cifar10" in datasets else 0.0)
        ax.plot([(low + high) / 2], [y], "D", color="black", markersize=6, markerfacecolor="none",
                markeredgewidth=1.5, label=published_label)
        published_label = None
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(metrics)), [method_label(m) for m in metrics])
    ax.set_ylim(len(metrics) - 0.5, -0.5)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("Spearman ρ with NB201 test accuracy (95 % bootstrap interval)")
    if description:
        ax.set_title(description, fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=9)
    save_figure(fig, path)


def describe(proxies: dict, *, dataset: str, image_size: int, in_channels: int) -> str:
    """One line saying what was scored (``proxies``: the ``report.proxies`` keys samples, seed,
    channels, cells_per_stage, batches, batch_size)."""
    from fewshotnas.analysis.labels import dataset_label

    p = proxies
    return (f"{p['samples']} NB201 architectures (seed {p['seed']}) at init, C={p['channels']}, "
            f"N={p['cells_per_stage']}, {p['batches']} × {p['batch_size']} {dataset_label(dataset)} images at "
            f"{image_size} px ({in_channels} channel{'s' if in_channels > 1 else ''})")


def write_outputs(scores: pd.DataFrame, table: pd.DataFrame, *, table_path: str | Path, markdown_path: str | Path,
                  scores_path: str | Path, plot_path: str | Path, description: str = "",
                  metadata: dict | None = None, html_path: str | Path | None = None) -> None:
    """Write the table (Parquet + Markdown, and HTML for the report when ``html_path`` is
    given), the raw scores (Parquet) and the figure (PNG + PDF), each atomically."""
    from fewshotnas.analysis.html import markdown_page_html
    from fewshotnas.io import write_parquet_atomic, write_text_atomic

    meta = {"description": description, **(metadata or {})}
    write_parquet_atomic(scores, scores_path, meta)
    write_parquet_atomic(table, table_path, meta)
    markdown = proxy_markdown(table, description=description)
    write_text_atomic(markdown, markdown_path)
    if html_path is not None:
        write_text_atomic(markdown_page_html(markdown, "Proxy check"), html_path)
    plot_proxies(table, plot_path, description=description)
