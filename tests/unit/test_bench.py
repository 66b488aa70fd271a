"""The shipped NB201 table, lookups and the benchmark lookup of search logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fewshotnas.bench import BENCH_DATASETS, NB201Table, convert_csv
from fewshotnas.bench.lookup import lookup_logs
from fewshotnas.space import OpMask, genotype_to_str


def test_table_sanity(nb201):
    df = nb201.frame
    assert len(df) == 15625 and df["arch_str"].nunique() == 15625
    assert list(df["index"]) == list(range(15625))
    # published optima of NAS-Bench-201 (test accuracy, 200 epochs)
    assert df["cifar10"].max() == pytest.approx(94.37, abs=0.01)
    assert df["cifar100"].max() == pytest.approx(73.51, abs=0.01)
    assert df["imagenet16_120"].max() == pytest.approx(47.31, abs=0.01)


def test_lookups(nb201):
    s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert nb201.index_of(s) == 1
    assert nb201.accuracy(1, "cifar10") == pytest.approx(93.66, abs=1e-6)
    assert nb201.accuracy(s, "cifar10") == nb201.accuracy(nb201.genotype(1), "cifar10")
    with pytest.raises(ValueError, match="unknown benchmark dataset"):
        nb201.accuracy(1, "mnist")
    with pytest.raises(IndexError):
        nb201.arch_str(15625)


def test_in_mask_counts(nb201):
    mask = OpMask.full().restrict(0, [1, 3]).restrict(5, [0])
    member = nb201.in_mask(mask)
    assert member.sum() == mask.num_archs
    assert all(mask.contains(nb201.genotype(i)) for i in np.flatnonzero(member)[:50])


def test_convert_csv_round_trip(tmp_path, nb201):
    csv = tmp_path / "nb.csv"
    src = nb201.frame.rename(columns={"cifar10": "CIFAR10TestAccuracy200Epochs",
                                      "cifar100": "CIFAR100TestAccuracy200Epochs",
                                      "imagenet16_120": "ImageNetTestAccuracy200Epochs",
                                      "arch_str": "ArchitectureString", "unique_str": "UniqueString"})
    src.drop(columns="index").to_csv(csv, index=False)
    back = convert_csv(csv)
    pd.testing.assert_frame_equal(back, nb201.frame, check_exact=False)
    src.head(10).drop(columns="index").to_csv(csv, index=False)
    with pytest.raises(ValueError, match="15625"):
        convert_csv(csv)


def test_missing_table_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="resources/nb201"):
        NB201Table(tmp_path / "none.parquet")


def test_lookup_logs(nb201):
    g0, g1 = (3, 3, 3, 1, 3, 3), (0, 0, 0, 0, 0, 0)
    logs = {leaf: pd.DataFrame({"epoch": [1, 2], "genotype": [genotype_to_str(g), genotype_to_str(g)],
                                "val_acc": [50.0, 60.0 + leaf], "val_loss": [2.0, 1.0], "train_acc": [40.0, 70.0],
                                "disconnected": [False, False]})
            for leaf, g in enumerate([g0, g1])}
    df = lookup_logs(logs, nb201, dataset="fashion_mnist", bench_dataset="cifar10", method="random",
                     algorithm="darts1", seed=0)
    assert len(df) == 4 and set(df["bench_dataset"]) == {"cifar10"}
    assert df.loc[df.leaf == 0, "test_acc"].iloc[0] == pytest.approx(nb201.accuracy(g0, "cifar10"))
    assert df.loc[df.leaf == 1, "test_acc"].iloc[0] == pytest.approx(10.0)
    assert str(df["genotype"].dtype) == "string" and df["arch_index"].dtype == np.int64
    assert df["split_seed"].isna().all() and df["leaf_mask"].isna().all()  # nosplit-like call: no tree
    joined = lookup_logs(logs, nb201, dataset="fashion_mnist", bench_dataset="cifar10", method="random",
                         algorithm="darts1", seed=0, split_seed=3, masks={0: "0" * 30, 1: "1" * 30})
    assert (joined["split_seed"] == 3).all() and list(joined.drop_duplicates("leaf")["leaf_mask"]) == ["0" * 30,
                                                                                                   "1" * 30]
    assert set(BENCH_DATASETS) == {"cifar10", "cifar100", "imagenet16_120"}
