"""Missing benchmark accuracies (NaN in a table built from the official file) are data, not
zeros: lookups keep them, no result takes the next leaf's number instead, statistics say they
are over the known architectures, and no table or figure divides by zero."""

from __future__ import annotations

import math

import matplotlib.colors
import matplotlib.figure
import matplotlib.text
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import table_with_missing

from fewshotnas.analysis import plots
from fewshotnas.analysis.distributions import leaf_distribution
from fewshotnas.analysis.leaves import leaf_summary, leaves_markdown
from fewshotnas.analysis.selection import select_leaves, selection_markdown
from fewshotnas.analysis.stage1 import Stage1Config, leaf_stage1, mass_rows, stage1_frame
from fewshotnas.analysis.tables import best_over_leaves, report_markdown, to_markdown
from fewshotnas.bench.lookup import LOOKUP_COLUMNS, lookup_logs
from fewshotnas.space import OpMask, build_network
from fewshotnas.space.supernet import uniform_weights

FINAL = {0: 90.00, 1: 91.91, 2: 93.21}  # leaf → NB201 accuracy of its final architecture


def run_lookup(missing_leaves: set[int], seed: int = 0, val_best: int = 2) -> pd.DataFrame:
    """One synflow/DARTS run of 3 leaves × 2 epochs; the final lookups of ``missing_leaves``
    are NaN (the benchmark table lacks them), and ``val_best`` has the best validation accuracy."""
    rows = []
    for leaf, acc in FINAL.items():
        for epoch in (1, 2):
            test = acc - 5 if epoch == 1 else (math.nan if leaf in missing_leaves else acc)
            rows.append(dict(dataset="fashion_mnist", bench_dataset="cifar10", method="synflow", algorithm="darts1",
                             seed=seed, split_seed=0, leaf=leaf, leaf_mask="1" * 30, epoch=epoch,
                             genotype=f"g{leaf}", arch_index=leaf, test_acc=test,
                             val_acc=80.0 + 5 * (leaf == val_best) + epoch, val_loss=1.0 - 0.1 * (leaf == val_best),
                             train_acc=70.0, disconnected=False))
    return pd.DataFrame(rows).astype(LOOKUP_COLUMNS)


def test_lookups_keep_nan(nb201_missing, nb201):
    best = int(nb201.frame["cifar10"].idxmax())
    logs = {0: pd.DataFrame({"epoch": [1, 2], "genotype": [nb201.arch_str(1), nb201.arch_str(best)],
                             "val_acc": [50.0, 60.0], "val_loss": [2.0, 1.0], "train_acc": [40.0, 70.0],
                             "disconnected": [False, False]})}
    df = lookup_logs(logs, nb201_missing, dataset="fashion_mnist", bench_dataset="cifar10", method="nosplit",
                     algorithm="darts1", seed=0)
    assert df["test_acc"].iloc[0] == pytest.approx(nb201.accuracy(1, "cifar10")) and np.isnan(df["test_acc"].iloc[1])
    assert df["arch_index"].iloc[1] == best and not df["disconnected"].any()


def test_best_across_leaves_never_falls_to_the_next_leaf():
    complete = best_over_leaves(run_lookup(set())).set_index("selection")
    assert complete.loc["benchmark", "test_acc_mean"] == pytest.approx(93.21)
    assert (complete["missing_lookups"] == 0).all()
    summary = best_over_leaves(run_lookup({2})).set_index("selection")
    # before: 91.91, the next leaf's number; now unknown and flagged
    assert np.isnan(summary.loc["benchmark", "test_acc_mean"]) and summary.loc["benchmark", "missing_lookups"] == 1
    assert np.isnan(summary.loc["val_acc", "test_acc_mean"]) and summary.loc["val_acc", "missing_lookups"] == 1
    # a missing leaf that the validation pick does not need leaves that pick known
    other = best_over_leaves(run_lookup({0})).set_index("selection")
    assert np.isnan(other.loc["benchmark", "test_acc_mean"])
    assert other.loc["val_acc", "test_acc_mean"] == pytest.approx(93.21)
    assert other.loc["val_acc", "missing_lookups"] == 0
    # over seeds: one incomplete seed makes the mean unknown, not the mean of the others
    seeds = best_over_leaves(pd.concat([run_lookup(set(), seed=0), run_lookup({2}, seed=1)], ignore_index=True))
    bench = seeds.set_index("selection").loc["benchmark"]
    assert bench["num_seeds"] == 2 and np.isnan(bench["test_acc_mean"]) and np.isnan(bench["test_acc_std"])
    md = to_markdown(seeds)
    assert "n/a (1 missing)" in md and "91.91" not in md
    page = report_markdown(seeds)
    assert "n/a (k missing)" in page and "missing_lookups" in page
    assert "n/a" not in report_markdown(best_over_leaves(run_lookup(set())))


def test_oracle_and_regret_say_when_they_are_incomplete():
    sel = select_leaves(run_lookup({2}), [0.5, 1.0]).set_index("selector")
    assert not sel["oracle_complete"].any() and (sel["missing_lookups"] == 1).all()
    oracle = sel.loc["oracle"]
    # before: the oracle was leaf 1 (91.91) and regrets were measured against it
    assert pd.isna(oracle["leaf"]) and np.isnan(oracle["test_acc"]) and pd.isna(oracle["genotype"])
    assert sel["regret"].isna().all() and sel["oracle_leaf"].isna().all() and sel["oracle_dropped_at"].isna().all()
    assert sel.loc["val_acc", "leaf"] == 2 and np.isnan(sel.loc["val_acc", "test_acc"])  # its own pick is missing
    md = selection_markdown(sel.reset_index(), [0.5, 1.0])
    assert "| synflow | DARTS-1st | max (oracle) | n/a | n/a | n/a |" in md
    assert "unknown (1 seed)" in md and "seed 0: 1 leaf)" in md and "oracle_complete" in md and "91.91" not in md
    # a missing leaf the selectors do not pick still makes the oracle unknown, not the best of the rest
    sel0 = select_leaves(run_lookup({0}), [1.0]).set_index("selector")
    assert np.isnan(sel0.loc["oracle", "test_acc"]) and sel0.loc["val_acc", "test_acc"] == pytest.approx(93.21)
    assert np.isnan(sel0.loc["val_acc", "regret"])
    complete = select_leaves(run_lookup(set()), [1.0]).set_index("selector")
    assert complete["oracle_complete"].all() and complete.loc["oracle", "leaf"] == 2
    assert (complete["regret"] >= 0).all() and (complete["missing_lookups"] == 0).all()


def test_leaf_tables_count_known_architectures(nb201_missing, nb201):
    masks = [OpMask.full().restrict(0, [0]), OpMask.full().restrict(0, [1, 2, 3, 4])]
    acc = nb201_missing.frame["cifar10"].to_numpy()
    known = ~np.isnan(acc)
    dist = leaf_distribution(nb201_missing, masks, "cifar10", "m", 0.01)
    threshold = np.quantile(acc[known], 0.99)
    assert dist["top"].sum() == int(np.sum(acc[known] >= threshold)) > 0
    assert not dist.loc[~dist["known"], "top"].any() and dist["known"].sum() == known.sum()
    leaves = leaf_summary(nb201_missing, masks, dataset="fashion_mnist", bench_dataset="cifar10", method="m",
                          split_seed=0, top_fraction=0.01).set_index("leaf")  # before: ZeroDivisionError
    assert leaves["known"].sum() == known.sum() and (leaves["known"] < leaves["num_archs"]).all()
    assert leaves["top_share"].sum() == pytest.approx(1.0) and leaves["top_count"].sum() == dist["top"].sum()
    best_known = int(np.nanargmax(acc))
    assert best_known != int(nb201.frame["cifar10"].idxmax())  # the space's best is the missing one
    assert leaves["holds_best"].sum() == 1 and leaves["best_acc"].max() == acc[best_known]
    md = leaves_markdown(leaves.reset_index())
    assert "known)" in md and "no accuracy for" in md and "nan" not in md


def test_leaf_tables_with_no_known_accuracy(nb201, tmp_path):
    empty = table_with_missing(nb201, tmp_path / "t.parquet", np.ones(len(nb201.frame), dtype=bool))
    masks = [OpMask.full().restrict(0, [0]), OpMask.full().restrict(0, [1, 2, 3, 4])]
    leaves = leaf_summary(empty, masks, dataset="fashion_mnist", bench_dataset="cifar10", method="m", split_seed=0,
                          top_fraction=0.01)
    assert (leaves["known"] == 0).all() and leaves["top_share"].isna().all() and leaves["best_acc"].isna().all()
    assert not leaves["holds_best"].any() and leaves["best_arch"].isna().all()
    assert "n/a" in leaves_markdown(leaves)


def test_sampling_mass_is_over_known_architectures():
    mass = np.array([0.4, 0.3, 0.2, 0.1])
    acc = np.array([90.0, np.nan, 80.0, 70.0])
    rows = mass_rows(mass, acc, {0.5: 80.0})
    # before: NaN made nothing count; now mass on {0, 2} given a known accuracy: 0.6 / 0.7, baseline 2 / 3
    assert rows[0]["value"] == pytest.approx(0.6 / 0.7) and rows[0]["baseline"] == pytest.approx(2 / 3)
    assert rows[0]["n"] == 2
    none_known = mass_rows(mass, np.full(4, np.nan), {0.5: np.nan})
    assert np.isnan(none_known[0]["value"]) and np.isnan(none_known[0]["baseline"]) and none_known[0]["n"] == 0


def test_leaf_stage1_on_a_table_with_missing_accuracies(nb201_missing):
    torch.manual_seed(0)
    mask = OpMask.full().restrict(0, [0, 1]).restrict(1, [2, 3]).restrict(2, [3]).restrict(3, [1, 3])
    net = build_network(mask, channels=2, cells_per_stage=1, num_classes=3, in_channels=1).eval()
    calib = [torch.randn(4, 1, 8, 8)]
    evaluation = [(torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,)))]
    cfg = Stage1Config(sample=400, mass_fractions=(0.01, 0.5), top_fractions=(0.5,))
    rows = leaf_stage1(net, uniform_weights(mask), mask, nb201_missing, "cifar10", leaf=1, cfg=cfg, calib=calib,
                       evaluation=evaluation)
    member = nb201_missing.in_mask(mask)
    known = int(np.sum(member & nb201_missing.frame["cifar10"].notna().to_numpy()))
    assert 0 < known < mask.num_archs and all(r["known"] == known for r in rows)
    mass = {r["subset"]: r for r in rows if r["statistic"] == "mass"}
    # before: NaN thresholds, every mass 0; uniform alphas: mass = the uniform share, over the known ones
    assert mass[0.5]["value"] > 0.3 and all(r["value"] == pytest.approx(r["baseline"]) for r in mass.values())
    ranked = [r for r in rows if r["statistic"] == "kendall" and r["subset"] == 1.0]
    assert ranked[0]["n"] == known and np.isfinite(ranked[0]["value"])  # the sample is of known architectures
    frame = stage1_frame(rows, dataset="fashion_mnist", bench_dataset="cifar10", method="m", algorithm="darts1",
                         seed=0)
    assert frame["known"].dtype == np.int64


def drawn(monkeypatch) -> dict[str, list]:
    """Texts and ringed scatter points (black edge, no fill: the best-validation leaf's mark) of
    every figure saved (then saved as usual)."""
    seen: dict[str, list] = {"texts": [], "ringed": []}
    save = plots.save_figure

    def recording(fig, path):
        figure = fig.figure if not isinstance(fig, matplotlib.figure.Figure) else fig
        figure.canvas.draw()
        seen["texts"] += [t.get_text() for t in figure.findobj(matplotlib.text.Text)]
        for ax in figure.axes:
            for coll in ax.collections:
                faces, edges = coll.get_facecolors(), coll.get_edgecolors()
                unfilled = len(faces) == 0 or np.allclose(faces[:, 3], 0)
                if unfilled and len(edges) and (edges[0][:3] < 0.2).all() and len(coll.get_offsets()):
                    seen["ringed"] += [tuple(p) for p in coll.get_offsets()]
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", recording)
    return seen


def test_every_figure_draws_a_table_with_missing_accuracies(nb201_missing, tmp_path, monkeypatch):
    seen = drawn(monkeypatch)
    masks = [OpMask.full().restrict(0, [0, 1]), OpMask.full().restrict(0, [2, 3, 4])]
    dist = leaf_distribution(nb201_missing, masks, "cifar10", "random")
    plots.plot_distributions(dist, dataset="fashion_mnist", bench_dataset="cifar10", top_fraction=0.01,
                             path=tmp_path / "d.png")
    lookup = run_lookup({2})
    plots.plot_leaf_epochs(lookup, dataset="fashion_mnist", bench_dataset="cifar10", path=tmp_path / "e.png")
    # leaf 2 has the best validation accuracy at both epochs; its final lookup is missing, so epoch 2
    # has no ring (before: the mark moved to another leaf)
    assert seen["ringed"] == [(1.0, FINAL[2] - 5)]
    plots.plot_halving(lookup, select_leaves(lookup, [0.5, 1.0]), dataset="fashion_mnist", bench_dataset="cifar10",
                       path=tmp_path / "h.png")
    stage1 = pd.DataFrame([dict(dataset="fashion_mnist", bench_dataset="cifar10", method="synflow",
                                algorithm="darts1", seed=0, leaf=leaf, statistic=stat, subset=f,
                                value=math.nan if leaf == 1 else 0.3, baseline=0.2 if stat == "mass" else math.nan,
                                n=10, leaf_archs=100, known=0 if leaf == 1 else 90)
                           for leaf in (0, 1) for stat in ("mass", "kendall") for f in (0.5, 1.0)])
    plots.plot_stage1(stage1, dataset="fashion_mnist", bench_dataset="cifar10", path=tmp_path / "s.png")
    for name in ("d", "e", "h", "s"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(" ".join(seen["texts"]).split())  # titles are wrapped to the figure's width
    assert "architectures without an accuracy left out" in text
    assert "1 lookups missing in the benchmark table" in text
    assert "the oracle is unknown" in text and "over the architectures with a known benchmark accuracy" in text


def test_figures_with_nothing_known_say_so(nb201, tmp_path, monkeypatch):
    seen = drawn(monkeypatch)
    empty = table_with_missing(nb201, tmp_path / "t.parquet", np.ones(len(nb201.frame), dtype=bool))
    dist = leaf_distribution(empty, [OpMask.full()], "cifar10", "random")
    plots.plot_distributions(dist, dataset="fashion_mnist", bench_dataset="cifar10", top_fraction=0.01,
                             path=tmp_path / "d.png")
    plots.plot_leaf_epochs(run_lookup({0, 1, 2}).query("epoch == 2"), dataset="fashion_mnist",
                           bench_dataset="cifar10", path=tmp_path / "e.png")
    for name in ("d", "e"):
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    assert any("has no accuracy for any architecture" in t for t in seen["texts"])
    assert any("no NB201 CIFAR-10 accuracy to draw" in t for t in seen["texts"])



def test_selection_over_seeds_with_one_incomplete():
    lookup = pd.concat([run_lookup({2}, seed=0), run_lookup(set(), seed=1)], ignore_index=True)
    sel = select_leaves(lookup, [0.5, 1.0])
    assert list(sel.groupby("seed")["oracle_complete"].all()) == [False, True]
    md = selection_markdown(sel, [0.5, 1.0])
    assert "| max (oracle) | n/a | n/a | n/a |" in md and "± n/a" not in md and "unknown, kept (2 seeds)" in md
