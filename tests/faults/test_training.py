"""Faults while training: divergence, a leaf with nothing to search, kills, resume files from
other code or data."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from conftest import make_fashion_mnist, run_killed

import fewshotnas.search.engine as engine
from fewshotnas.analysis.tables import best_over_leaves, report_markdown
from fewshotnas.bench.lookup import lookup_logs
from fewshotnas.data import prepare_data
from fewshotnas.search import get_algorithm, run_search
from fewshotnas.space import OpMask
from fewshotnas.train.loop import DivergenceError, EmptyEpochError, train_supernet

pytestmark = pytest.mark.fault

NETWORK = {"channels": 2, "cells_per_stage": 1}
SEARCH = {"epochs": 3, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64}
MASK = OpMask.full().restrict(0, [2, 3])
# edges 3, 4, 5 (into the output node) allow only `none`: no architecture reaches the output
DISCONNECTED = OpMask.full().restrict(3, [0]).restrict(4, [0]).restrict(5, [0])


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=96, test_subset=10, image_size=8)


def search(data, tmp_path, name, algo="darts1", **kw):
    return run_search(get_algorithm(algo), data, mask=kw.pop("mask", MASK), network=NETWORK,
                      search=kw.pop("search", SEARCH), seed=0, out_final=tmp_path / f"{name}.pt",
                      resume_path=tmp_path / f"{name}.resume.pt", quiet=True, **kw)


@pytest.mark.parametrize("algo", ["darts1", "snas"])
def test_diverging_search_stops_with_the_epoch(data, tmp_path, algo):
    with pytest.raises(DivergenceError, match=r"diverged at epoch 1: non-finite .*Lower the learning rate"):
        search(data, tmp_path, "d", algo=algo, search={**SEARCH, "lr": 1e12, "grad_clip": None})
    assert not (tmp_path / "d.pt").exists()


def test_diverging_supernet_names_the_last_finite_loss(data, tmp_path, monkeypatch):
    import fewshotnas.train.loop as loop

    real = loop.train_epoch
    calls = {"n": 0}

    def second_epoch_diverges(*args, **kwargs):
        calls["n"] += 1
        loss, acc = real(*args, **kwargs)
        return (float("nan") if calls["n"] == 2 else loss), acc

    monkeypatch.setattr(loop, "train_epoch", second_epoch_diverges)
    with pytest.raises(DivergenceError, match=r"diverged at epoch 2: non-finite training loss \(nan\); last finite "
                                              r"loss [0-9.]+ at epoch 1"):
        train_supernet(data, network=NETWORK, train={"epochs": 3, "batch_size": 16}, seed=0,
                       out_checkpoint=tmp_path / "s.pt", resume_path=tmp_path / "s.resume.pt", quiet=True)
    assert not (tmp_path / "s.pt").exists()


def test_batch_larger_than_the_data_is_refused(data, tmp_path):
    with pytest.raises(EmptyEpochError, match=r"batch_size 64 is larger than the 48 images"):
        search(data, tmp_path, "e", search={**SEARCH, "batch_size": 64})
    with pytest.raises(EmptyEpochError, match=r"base supernet: batch_size 200 is larger than the 96 images"):
        train_supernet(data, network=NETWORK, train={"epochs": 1, "batch_size": 200}, seed=0,
                       out_checkpoint=tmp_path / "s.pt", resume_path=tmp_path / "s.resume.pt", quiet=True)


@pytest.mark.parametrize("algo", ["darts1", "darts2", "snas", "dsnas"])
def test_disconnected_leaf_is_recorded_not_crashed(data, tmp_path, nb201, algo):
    assert not DISCONNECTED.can_connect() and MASK.can_connect()
    log = search(data, tmp_path, "x", algo=algo, mask=DISCONNECTED)
    assert len(log) == 1 and bool(log["disconnected"].iloc[0]) and log["val_acc"].isna().all()
    assert log["epoch"].iloc[0] == SEARCH["epochs"]
    good = search(data, tmp_path, "g", algo=algo)
    runs = lookup_logs({0: good, 1: log}, nb201, dataset="fashion_mnist", bench_dataset="cifar10",
                       method="lr", algorithm=algo, seed=0)
    assert runs.loc[runs.leaf == 1, "test_acc"].isna().all()
    summary = best_over_leaves(runs)
    assert (summary["disconnected_leaves"] == 1).all() and summary["test_acc_mean"].notna().all()
    final = runs[(runs.leaf == 0) & (runs.epoch == SEARCH["epochs"])]
    assert summary["test_acc_mean"].iloc[0] == pytest.approx(float(final["test_acc"].iloc[0]))
    assert "every architecture is disconnected" in report_markdown(summary)


def test_kill_mid_search_resumes_at_the_next_epoch(data, tmp_path, monkeypatch, caplog):
    full = search(data, tmp_path, "full")
    run_killed(monkeypatch, engine, "evaluate_leaves", 3, lambda: search(data, tmp_path, "k"))  # in epoch 3
    with caplog.at_level(logging.INFO, logger="fewshotnas"):
        resumed = search(data, tmp_path, "k")
    assert "resuming search at epoch 2" in caplog.text
    cols = ["epoch", "train_loss", "val_acc", "genotype"]
    pd.testing.assert_frame_equal(resumed[cols], full[cols])


@pytest.mark.parametrize("change", ["code", "data"])
def test_resume_file_from_other_code_or_data_is_not_continued(data, fmnist_root, tmp_path, monkeypatch, caplog,
                                                             change):
    run_killed(monkeypatch, engine, "evaluate_leaves", 2, lambda: search(data, tmp_path, "k"))
    assert (tmp_path / "k.resume.pt").exists()
    other = data
    if change == "code":
        monkeypatch.setattr(engine, "code_hash", lambda module: "edited-library")
    else:  # the same config, other images (the dataset folder was replaced)
        other = prepare_data("fashion_mnist", make_fashion_mnist(tmp_path / "other", seed=1), subset=96,
                             test_subset=10, image_size=8)
        assert {k: v for k, v in other.meta.items() if k != "content_sha256"} == \
            {k: v for k, v in data.meta.items() if k != "content_sha256"}
    with caplog.at_level(logging.INFO, logger="fewshotnas"):
        log = search(other, tmp_path, "k")
    assert "ignoring stale search resume" in caplog.text and "resuming" not in caplog.text
    assert list(log["epoch"]) == [1, 2, 3]
