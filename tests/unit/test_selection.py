"""Supernet selection and successive halving on hand-made runs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fewshotnas.analysis.leaves import leaf_summary, leaves_markdown
from fewshotnas.analysis.selection import cut_epochs, select_leaves, selection_markdown, successive_halving
from fewshotnas.bench.lookup import LOOKUP_COLUMNS
from fewshotnas.space import OpMask


def curves(table: dict[int, list[float]]) -> pd.DataFrame:
    """leaf → validation accuracy per epoch (1-based)."""
    return pd.DataFrame([dict(leaf=leaf, epoch=e + 1, val_acc=v) for leaf, vals in table.items()
                         for e, v in enumerate(vals)])


def test_cut_epochs_scale_the_papers_schedule():
    assert cut_epochs([30 / 600, 100 / 600, 1.0], 600) == [30, 100, 600]
    assert cut_epochs([0.05, 1 / 6, 1.0], 60) == [3, 10, 60]
    assert cut_epochs([0.05, 1 / 6, 1.0], 4) == [1, 1, 4]  # two cuts on epoch 1: halve twice there
    assert cut_epochs([0.5], 3) == [2]
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        cut_epochs([0.0, 1.0], 10)
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        cut_epochs([], 10)


def test_successive_halving_by_hand():
    # 8 leaves, 4 epochs, cuts at epochs 1, 2, 4.
    # epoch 1: ranking 7,6,5,4,3,2,1,0 by accuracy (leaf k has k) -> keep 4..7, drop 0..3 at 1
    # epoch 2: leaf 4 now best, then 5, then 7, 6 -> keep 4, 5; drop 6, 7 at 2
    # epoch 4: 5 beats 4 -> survivor 5, drop 4 at 4
    table = {k: [float(k), float(k), 0.0, float(k)] for k in range(8)}
    table[4][1], table[5][1], table[7][1], table[6][1] = 99.0, 98.0, 97.0, 96.0
    table[4][3], table[5][3] = 50.0, 60.0
    survivor, dropped = successive_halving(curves(table), [1, 2, 4])
    assert survivor == 5
    assert dropped == {0: 1, 1: 1, 2: 1, 3: 1, 6: 2, 7: 2, 4: 4}


def test_halving_ties_nan_and_leftovers():
    # ties go to the lower leaf index; NaN ranks last; 3 leaves: ceil(3/2) = 2 kept
    table = {0: [50.0, 10.0], 1: [50.0, 20.0], 2: [math.nan, 99.0]}
    survivor, dropped = successive_halving(curves(table), [1])
    # after the one scheduled cut 0 and 1 remain; the final pick at the last epoch takes 1 (20 > 10)
    assert dropped == {2: 1, 0: 2} and survivor == 1
    survivor, dropped = successive_halving(curves({0: [5.0], 1: [5.0]}), [1])
    assert survivor == 0 and dropped == {1: 1}


def lookup(val: dict[int, list[float]], loss: dict[int, list[float]], test: dict[int, float],
           method: str = "synflow", seed: int = 0) -> pd.DataFrame:
    rows = []
    for leaf, vals in val.items():
        for e, v in enumerate(vals):
            rows.append(dict(dataset="fashion_mnist", bench_dataset="cifar10", method=method, algorithm="snas",
                             seed=seed, split_seed=0, leaf=leaf, leaf_mask="1" * 30, epoch=e + 1,
                             genotype=f"g{leaf}", arch_index=leaf,
                             test_acc=test[leaf] if e == len(vals) - 1 else 0.0, val_acc=v, val_loss=loss[leaf][e],
                             train_acc=50.0, disconnected=False))
    return pd.DataFrame(rows).astype(LOOKUP_COLUMNS)


def test_selectors_regret_and_oracle_drop():
    val = {0: [90.0, 80.0], 1: [10.0, 85.0], 2: [50.0, 70.0], 3: [60.0, 75.0]}
    loss = {0: [1.0, 0.9], 1: [1.0, 0.5], 2: [1.0, 0.4], 3: [1.0, 0.8]}
    test = {0: 91.0, 1: 92.0, 2: 93.5, 3: 90.0}
    sel = select_leaves(lookup(val, loss, test), [0.5, 1.0]).set_index("selector")
    assert sel.loc["val_acc", "leaf"] == 1 and sel.loc["val_loss", "leaf"] == 2 and sel.loc["oracle", "leaf"] == 2
    # halving at epoch 1 keeps 0 and 3 (90, 60), at epoch 2 keeps 0 (80 > 75): oracle leaf 2 dropped at 1
    assert sel.loc["halving", "leaf"] == 0
    assert sel.loc["halving", "regret"] == pytest.approx(2.5) and sel.loc["val_loss", "regret"] == 0.0
    assert sel.loc["val_acc", "regret"] == pytest.approx(1.5)
    assert (sel["oracle_dropped_at"] == 1).all() and (sel["oracle_leaf"] == 2).all()
    assert (sel["cut_epochs"] == "1,2").all()
    md = selection_markdown(sel.reset_index(), [0.5, 1.0])
    assert "| synflow | SNAS | successive halving | 91.00 | 91.00 | 2.50 | epoch 1 (1 seed) |" in md
    assert md.index("validation accuracy") < md.index("validation loss") < md.index("successive halving")
    assert "NB201 CIFAR-10" in md and "Fashion-MNIST" in md


def test_selection_skips_single_leaf_runs_and_aggregates_seeds():
    val = {0: [1.0, 2.0], 1: [3.0, 4.0]}
    loss = {0: [1.0, 1.0], 1: [1.0, 1.0]}
    both = pd.concat([lookup(val, loss, {0: 90.0, 1: 80.0}, seed=0), lookup(val, loss, {0: 80.0, 1: 90.0}, seed=1),
                      lookup({0: [1.0, 2.0]}, {0: [1.0, 1.0]}, {0: 85.0}, method="nosplit")])
    sel = select_leaves(both, [1.0])
    assert set(sel["method"]) == {"synflow"} and len(sel) == 2 * 4
    halving = sel[sel.selector == "halving"].sort_values("seed")
    assert list(halving["test_acc"]) == [80.0, 90.0] and list(halving["regret"]) == [10.0, 0.0]
    assert list(halving["oracle_dropped_at"].astype(object)) == [2, pd.NA]
    md = selection_markdown(sel, [1.0])
    assert f"| 90.00 | 85.00 ± {np.std([80, 90], ddof=1):.2f} | 5.00 | epoch 2, kept (2 seeds) |" in md


def test_leaf_summary(nb201):
    full = OpMask.full()
    # split edge 0: leaf 0 keeps only `none`, leaf 1 the other four ops
    masks = [full.restrict(0, [0]), full.restrict(0, [1, 2, 3, 4])]
    leaves = leaf_summary(nb201, masks, dataset="fashion_mnist", bench_dataset="cifar10", method="m",
                          split_seed=3, top_fraction=0.01).set_index("leaf")
    assert list(leaves["num_archs"]) == [3125, 12500] and leaves["space_share"].sum() == pytest.approx(1.0)
    acc = nb201.frame["cifar10"].to_numpy()
    top = acc >= np.quantile(acc, 0.99)
    member0 = nb201.in_mask(masks[0])
    assert leaves.loc[0, "top_count"] == int(np.sum(top & member0))
    assert leaves["top_count"].sum() == int(top.sum()) and leaves["top_share"].sum() == pytest.approx(1.0)
    best = int(np.argmax(acc))
    holder = 0 if member0[best] else 1
    assert leaves.loc[holder, "holds_best"] and not leaves.loc[1 - holder, "holds_best"]
    assert leaves.loc[holder, "best_acc"] == acc[best] and leaves.loc[holder, "best_arch"] == nb201.arch_str(best)
    assert (leaves["split_seed"] == 3).all()


def test_leaves_markdown_escapes_benchmark_strings(nb201):
    masks = [OpMask.full().restrict(0, [0]), OpMask.full().restrict(0, [1, 2, 3, 4])]
    leaves = leaf_summary(nb201, masks, dataset="fashion_mnist", bench_dataset="cifar10", method="lr",
                          split_seed=0, top_fraction=0.01)
    md = leaves_markdown(leaves)
    assert "## #lr" in md and "NB201 CIFAR-10" in md and "top 1 %" in md and " ★ " in md
    rows = [line for line in md.splitlines() if line.startswith("| 0 |")]
    assert len(rows) == 2
    for row in rows:  # the benchmark string's pipes are escaped: every row has the header's 9 cells
        assert len(row.replace("\\|", "").strip("|").split("|")) == 9
