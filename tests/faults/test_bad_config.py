"""Configs that would run but diverge or make no sense: refused while the workflow is planned,
one line each; and runs that diverge without reaching inf, or a base supernet that learned
nothing, stop with the numbers."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from fewshotnas.configcheck import DEFAULT_MAX_LEAVES, check_config
from fewshotnas.data import prepare_data
from fewshotnas.search import get_algorithm, run_search
from fewshotnas.space import OpMask
from fewshotnas.train.loop import (
    DivergenceError,
    UntrainedSupernetError,
    check_finite,
    check_supernet_learned,
    train_supernet,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
MAX_SEED = 2**32 - 1


def edited(**changes):
    """The default config with ``changes`` (dotted key → value) applied."""
    cfg = copy.deepcopy(DEFAULT)
    for path, value in changes.items():
        *parents, key = path.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[key] = value
    return cfg


CASES = [
    ({"search.hparams.lr_min": 0.1}, r"search\.hparams\.lr_min = 0\.1 exceeds search\.hparams\.lr = 0\.025: "
                                     r"the cosine schedule would raise the learning rate; set lr_min ≤ lr"),
    ({"supernet.train.momentum": 5}, r"supernet\.train\.momentum: 5 is out of range: allowed ≥ 0 and < 1"),
    ({"search.hparams.momentum": 1.0}, r"search\.hparams\.momentum: 1\.0 is out of range: allowed ≥ 0 and < 1"),
    ({"search.hparams.momentum": -0.1}, r"search\.hparams\.momentum: -0\.1 is out of range"),
    ({"supernet.train.lr": -0.1}, r"supernet\.train\.lr: -0\.1 is out of range: allowed > 0"),
    ({"search.hparams.arch_lr": 0}, r"search\.hparams\.arch_lr: 0 is out of range: allowed > 0"),
    ({"data.image_size": 10}, r"data\.image_size: 10 is not a multiple of 4: use 8 or 12"),
    ({"data.image_size": 30}, r"data\.image_size: 30 is not a multiple of 4: use 28 or 32"),
    ({"data.seed": 2**62}, r"data\.seed: 4611686018427387904 is out of range: allowed 0\.\.4294967295"),
    ({"supernet.seed": 2**32}, r"supernet\.seed: 4294967296 is out of range: allowed 0\.\.4294967295"),
    ({"split.seeds": [0, 2**62]}, r"split\.seeds\.1: 4611686018427387904 is out of range"),
    ({"search.seeds": [2**63]}, r"search\.seeds: .*out of range|search\.seeds\.0: .*out of range"),
    ({"report.stage1.seed": 2**40}, r"report\.stage1\.seed: 1099511627776 is out of range"),
    ({"experiment": ".."}, r"experiment: '\.\.' is not one plain folder name"),
    ({"experiment": "."}, r"experiment: '\.' is not one plain folder name"),
    ({"experiment": "a/../b"}, r"experiment: 'a/\.\./b' does not match"),
    ({"report.stage1.bn_batches": 100}, r"report\.stage1\.bn_batches × report\.stage1\.batch_size = 100 × 64 = 6400 "
                                        r"exceeds the 1000 weight-half images of fashion_mnist"),
    ({"report.stage1.batch_size": 4000}, r"= 2 × 4000 = 8000 exceeds the 1000 weight-half images"),
    ({"split.policy": "exhaustive", "split.depth": 6, "split.edges": [0, 1, 2, 3, 4, 5]},
     r"split: a tree of 15625 leaves \(policy exhaustive, depth 6\) exceeds split\.max_leaves = 1000.*raise "
     r"split\.max_leaves to plan it"),
    ({"split.depth": 6, "split.branching": 4, "split.edges": [0, 1, 2, 3, 4, 5]}, r"a tree of 4096 leaves"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize("changes, message", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c, _ in CASES])
def test_config_that_would_diverge_or_mislead_is_refused(changes, message):
    problems = check_config(edited(**changes), SCHEMA)
    assert len(problems) == 1 and len(problems[0]) < 300, problems
    assert problems[0].startswith("config ") and re.search(message, problems[0]), problems[0]


@pytest.mark.bad_input
def test_limits_accept_their_edges_and_the_shipped_configs():
    ok = edited(**{"data.seed": MAX_SEED, "split.seeds": [MAX_SEED], "search.seeds": [0, MAX_SEED],
                   "search.hparams.lr_min": 0.025, "supernet.train.momentum": 0.0, "data.image_size": 12,
                   "report.stage1.bn_batches": 15, "experiment": "run.2"})
    assert check_config(ok, SCHEMA) == []
    big = edited(**{"split.policy": "exhaustive", "split.depth": 6, "split.edges": [0, 1, 2, 3, 4, 5],
                    "split.max_leaves": 20000})
    assert check_config(big, SCHEMA) == []  # the documented override
    assert SCHEMA["properties"]["split"]["properties"]["max_leaves"]["default"] == DEFAULT_MAX_LEAVES
    for path in (ROOT / "config" / "paper.yaml", ROOT / ".test" / "config" / "config.yaml"):
        assert check_config(yaml.safe_load(path.read_text()), SCHEMA) == [], path


@pytest.mark.bad_input
def test_the_largest_seed_runs_where_seeds_are_derived(fmnist_root, tmp_path):
    """2^32 − 1 reaches every derived seed (data order, metric batches, search streams) without
    overflow; 2^62 did not."""
    from fewshotnas.split.level import metric_batches

    data = prepare_data("fashion_mnist", fmnist_root, subset=64, test_subset=8, image_size=8, seed=MAX_SEED)
    assert len(metric_batches(data, 1, 8, MAX_SEED * 1000 + 3, torch.device("cpu"))) == 1
    log = run_search(get_algorithm("darts1"), data, mask=OpMask.full().restrict(0, [2, 3]),
                     network={"channels": 2, "cells_per_stage": 1},
                     search={"epochs": 1, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01,
                             "eval_batch_size": 64}, seed=MAX_SEED, out_final=tmp_path / "f.pt",
                     resume_path=tmp_path / "r.pt", quiet=True)
    assert len(log) == 1


@pytest.mark.fault
def test_loss_that_grows_without_reaching_inf_stops_like_nan():
    rows = [{"epoch": 1, "train_loss": 3.0}]
    check_finite("search", 2, 150.0, rows, num_classes=10)  # 50×: a bad epoch, not divergence
    with pytest.raises(DivergenceError, match=r"search diverged at epoch 2: training loss 5e\+11 is more than "
                                              r"100× its first epoch's loss 3; Lower the learning rate"):
        check_finite("search", 2, 5e11, rows, num_classes=10)
    with pytest.raises(DivergenceError, match=r"epoch 1: training loss 300 is more than 100× a uniform guess's "
                                              r"loss ln\(10\) = 2\.303"):
        check_finite("search", 1, 300.0, [], num_classes=10)
    # a first epoch that already fits well does not make a normal second epoch look diverged
    check_finite("search", 2, 1.0, [{"epoch": 1, "train_loss": 0.001}], num_classes=10)


@pytest.mark.fault
def test_supernet_whose_loss_explodes_but_stays_finite_stops(fmnist_root, tmp_path, monkeypatch):
    """An epoch whose loss is 10^4 times the first's (finite: what momentum 5 gave, ~1e11) stops
    the training loop instead of writing a supernet that feeds the splits."""
    import fewshotnas.train.loop as loop

    data = prepare_data("fashion_mnist", fmnist_root, subset=96, test_subset=10, image_size=8)
    real, calls = loop.train_epoch, {"n": 0}

    def second_epoch_explodes(*args, **kwargs):
        calls["n"] += 1
        loss, acc = real(*args, **kwargs)
        return (loss * 1e4 if calls["n"] == 2 else loss), acc

    monkeypatch.setattr(loop, "train_epoch", second_epoch_explodes)
    with pytest.raises(DivergenceError, match=r"base supernet diverged at epoch 2: training loss [0-9.e+]+ is more "
                                              r"than 100× .*Lower the learning rate"):
        train_supernet(data, network={"channels": 2, "cells_per_stage": 1}, train={"epochs": 3, "batch_size": 16},
                       seed=0, out_checkpoint=tmp_path / "s.pt", resume_path=tmp_path / "s.resume.pt", quiet=True)
    assert not (tmp_path / "s.pt").exists()


@pytest.mark.fault
def test_supernet_that_never_beats_chance_stops_before_splitting():
    log = pd.DataFrame({"epoch": [1, 2, 3, 4], "test_acc": [9.0, 12.5, 11.0, 10.0]})
    with pytest.raises(UntrainedSupernetError, match=r"best test accuracy 12\.5 % \(epoch 2 of 4\) does not beat "
                                                     r"chance \(10\.0 % for 10 classes\) by "
                                                     r"supernet\.chance_margin = 5 points"):
        check_supernet_learned(log, 10, 5, "train_log.parquet")
    check_supernet_learned(log, 10, 2, "train_log.parquet")  # 12.5 > 10 + 2
    check_supernet_learned(log, 10, None, "train_log.parquet")  # no check
    check_supernet_learned(pd.DataFrame({"epoch": [1], "test_acc": [math.nan]}), 10, 5, "x")  # nothing to judge
    default_margin = SCHEMA["properties"]["supernet"]["properties"]["chance_margin"]["default"]
    readme_supernet = pd.DataFrame({"epoch": [4], "test_acc": [74.5]})  # the default config's (README)
    check_supernet_learned(readme_supernet, 10, default_margin, "x")
