"""Leaves one after another in one process (search.fuse_mode: serial): the same numbers as one
search_leaf job per leaf, and a kill loses only the leaf being searched."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import run_killed

import fewshotnas.search.engine as engine_module
import fewshotnas.search.serial as serial_module
from fewshotnas.data import prepare_data
from fewshotnas.search import LeafResult, run_search
from fewshotnas.search.serial import resolve_fuse_mode, search_leaves_serially
from fewshotnas.space import OpMask

NETWORK = {"channels": 2, "cells_per_stage": 1}
SEARCH = {"epochs": 2, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64,
          "grad_clip": 0.5}
FULL = OpMask.full()
LEAVES = [FULL.restrict(0, [2, 3]).restrict(1, [0, 4]), FULL.restrict(0, [0, 1]),
          FULL.restrict(0, [0]).restrict(1, [0]).restrict(3, [0])]  # the last: disconnected


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=128, test_subset=10, image_size=8)


def separate_runs(data, tmp_path, algorithm):
    return [run_search(algorithm, data, mask=m, network=NETWORK, search=SEARCH, seed=0,
                       out_final=tmp_path / f"sep{k}.pt", resume_path=tmp_path / f"sep{k}.resume", quiet=True)
            for k, m in enumerate(LEAVES)]


def serial_run(data, tmp_path, algorithm, name="ser"):
    return search_leaves_serially(algorithm, data, masks=LEAVES, network=NETWORK, search=SEARCH, seed=0,
                                  out_finals=[tmp_path / f"{name}{k}.pt" for k in range(len(LEAVES))],
                                  resume_dir=tmp_path / f"{name}.resume", quiet=True)


def assert_same_results(tmp_path, a_logs, b_logs, a="sep", b="ser"):
    for k, (x, y) in enumerate(zip(a_logs, b_logs)):
        pd.testing.assert_frame_equal(x.drop(columns="epoch_seconds"), y.drop(columns="epoch_seconds"))
        ra, rb = LeafResult.load(tmp_path / f"{a}{k}.pt"), LeafResult.load(tmp_path / f"{b}{k}.pt")
        assert (ra.config_hash, ra.genotype, ra.disconnected, rb.fused_leaves) == \
               (rb.config_hash, rb.genotype, rb.disconnected, 1)
        if not ra.disconnected:
            torch.testing.assert_close(rb.probs, ra.probs, atol=0, rtol=0)
            for name in ra.state_dict:
                torch.testing.assert_close(rb.state_dict[name], ra.state_dict[name], atol=0, rtol=0)


@pytest.mark.parametrize("algorithm", ["darts1", "rsps"])
def test_serial_leaves_equal_separate_jobs_exactly(data, tmp_path, algorithm):
    separate = separate_runs(data, tmp_path, algorithm)
    serial = serial_run(data, tmp_path, algorithm)
    assert_same_results(tmp_path, separate, serial)
    assert not (tmp_path / "ser.resume").exists()  # removed once every leaf is done


def test_killed_serial_job_keeps_its_finished_leaves(data, tmp_path, monkeypatch):
    full = serial_run(data, tmp_path, "darts1", name="full")
    # leaf 0 evaluates twice (2 epochs); the 3rd call is leaf 1's first epoch
    run_killed(monkeypatch, engine_module, "evaluate_leaves", 3, lambda: serial_run(data, tmp_path, "darts1"))
    kept = sorted(p.name for p in (tmp_path / "ser.resume").iterdir())
    assert [n for n in kept if n.startswith("leaf0-")] and "leaf1.pt" not in kept  # leaf 1 died in its first epoch
    for k in range(len(LEAVES)):  # Snakemake removes an incomplete job's outputs before it reruns it
        (tmp_path / f"ser{k}.pt").unlink(missing_ok=True)
    searched = []
    original = serial_module.run_search
    monkeypatch.setattr(serial_module, "run_search",
                        lambda *a, **kw: searched.append(kw["label"]) or original(*a, **kw))
    resumed = serial_run(data, tmp_path, "darts1")
    assert searched == ["leaf1", "leaf2"]  # leaf 0 restored, not searched again
    assert_same_results(tmp_path, full, resumed, a="full")


def test_unreadable_kept_leaf_is_searched_again(data, tmp_path, monkeypatch, caplog):
    run_killed(monkeypatch, engine_module, "evaluate_leaves", 3, lambda: serial_run(data, tmp_path, "darts1"))
    (kept,) = [p for p in (tmp_path / "ser.resume").iterdir() if p.name.startswith("leaf0-") and p.suffix == ".pt"]
    kept.write_bytes(kept.read_bytes()[:100])  # a truncated file
    logs = serial_run(data, tmp_path, "darts1")
    assert "unreadable" in caplog.text and len(logs) == len(LEAVES)
    assert_same_results(tmp_path, separate_runs(data, tmp_path, "darts1"), logs)


def test_fuse_mode_follows_the_device():
    assert resolve_fuse_mode("auto", "cpu") == "serial"
    assert resolve_fuse_mode("fused", "cpu") == "fused" and resolve_fuse_mode("serial", "cpu") == "serial"
    with pytest.raises(ValueError, match="unknown search.fuse_mode 'fast'; choose one of auto, fused, serial"):
        resolve_fuse_mode("fast", "cpu")
