"""config/all_algorithms.yaml on the tiny workflow: all eight algorithms through every table, and
the fused program against leaves searched one by one."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import yaml
from conftest import make_fashion_mnist
from test_workflow import ROOT, search_logs, snakemake, tiny_config


def test_all_eight_algorithms_leaf_by_leaf_and_fused(tmp_path):
    """config/all_algorithms.yaml on the tiny workflow (one random split tree of 4 leaves per algorithm;
    no-splitting searches are the main workflow test's): every cell of the main, stage-1 and selection
    tables is finite for all eight algorithms. The tiny config's tree jobs search their leaves one after
    another on a CPU, each exactly as its own job would; the fused program (fuse_mode: fused) gives
    every leaf the same genotype, and losses equal to 1e-3 after the first epoch and 1e-2 after the
    last. Float32 kernels of K leaves and of one round differently, and SGD carries that apart over the
    epochs (2.9e-3 measured for a SNAS leaf in epoch 2); a small arch_lr keeps Adam from turning it into
    ±arch_lr steps. In float64 the unit tests find fused and separate equal to 1e-7
    (tests/unit/test_fused.py)."""
    eight = tiny_config(make_fashion_mnist(tmp_path / "fmnist", n_train=200, n_test=60))
    eight["split"].update(methods=["random"], seeds=[0])
    eight["search"].update(seeds=[0], nosplit=False)
    eight["search"]["hparams"].update(arch_lr=1e-5, rsps_samples=5)
    eight["report"]["stage2"].update(selectors=["prune", "valid"], baselines=False)
    separate_dir, fused_dir = tmp_path / "separate", tmp_path / "fused"
    separate_dir.mkdir()
    config = tmp_path / "eight.yaml"
    config.write_text(yaml.safe_dump(eight))
    snakemake(separate_dir, config, "--configfile", str(config), str(ROOT / "config" / "all_algorithms.yaml"))
    res = separate_dir / "results" / "tiny" / "tables"
    table = pd.read_parquet(res / "fashion_mnist.parquet")
    assert set(table["algorithm"]) == {"darts1", "darts2", "darts_minus", "snas", "dsnas", "gdas", "drnas", "rsps"}
    assert np.isfinite(table["test_acc_mean"]).all() and table["test_acc_mean"].between(0, 100).all()
    md = (res / "fashion_mnist.md").read_text()
    assert all(label in md for label in ("DARTS-", "GDAS", "DrNAS", "RSPS"))
    assert md.index("DARTS-2nd") < md.index("DARTS- ") < md.index("SNAS") < md.index("GDAS") < md.index("RSPS")
    stage1 = pd.read_parquet(res / "fashion_mnist_stage1.parquet")
    assert set(stage1["algorithm"]) == set(table["algorithm"])
    assert np.isfinite(stage1.loc[stage1.statistic == "mass", "value"]).all()
    overall = stage1[stage1.statistic.isin(["kendall", "spearman"]) & (stage1.subset == 1.0)]  # top-f of < 3: NaN
    assert overall["value"].between(-1, 1).all()
    curves = stage1[stage1.statistic.isin(["recall", "cum_mass"])]["value"].dropna()
    assert curves.between(0, 1 + 1e-9).all()  # a mass summed over the leaf may exceed 1 by float rounding
    rsps_mass = stage1[(stage1.algorithm == "rsps") & (stage1.statistic == "mass")]
    np.testing.assert_allclose(rsps_mass["value"], rsps_mass["baseline"], atol=1e-9)  # uniform by construction
    selection = pd.read_parquet(res / "fashion_mnist_selection.parquet")
    assert set(selection["algorithm"]) == set(table["algorithm"]) and np.isfinite(selection["regret"]).all()
    two = pd.read_parquet(res / "fashion_mnist_two_stage.parquet")
    undefined = two[~two["defined"]]
    assert set(zip(undefined["algorithm"], undefined["selector"])) == {("rsps", "prune")}  # no alphas: no number
    assert undefined["test_acc"].isna().all() and np.isfinite(two.loc[two["defined"], "test_acc"]).all()
    assert "undefined" in (res / "fashion_mnist_two_stage.md").read_text()

    shutil.copytree(separate_dir, fused_dir, ignore=shutil.ignore_patterns(".snakemake", "benchmark", "stage1",
                                                                          "stage2", "tables", "plots"))
    shutil.rmtree(fused_dir / "results/tiny/search/fashion_mnist/random")  # the trees' searches run again, fused
    fused = copy.deepcopy(eight)
    fused["search"].update(fuse="tree", fuse_mode="fused")  # the fused program, not leaves one by one (a CPU's auto)
    fused_config = tmp_path / "eight_fused.yaml"
    fused_config.write_text(yaml.safe_dump(fused))
    algorithms = yaml.safe_load((ROOT / "config" / "all_algorithms.yaml").read_text())["search"]["algorithms"]
    targets = [f"results/tiny/search/fashion_mnist/random/{algo}/seed0/leaf{leaf}/log.parquet"
               for algo in algorithms for leaf in range(4)]  # the fused trees
    log = snakemake(fused_dir, fused_config, *targets, "--configfile", str(fused_config),
                    str(ROOT / "config" / "all_algorithms.yaml"))
    assert "rule search_tree" in log and "rule search_leaf" not in log and "rule stage1" not in log
    a, b = search_logs(separate_dir), search_logs(fused_dir)
    assert a.keys() == b.keys() and len(a) == 4 * 8
    for path, log in a.items():
        assert list(log["genotype"]) == list(b[path]["genotype"]), path
        for col in ("train_loss", "val_loss"):
            fused_loss, separate_loss = b[path][col], log[col]
            np.testing.assert_allclose(fused_loss.iloc[0], separate_loss.iloc[0], atol=1e-3, rtol=1e-3,
                                       err_msg=f"{path} {col}, first epoch")
            np.testing.assert_allclose(fused_loss, separate_loss, atol=1e-2, rtol=1e-2, err_msg=f"{path} {col}")
