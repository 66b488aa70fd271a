"""One leaf searched alone, every algorithm: mask respected, determinism, and resume equal to an
uninterrupted run."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import run_killed

import fewshotnas.search.engine as engine
from fewshotnas.data import prepare_data
from fewshotnas.files import CheckpointError
from fewshotnas.search import ALGORITHMS, LeafResult, derive_genotype, get_algorithm, masked_logits, run_search
from fewshotnas.search.darts import Darts1st
from fewshotnas.space import OpMask, genotype_from_str

NETWORK = {"channels": 2, "cells_per_stage": 1}
SEARCH = {"epochs": 3, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64}
MASK = OpMask.full().restrict(0, [2, 3]).restrict(1, [0, 4])


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=96, test_subset=10, image_size=8)


class NoisyDarts(Darts1st):
    """DARTS whose arch weights are perturbed from torch's global RNG each step
    (stands in for Gumbel/sampling algorithms: resume must restore that RNG too)."""

    def arch_weights(self):
        weights = super().arch_weights()
        return weights * (1.0 + 0.1 * torch.rand((), device=weights.device))


def search(data, tmp_path, name, **kw):
    return run_search(kw.pop("algorithm", get_algorithm("darts1")), data, mask=kw.pop("mask", MASK), network=NETWORK,
                      search=kw.pop("search", SEARCH), seed=kw.pop("seed", 0), out_final=tmp_path / f"{name}.pt",
                      resume_path=tmp_path / f"{name}.resume.pt", quiet=True, **kw)


def without_times(df):
    return df.drop(columns=["epoch_seconds"])


def test_masked_alphas_and_derivation():
    alphas = torch.zeros(6, 5)
    alphas[0, 0] = 5.0  # 'none' is best on edge 0 but masked out there
    alphas[0, 3] = 1.0
    assert derive_genotype(alphas, MASK)[0] == 3
    weights = torch.softmax(masked_logits(alphas, MASK.to_tensor()), -1)
    assert torch.all(weights[~MASK.to_tensor()] == 0)
    torch.testing.assert_close(weights.sum(1), torch.ones(6))


def test_search_log_and_genotypes_stay_in_leaf(data, tmp_path):
    log = search(data, tmp_path, "a")
    assert list(log["epoch"]) == [1, 2, 3]
    assert all(MASK.contains(genotype_from_str(g)) for g in log["genotype"])
    assert log["val_acc"].between(0, 100).all() and log["train_loss"].notna().all()
    assert len(log["alphas"].iloc[0]) == 30 and len(log["arch_probs"].iloc[0]) == 30
    probs = torch.tensor(list(log["arch_probs"].iloc[-1])).view(6, 5)
    assert torch.all(probs[~MASK.to_tensor()] == 0)
    final = LeafResult.load(tmp_path / "a.pt")
    assert final.genotype == tuple(genotype_from_str(log["genotype"].iloc[-1])) and final.mask == MASK
    assert not (tmp_path / "a.resume.pt").exists()
    # the alphas moved from their 1e-3 initialisation
    assert float(final.alphas.abs().max()) > 1e-2


ALL = [get_algorithm(n) for n in ALGORITHMS]
IDS = list(ALGORITHMS)


@pytest.mark.parametrize("algorithm", ALL, ids=IDS)
def test_same_seed_same_log(data, tmp_path, algorithm):
    a, b = search(data, tmp_path, "a", algorithm=algorithm), search(data, tmp_path, "b", algorithm=algorithm)
    pd.testing.assert_frame_equal(without_times(a), without_times(b))
    c = search(data, tmp_path, "c", seed=1, algorithm=algorithm)
    assert not without_times(a).equals(without_times(c))
    assert all(MASK.contains(genotype_from_str(g)) for g in a["genotype"])


@pytest.mark.parametrize("algorithm", [*ALL, NoisyDarts], ids=[*IDS, "global-rng"])
def test_resume_equals_uninterrupted(data, tmp_path, monkeypatch, algorithm):
    full = search(data, tmp_path, "full", algorithm=algorithm)
    run_killed(monkeypatch, engine, "evaluate_leaves", 2,  # in epoch 2
               lambda: search(data, tmp_path, "killed", algorithm=algorithm))
    assert (tmp_path / "killed.resume.pt").exists() and not (tmp_path / "killed.pt").exists()
    torch.manual_seed(12345)  # a fresh process would not share the killed run's RNG state
    resumed = search(data, tmp_path, "killed", algorithm=algorithm)
    pd.testing.assert_frame_equal(without_times(resumed), without_times(full))
    a, b = LeafResult.load(tmp_path / "full.pt"), LeafResult.load(tmp_path / "killed.pt")
    assert a.genotype == b.genotype
    if a.alphas is not None:
        torch.testing.assert_close(a.alphas, b.alphas)
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k])


def test_stale_resume_restarts_and_corrupt_resume_fails(data, tmp_path, monkeypatch):
    run_killed(monkeypatch, engine, "evaluate_leaves", 2, lambda: search(data, tmp_path, "x"))
    assert (tmp_path / "x.resume.pt").exists()
    other = {**SEARCH, "lr": 0.1}
    restarted = search(data, tmp_path, "x", search=other)  # config changed after the kill: start afresh
    fresh = search(data, tmp_path, "y", search=other)
    pd.testing.assert_frame_equal(without_times(restarted), without_times(fresh))
    (tmp_path / "z.resume.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        search(data, tmp_path, "z")


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="known: darts1, darts2, darts_minus, snas, dsnas, gdas, drnas, rsps"):
        get_algorithm("enas")


@pytest.mark.parametrize("algorithm", ["snas", "dsnas", "gdas"])
def test_sampled_validation_runs_on_batch_statistics_and_leaves_training_alone(data, tmp_path, algorithm):
    """``validation: sampled`` (the default): SNAS/DSNAS validate on architectures drawn per batch
    with BatchNorm on batch statistics, reproducibly; training (weights, BN running statistics,
    alphas, genotypes) is the same as with ``expected``, only the validation numbers differ."""
    algo = get_algorithm(algorithm)
    runs = {mode: search(data, tmp_path, f"{algorithm}-{mode}", algorithm=algo,
                         search={**SEARCH, "epochs": 2, "validation": mode}) for mode in ("sampled", "expected")}
    again = search(data, tmp_path, f"{algorithm}-again", algorithm=algo, search={**SEARCH, "epochs": 2})
    pd.testing.assert_frame_equal(without_times(again), without_times(runs["sampled"]))
    for col in ("train_loss", "genotype", "alphas"):
        assert list(runs["sampled"][col]) == list(runs["expected"][col]), col
    assert list(runs["sampled"]["val_loss"]) != list(runs["expected"]["val_loss"])
    finals = {mode: torch.load(tmp_path / f"{algorithm}-{mode}.pt", weights_only=True)["state_dict"] for mode in runs}
    for name, value in finals["expected"].items():  # running statistics too: validation gave them back
        torch.testing.assert_close(finals["sampled"][name], value, rtol=0, atol=0, msg=name)
    with pytest.raises(ValueError, match="unknown search validation 'train'"):
        search(data, tmp_path, "bad", algorithm=algo, search={**SEARCH, "validation": "train"})
