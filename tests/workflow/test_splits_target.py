"""`snakemake splits` alone on the tiny config (its own file, so that it runs beside the
main workflow test's module rather than after it)."""

from __future__ import annotations

import pandas as pd
import torch
import yaml
from conftest import make_fashion_mnist
from test_workflow import snakemake, tiny_config


def test_splits_target_with_warmup_fresh_weights_and_cutcost(tmp_path):
    """`snakemake splits` alone: fresh weights need no supernet; warm-up weights pass down
    the levels; cutcost picks edges per node; the trees still partition the space."""
    cfg = tiny_config(make_fashion_mnist(tmp_path / "fmnist", n_train=120, n_test=20))
    cfg["split"].update(methods=["gradnorm", "random"], depth=3, seeds=[0], weights="init", warmup_epochs=1,
                        edge_choice="cutcost", edges=[0, 1, 2, 3])
    config = tmp_path / "warm.yaml"
    config.write_text(yaml.safe_dump(cfg))
    log = snakemake(tmp_path, config, "splits")
    res = tmp_path / "results" / "tiny"
    assert not (res / "supernet").exists() and "train_supernet" not in log
    for level, nodes in ((1, 0), (2, 2), (3, 4)):
        warm = torch.load(res / f"split/fashion_mnist/gradnorm/seed0/level{level}/warm.pt", weights_only=True)
        assert len(warm["states"]) == nodes
    for method in ("gradnorm", "random"):
        tree = pd.read_parquet(res / f"split/fashion_mnist/{method}/seed0/level3/tree.parquet")
        assert tree.loc[tree.leaf >= 0, "num_archs"].sum() == 15625 and tree["leaf"].max() == 7
    scores = pd.read_parquet(res / "split/fashion_mnist/gradnorm/seed0/level1/scores.parquet")
    assert set(scores["edge"]) == {0, 1, 2, 3} and scores.groupby("edge")["chosen"].all().sum() == 1
    assert (res / "plots" / "fashion_mnist" / "split_distance.png").exists()
