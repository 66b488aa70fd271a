"""Search cost from Snakemake benchmark files, the winning run of a cell, leaf op labels."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_analysis import fake_lookup

from fewshotnas.analysis.cost import (
    benchmark_seconds,
    cell_costs,
    device_type,
    hours_text,
    run_costs,
    supernet_seconds,
    with_costs,
)
from fewshotnas.analysis.labels import leaf_code_label
from fewshotnas.analysis.plots import plot_cost
from fewshotnas.analysis.tables import best_over_leaves, report_markdown
from fewshotnas.space import OpMask

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench_file(path, *seconds: float):
    path.write_text(HEADER + "".join(f"{s}\t0:00:00\t1\t1\t1\t1\t0\t0\t0\t{s}\n" for s in seconds))
    return str(path)


def test_benchmark_seconds_reads_snakemake_files_and_refuses_others(tmp_path):
    assert benchmark_seconds(bench_file(tmp_path / "a.tsv", 12.5)) == 12.5
    assert benchmark_seconds(bench_file(tmp_path / "r.tsv", 10.0, 14.0)) == 12.0  # repeats: the mean
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="bad.tsv: not a Snakemake benchmark file"):
        benchmark_seconds(tmp_path / "bad.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(ValueError, match="empty.tsv"):
        benchmark_seconds(tmp_path / "empty.tsv")


def runs(tmp_path):
    split = [bench_file(tmp_path / f"level{lv}.tsv", 3.0 * lv) for lv in (1, 2)]  # 3 + 6 s
    fused = bench_file(tmp_path / "fused.tsv", 100.0)
    leaf = bench_file(tmp_path / "leaf0.tsv", 20.0)
    base = dict(dataset="fashion_mnist", algorithm="darts1")
    return [
        {**base, "method": "synflow", "seed": 0, "split": split, "search": [fused], "share": 1.0, "device": "cpu"},
        {**base, "method": "synflow", "seed": 1, "split": split, "search": [fused], "share": 0.5, "device": "cpu"},
        {**base, "method": "nosplit", "seed": 0, "split": [], "search": [leaf], "share": 1.0, "device": "cuda:0"},
    ]


def test_run_costs_sum_split_levels_and_searches(tmp_path):
    costs = run_costs(runs(tmp_path))
    assert costs["split_s"].tolist() == [9.0, 9.0, 0.0]
    assert costs["search_s"].tolist() == [100.0, 50.0, 20.0]  # a shared fused job counts its share
    assert costs["cost_s"].tolist() == [109.0, 59.0, 20.0]
    assert costs["cost_device"].tolist() == ["cpu", "cpu", "cuda"]
    cells = cell_costs(costs).set_index("method")
    assert cells.at["synflow", "cost_s"] == pytest.approx(84.0) and cells.at["nosplit", "cost_device"] == "cuda"
    bad = runs(tmp_path)[:1]
    bad[0]["share"] = 0.0
    with pytest.raises(ValueError, match="share 0.0"):
        run_costs(bad)
    assert supernet_seconds([bench_file(tmp_path / "sn.tsv", 33.0)]) == 33.0 and supernet_seconds([]) is None
    assert device_type(None) == "unknown" and device_type("cuda:1") == "cuda"


def test_with_costs_per_seed_and_per_cell(tmp_path):
    costs = run_costs(runs(tmp_path))
    per_seed = pd.DataFrame({"dataset": "fashion_mnist", "method": ["synflow", "synflow", "random"],
                             "algorithm": "darts1", "seed": [0, 1, 0]})
    joined = with_costs(per_seed, costs, ["dataset", "method", "algorithm", "seed"])
    assert joined["cost_s"].iloc[:2].tolist() == [109.0, 59.0] and math.isnan(joined["cost_s"].iat[2])
    cells = with_costs(per_seed.drop(columns="seed").drop_duplicates(), costs, ["dataset", "method", "algorithm"])
    assert cells["cost_s"].iat[0] == pytest.approx(84.0)


def test_hours_text():
    assert hours_text(1872, "cuda") == "0.52 GPU-h"
    assert hours_text(30, "cpu") == "0.0083 CPU-h"
    assert hours_text(36000 * 2.5, "cuda") == "25 GPU-h"
    assert hours_text(180, "cpu") == "0.050 CPU-h" and hours_text(3600, "cpu") == "1.0 CPU-h"
    assert hours_text(float("nan"), "cpu") == "n/a"


def test_main_table_names_the_winning_run_and_its_cost(tmp_path):
    lookup = fake_lookup()
    lookup["genotype"] = [f"g{leaf}s{seed}" for leaf, seed in zip(lookup["leaf"], lookup["seed"])]
    summary = best_over_leaves(lookup)
    bench = summary[summary.selection == "benchmark"].set_index("method")
    # the best run of random: seed 1 (86), its leaf 1, that leaf's final architecture
    assert (bench.at["random", "best_seed"], bench.at["random", "best_leaf"]) == (1, 1)
    assert bench.at["random", "best_genotype"] == "g1s1"
    val = summary[summary.selection == "val_acc"].set_index("method")
    assert (val.at["random", "best_seed"], val.at["random", "best_leaf"]) == (1, 0)  # val acc prefers leaf 0
    costs = pd.DataFrame([dict(dataset="fashion_mnist", method=m, algorithm="darts1", seed=s, split_s=0.0,
                               search_s=60.0 * (1 + s), cost_s=60.0 * (1 + s), cost_device="cpu")
                          for m in ("nosplit", "random", "synflow") for s in (0, 1)])
    with_cost = with_costs(summary, costs, ["dataset", "method", "algorithm"])
    assert (with_cost["cost_s"] == 90.0).all()
    page = report_markdown(with_cost, supernet_s=3600.0)
    assert "## Search cost" in page and "0.025 CPU-h" in page and "took 1.0 CPU-h more" in page
    plot_cost(with_cost, path=tmp_path / "cost.png")
    assert (tmp_path / "cost.pdf").read_bytes()[:5] == b"%PDF-"


def test_short_leaf_labels():
    mask = OpMask.full().restrict(0, [3]).restrict(2, [1, 2])
    assert mask.short_label() == "e0:{3x3} e2:{skip,1x1}"
    assert OpMask.full().short_label() == "all ops"
    assert leaf_code_label(mask.short_label()) == "e0:{3} e2:{s1}"
    assert leaf_code_label("all ops") == "all ops"
    assert OpMask.from_bits(mask.to_bits()) == mask


def test_stage1_columns_keep_one_meaning():
    from fewshotnas.analysis.stage1_columns import with_single_meaning_columns

    rows = pd.DataFrame({"statistic": ["mass", "kendall", "recall", "spearman"], "subset": [0.01, 1.0, 0.1, 0.25],
                         "n": [12, 40, 3, 10]})
    out = with_single_meaning_columns(rows)
    assert out["space_fraction"].tolist()[::2] == [0.01, 0.1] and out["space_fraction"].isna().tolist()[1::2] == [
        True, True]
    assert out["sample_fraction"].tolist()[1::2] == [1.0, 0.25] and out["sample_fraction"].isna().tolist()[::2] == [
        True, True]
    assert out["archs_above"].tolist()[::2] == [12, 3] and out["archs_above"].isna().tolist()[1::2] == [True, True]
    assert out["archs_ranked"].tolist()[1::2] == [40, 10] and out["subset"].tolist() == rows["subset"].tolist()


def test_markdown_tables_become_html_pages_with_the_same_cells():
    from fewshotnas.analysis.html import markdown_page_html

    md = "# Leaves\n\nSome *text*.\n\n| leaf | best |\n|---|---|\n| 0 | `\\|nor_conv_3x3~0\\|+\\|none~0\\|` |\n"
    page = markdown_page_html(md, "Leaves & more")
    assert page.startswith("<!DOCTYPE html>") and "<title>Leaves &amp; more</title>" in page
    assert "<table>" in page and "<td>0</td>" in page and "<em>text</em>" in page
    assert "<code>|nor_conv_3x3~0|+|none~0|</code>" in page and "\\|" not in page
