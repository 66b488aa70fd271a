"""Tables, leaf distributions and the figures."""

from __future__ import annotations

import matplotlib.figure
import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from fewshotnas.analysis import plots
from fewshotnas.analysis.distributions import leaf_distribution
from fewshotnas.analysis.labels import (
    OP_CODE_KEY,
    algorithm_label,
    algorithm_order,
    leaf_code_label,
    method_label,
    method_order,
)
from fewshotnas.analysis.plots import plot_distributions, plot_halving, plot_leaf_epochs
from fewshotnas.analysis.selection import select_leaves
from fewshotnas.analysis.tables import best_over_leaves, report_markdown, to_markdown
from fewshotnas.bench.lookup import LOOKUP_COLUMNS
from fewshotnas.space import OpMask


def fake_lookup() -> pd.DataFrame:
    rows = []
    for method in ("nosplit", "random", "synflow"):
        for seed in (0, 1):
            for leaf in range(1 if method == "nosplit" else 2):
                for epoch in (1, 2):
                    test = 80 + 5 * leaf + seed + (method == "synflow")
                    rows.append(dict(dataset="fashion_mnist", bench_dataset="cifar10", method=method,
                                     algorithm="darts1", seed=seed, split_seed=0, leaf=leaf, leaf_mask="1" * 30,
                                     epoch=epoch, genotype="g",
                                     arch_index=0, test_acc=float(test - 10 * (epoch == 1)),
                                     val_acc=float(70 - leaf), val_loss=1.0 + leaf, train_acc=70.0,
                                     disconnected=False))
    return pd.DataFrame(rows).astype(LOOKUP_COLUMNS)


def test_best_over_leaves():
    summary = best_over_leaves(fake_lookup())
    bench = summary[summary.selection == "benchmark"].set_index("method")
    # best leaf is leaf 1 (85 + seed) at the final epoch; mean over seeds 0 and 1
    assert bench.loc["random", "test_acc_mean"] == pytest.approx(85.5)
    assert bench.loc["random", "test_acc_std"] == pytest.approx(np.std([85, 86], ddof=1))  # sample std
    one_seed = best_over_leaves(fake_lookup().query("seed == 0"))
    assert one_seed["test_acc_std"].isna().all() and (one_seed["num_seeds"] == 1).all()
    assert bench.loc["synflow", "test_acc_mean"] == pytest.approx(86.5)
    assert bench.loc["nosplit", "num_leaves"] == 1
    val = summary[summary.selection == "val_acc"].set_index("method")
    # validation accuracy prefers leaf 0 (80 + seed)
    assert val.loc["random", "test_acc_mean"] == pytest.approx(80.5)


def test_markdown_layout():
    summary = best_over_leaves(fake_lookup())
    md = to_markdown(summary)
    lines = md.splitlines()
    assert "DARTS-1st (2 seeds)" in lines[0] and "darts1" not in md
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["no splitting", "random", "synflow"]
    assert "85.50 ± 0.71" in md
    assert "| 80.00 " in to_markdown(best_over_leaves(fake_lookup().query("seed == 0")))  # two decimals kept
    assert "± " not in to_markdown(best_over_leaves(fake_lookup().query("seed == 0")))
    page = report_markdown(summary)
    assert "CIFAR-10" in page and "Fashion-MNIST" in page and "fashion_mnist" not in page


def test_papers_order_and_labels():
    methods = ["params", "lr", "zeta", "ntk", "gradnorm", "synflow", "snip", "grasp", "jacobcov", "random",
               "gradientmatching", "nosplit"]
    assert method_order(methods) == ["nosplit", "random", "gradientmatching", "gradnorm", "jacobcov", "snip", "grasp",
                                     "synflow", "ntk", "lr", "params", "zeta"]
    assert [method_label(m) for m in ("nosplit", "lr", "params", "snip")] == ["no splitting", "#lr", "#params", "snip"]
    assert algorithm_order(["dsnas", "snas", "darts2", "darts1"]) == ["darts1", "darts2", "snas", "dsnas"]
    assert [algorithm_label(a) for a in ("darts1", "darts2", "snas", "dsnas")] == ["DARTS-1st", "DARTS-2nd", "SNAS",
                                                                                   "DSNAS"]


def figure_texts(monkeypatch) -> list[str]:
    """Collect every text a saved figure shows (titles, labels, ticks, legends)."""
    texts: list[str] = []
    save = plots.save_figure

    def recording(fig, path):
        figure = fig.figure if hasattr(fig, "figure") and not isinstance(fig, matplotlib.figure.Figure) else fig
        figure.canvas.draw()
        texts.extend(t.get_text() for t in figure.findobj(matplotlib.text.Text))
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", recording)
    return texts


def test_leaf_distribution_and_figures(nb201, tmp_path, monkeypatch):
    texts = figure_texts(monkeypatch)
    masks = [OpMask.full().restrict(0, [0, 1]), OpMask.full().restrict(0, [2, 3, 4])]
    dist = leaf_distribution(nb201, masks, "cifar10", "random")
    assert (dist.groupby("leaf").size().to_numpy() == [m.num_archs for m in masks]).all()
    assert 150 <= dist["top"].sum() <= 160
    with pytest.raises(ValueError, match="miss"):
        leaf_distribution(nb201, masks[:1], "cifar10", "random")
    with pytest.raises(ValueError, match="overlap"):
        leaf_distribution(nb201, [OpMask.full(), masks[0]], "cifar10", "random")
    dist2 = pd.concat([dist, dist.assign(method="lr")], ignore_index=True)
    plot_distributions(dist2, dataset="fashion_mnist", bench_dataset="cifar10", top_fraction=0.02,
                       path=tmp_path / "d.png")
    plot_leaf_epochs(fake_lookup(), dataset="fashion_mnist", bench_dataset="cifar10", path=tmp_path / "e.png")
    lookup = fake_lookup()
    selection = select_leaves(lookup, [0.5, 1.0])
    plot_halving(lookup, selection, dataset="fashion_mnist", bench_dataset="cifar10", path=tmp_path / "h.png")
    for name in ("d", "e", "h"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    # display names and the configured top fraction, not identifiers, in what people read
    text = "\n".join(texts)
    assert "top 2 % of the space" in text and "#lr" in text and "Fashion-MNIST" in text
    assert "NB201 CIFAR-10" in text and "DARTS-1st" in text and "no splitting" in text
    assert "fashion_mnist" not in text and "cifar10" not in text and "darts1" not in text
    assert not list(tmp_path.glob(".*.tmp"))
    assert np.isfinite(dist["test_acc"]).all()


def fake_stage1(algorithms: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for method in ("nosplit", "synflow"):
        for algo in algorithms:
            for leaf in range(1 if method == "nosplit" else 2):
                for f in (0.01, 0.5):
                    rows.append(dict(statistic="mass", subset=f, value=f * 1.2, baseline=f, n=3))
                    rows[-1].update(method=method, algorithm=algo, leaf=leaf)
                for stat in ("kendall", "spearman"):
                    for f in (1.0, 0.01, 0.25):
                        rows.append(dict(statistic=stat, subset=f, value=float("nan") if f == 0.01 else 0.3,
                                         baseline=float("nan"), n=1 if f == 0.01 else 10))
                        rows[-1].update(method=method, algorithm=algo, leaf=leaf)
    frame = pd.DataFrame(rows).assign(dataset="fashion_mnist", bench_dataset="cifar10", seed=0, leaf_archs=100)
    return frame


@pytest.mark.parametrize("algorithms", [("snas",), ("darts1", "snas")])
def test_stage1_and_split_distance_figures(tmp_path, monkeypatch, algorithms):
    """One algorithm or several; a subset with no ranked value and a run with one split seed
    are named in the title, never drawn as empty axes."""
    texts = figure_texts(monkeypatch)
    plots.plot_stage1(fake_stage1(algorithms), dataset="fashion_mnist", bench_dataset="cifar10",
                      path=tmp_path / "s.png")
    one_seed = pd.DataFrame([dict(method=m, seed=0, setting=setting, level=level, pairs=3,
                                  distance=0.5 if setting == "internal" else float("nan"))
                             for m in ("synflow", "lr") for setting in ("internal", "external") for level in (0, 1)])
    plots.plot_split_distance(one_seed, dataset="fashion_mnist", path=tmp_path / "d.png")
    for name in ("s", "d"):
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    text = " ".join(" ".join(texts).split())  # titles are wrapped to the figure's width
    assert "top 1 % of the sample hold fewer than 3 architectures" in text and "25 %" in text
    assert "external distance needs ≥ 2 split seeds (this run has 1)" in text and "#lr" in text
    assert "SNAS" in text and "no splitting" in text


def test_figure_pdfs_embed_truetype_fonts_not_type3(tmp_path):
    """Publishers' PDF checkers refuse Type 3 fonts: the figures embed TrueType (pdf.fonttype 42)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.0))
    ax.plot([0, 1], [0, 1], label="DARTS-1st")
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title="a figure")
    ax.legend()
    plots.save_figure(fig, tmp_path / "figure.png")
    pdf = (tmp_path / "figure.pdf").read_bytes()
    assert b"/Type3" not in pdf
    assert b"/TrueType" in pdf or b"/CIDFontType2" in pdf


def test_figures_are_paper_sized_with_readable_text(nb201, tmp_path, monkeypatch):
    """Every figure is at most 7.2 in wide (double column; the cost figure 3.5 in, single
    column) as saved, and no text is below 7 pt; zeros of the split distance are marked."""
    from PIL import Image

    sizes: dict[str, list[float]] = {}
    save = plots.save_figure

    def recording(fig, path):
        figure = fig.figure if hasattr(fig, "figure") and not isinstance(fig, matplotlib.figure.Figure) else fig
        figure.canvas.draw()
        sizes[str(path)] = [t.get_fontsize() for t in figure.findobj(matplotlib.text.Text) if t.get_text().strip()]
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", recording)
    masks = [OpMask.full().restrict(0, [0, 1]), OpMask.full().restrict(0, [2, 3, 4])]
    dist = leaf_distribution(nb201, masks, "cifar10", "random")
    dist = pd.concat([dist, dist.assign(method="lr")], ignore_index=True)
    # the widest label a depth-3 tree over edges 0-2 gives: four ops kept on each of the three edges
    widest = OpMask.full().restrict(0, [0, 1, 2, 4]).restrict(1, [0, 1, 2, 4]).restrict(2, [0, 1, 2, 4])
    codes = {0: leaf_code_label(widest.short_label()), 1: leaf_code_label(masks[1].short_label())}
    labels = {m: codes for m in ("random", "lr")}
    searched = pd.DataFrame({"method": ["random", "random"], "leaf": [0, 1], "algorithm": "darts1",
                             "test_acc": [85.0, 91.0]})
    lookup = fake_lookup()
    summary = best_over_leaves(lookup).assign(cost_s=30.0, cost_device="cpu")
    distances = pd.DataFrame([dict(method=m, seed=s, setting=setting, level=level, pairs=3,
                                   distance=0.0 if m == "synflow" else 0.5)
                              for m in ("synflow", "lr") for s in (0, 1) for setting in ("internal", "external")
                              for level in (0, 1)])
    figures = {
        "dist": lambda p: plot_distributions(dist, dataset="fashion_mnist", bench_dataset="cifar10",
                                             top_fraction=0.02, path=p, leaf_labels=labels, searched=searched,
                                             label_key=OP_CODE_KEY),
        "epochs": lambda p: plot_leaf_epochs(lookup, dataset="fashion_mnist", bench_dataset="cifar10", path=p),
        "halving": lambda p: plot_halving(lookup, select_leaves(lookup, [0.5, 0.5, 1.0]), dataset="fashion_mnist",
                                          bench_dataset="cifar10", path=p),
        "split": lambda p: plots.plot_split_distance(distances, dataset="fashion_mnist", path=p),
        "stage1": lambda p: plots.plot_stage1(fake_stage1(("darts1", "snas")), dataset="fashion_mnist",
                                              bench_dataset="cifar10", path=p),
        "cost": lambda p: plots.plot_cost(summary, path=p),
    }
    for name, draw in figures.items():
        draw(tmp_path / f"{name}.png")
        width_in = Image.open(tmp_path / f"{name}.png").size[0] / 150  # saved at 150 dpi
        limit = 3.5 if name == "cost" else 7.2
        assert width_in <= limit + 0.1, (name, width_in)
        assert min(sizes[str(tmp_path / f"{name}.png")]) >= 7, name
    assert b"/Type3" not in (tmp_path / "dist.pdf").read_bytes()
