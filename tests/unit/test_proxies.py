"""The proxy check: sample, correlations with bootstrap intervals, the table, its Markdown and
figure, and `fewshotnas proxies` on a handful of architectures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fewshotnas.analysis.proxies import SCORE_COLUMNS, sample_indices, scalar_metric_names
from fewshotnas.analysis.proxy_table import (
    PUBLISHED_CIFAR10,
    TABLE_COLUMNS,
    correlation,
    proxy_markdown,
    proxy_table,
    published_in_interval,
    write_outputs,
)
from fewshotnas.bench import BENCH_DATASETS
from fewshotnas.cli import main

ROOT = Path(__file__).resolve().parents[2]


def synthetic_scores(metric: str, score: np.ndarray, accuracy: np.ndarray) -> pd.DataFrame:
    """SCORE_COLUMNS rows with the same ``accuracy`` on every NB201 dataset."""
    n = len(score)
    frame = pd.DataFrame({"metric": metric, "index": np.arange(n), "arch_str": [f"a{i}" for i in range(n)],
                          "score": score, "finite": np.isfinite(score), "seconds": np.full(n, 0.5),
                          **{d: accuracy for d in BENCH_DATASETS}})
    return frame.astype(SCORE_COLUMNS)


def test_monotone_scores_give_one_and_reversed_minus_one():
    acc = np.linspace(50, 94, 40)
    for kind in ("spearman", "kendall"):
        assert correlation(np.exp(acc / 10), acc, kind, bootstrap=200, seed=0) == pytest.approx((1.0, 1.0, 1.0))
        assert correlation(-acc, acc, kind, bootstrap=200, seed=0) == pytest.approx((-1.0, -1.0, -1.0))


def test_interval_is_seeded_and_holds_the_estimate():
    rng = np.random.default_rng(1)
    acc = rng.normal(size=200)
    score = acc + rng.normal(size=200)
    first = correlation(score, acc, "spearman", bootstrap=300, seed=3)
    assert first == correlation(score, acc, "spearman", bootstrap=300, seed=3)
    assert first != correlation(score, acc, "spearman", bootstrap=300, seed=4)
    value, low, high = first
    assert low < value < high and 0.4 < value < 0.9 and high - low < 0.3
    assert math.isnan(correlation(score, acc, "spearman", bootstrap=0, seed=0)[1])


def test_nonfinite_scores_are_left_out_and_counted():
    acc = np.linspace(50, 94, 30)
    score = acc.copy()
    score[[3, 7, 11]] = [np.nan, np.inf, -np.inf]  # e.g. disconnected cells
    table = proxy_table(synthetic_scores("jacobcov", score, acc), bootstrap=50, seed=0)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert {str(c): str(t) for c, t in table.dtypes.items()} == TABLE_COLUMNS
    assert len(table) == len(BENCH_DATASETS)
    row = table.iloc[0]
    assert (row["n_archs"], row["n_finite"], row["n_nonfinite"]) == (30, 27, 3)
    assert row["spearman"] == pytest.approx(1.0) and row["kendall"] == pytest.approx(1.0)
    assert row["seconds_per_arch"] == pytest.approx(0.5)
    # fewer than three finite scores: no correlation
    few = score.copy()
    few[2:] = np.nan
    assert math.isnan(proxy_table(synthetic_scores("snip", few, acc), bootstrap=10, seed=0).iloc[0]["spearman"])


def test_published_values_sit_on_cifar10_rows_only():
    acc = np.linspace(50, 94, 30)
    rng = np.random.default_rng(0)
    frames = [synthetic_scores("synflow", acc + rng.normal(scale=8, size=30), acc),
              synthetic_scores("ntk", -acc, acc)]
    table = proxy_table(pd.concat(frames, ignore_index=True), bootstrap=100, seed=0).set_index(["metric",
                                                                                                 "bench_dataset"])
    assert table.loc[("synflow", "cifar10"), "published_low"] == PUBLISHED_CIFAR10["synflow"][0]
    assert table["published_low"].drop(("synflow", "cifar10")).isna().all()  # ntk: TE-NAS gives none
    assert pd.isna(table.loc[("ntk", "cifar10"), "published_in_interval"])


def test_published_in_interval_compares_signed_values():
    assert published_in_interval(0.70, 0.78, (0.74, 0.74)) is True
    assert published_in_interval(-0.78, -0.70, (0.74, 0.74)) is False  # the published ρ are positive
    assert published_in_interval(0.40, 0.58, (0.59, 0.60)) is False
    assert published_in_interval(0.55, 0.59, (0.59, 0.60)) is True  # ranges meet at 0.59
    assert published_in_interval(-0.1, 0.2, (0.15, 0.15)) is True
    assert published_in_interval(0.1, 0.2, None) is None
    assert published_in_interval(math.nan, math.nan, (0.5, 0.5)) is None


def test_markdown_rows_follow_the_papers_order_and_names(tmp_path):
    acc = np.linspace(50, 94, 20)
    frames = [synthetic_scores(m, s, acc) for m, s in (("params", acc), ("synflow", acc), ("ntk", -acc),
                                                         ("lr", np.full(20, 4.0)))]
    scores = pd.concat(frames, ignore_index=True)
    table = proxy_table(scores, bootstrap=20, seed=0)
    text = proxy_markdown(table, description="20 archs")
    rows = [line.split(" | ")[0].lstrip("| ") for line in text.splitlines() if line.startswith("| ")][1:]
    assert rows == ["synflow", "ntk", "#lr", "#params"]
    synflow = next(line for line in text.splitlines() if line.startswith("| synflow"))
    assert "1.00 [1.00, 1.00]" in synflow and "| 0.74 | no |" in synflow and "20 / 20" in synflow
    assert "not given" in next(line for line in text.splitlines() if line.startswith("| ntk"))
    assert "n/a" in next(line for line in text.splitlines() if line.startswith("| #lr"))  # constant scores
    assert text.startswith("20 archs")
    paths = dict(table_path=tmp_path / "t" / "proxies.parquet", markdown_path=tmp_path / "t" / "proxies.md",
                 scores_path=tmp_path / "t" / "proxies_scores.parquet", plot_path=tmp_path / "p" / "proxies.png")
    write_outputs(scores, table, description="20 archs", metadata={"rule": "test"}, **paths)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["table_path"]), table)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["scores_path"]), scores)
    assert paths["markdown_path"].read_text() == text
    assert (tmp_path / "p" / "proxies.png").stat().st_size > 0 and (tmp_path / "p" / "proxies.pdf").stat().st_size > 0


def test_sample_is_seeded_distinct_and_sorted():
    first = sample_indices(1000, 0)
    assert len(set(first.tolist())) == 1000 and (np.diff(first) > 0).all() and first.max() < 15625
    assert (first == sample_indices(1000, 0)).all() and not (first == sample_indices(1000, 1)).all()


def test_every_scalar_metric_is_checked_and_in_the_schema():
    names = scalar_metric_names()
    assert "gradientmatching" not in names and {"synflow", "jacobcov", "ntk", "lr", "params"} <= set(names)
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    enum = schema["properties"]["report"]["properties"]["proxies"]["properties"]["metrics"]["items"]["enum"]
    assert sorted(enum) == names


def test_proxies_cli_on_a_handful_of_architectures(capsys, tmp_path, fmnist_root):
    """Six architectures, two metrics, the tiny Fashion-MNIST: every output, and snip's raw
    scores equal to what `fewshotnas score` prints for the same architecture and data."""
    out = tmp_path / "out"
    common = ["--data", "fashion_mnist", "--root", str(fmnist_root), "--channels", "2", "--cells", "1",
              "--batch-size", "8", "--config", str(tmp_path / "none.yaml")]
    assert main(["proxies", "--samples", "6", "--metric", "snip", "--metric", "params", "--bootstrap", "20",
                 "--out", str(out), *common]) == 0
    err = capsys.readouterr().err
    assert "6 NB201 architectures (seed 0) at init, C=2, N=1, 1 × 8 Fashion-MNIST images at 28 px" in err
    assert "snip: 6/6 architectures" in err
    scores = pd.read_parquet(out / "tables" / "proxies_scores.parquet")
    assert len(scores) == 12 and set(scores["metric"]) == {"snip", "params"}
    assert (scores.groupby("metric")["index"].apply(list).map(tuple).nunique()) == 1  # one sample for all
    table = pd.read_parquet(out / "tables" / "proxies.parquet")
    assert len(table) == 2 * len(BENCH_DATASETS) and (table["n_archs"] == 6).all()
    assert "#params" in (out / "tables" / "proxies.md").read_text()
    assert (out / "plots" / "proxies.png").is_file() and (out / "plots" / "proxies.pdf").is_file()
    first = scores[scores["metric"] == "snip"].iloc[0]
    assert main(["score", "--metric", "snip", str(first["index"]), *common]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(first["score"])


def test_proxies_cli_rejects_a_vector_metric(capsys, tmp_path):
    assert main(["proxies", "--metric", "gradientmatching", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a scalar metric" in err and "synflow" in err
