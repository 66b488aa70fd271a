"""Base supernet training: log, checkpoint, resume after a kill."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import run_killed

import fewshotnas.train.loop as loop
from fewshotnas.data import prepare_data
from fewshotnas.files import CheckpointError
from fewshotnas.train.loop import load_supernet, train_supernet

NETWORK = {"channels": 2, "cells_per_stage": 1}
TRAIN = {"epochs": 2, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=64, test_subset=16, image_size=8)


def train(data, tmp_path, name):
    return train_supernet(data, network=NETWORK, train=TRAIN, seed=0, out_checkpoint=tmp_path / f"{name}.pt",
                          resume_path=tmp_path / f"{name}.resume.pt", quiet=True)


def test_train_and_load(data, tmp_path):
    log = train(data, tmp_path, "a")
    assert list(log["epoch"]) == [1, 2] and log["train_loss"].notna().all()
    assert log["lr"].iloc[0] == pytest.approx(0.05) and log["lr"].iloc[1] < 0.05
    net = load_supernet(tmp_path / "a.pt")
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    torch.save({"format": 99}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError):
        load_supernet(tmp_path / "b.pt")


def test_resume_equals_uninterrupted(data, tmp_path, monkeypatch):
    full = train(data, tmp_path, "full")
    run_killed(monkeypatch, loop, "evaluate", 2, lambda: train(data, tmp_path, "k"))  # in epoch 2
    resumed = train(data, tmp_path, "k")
    cols = ["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc"]
    pd.testing.assert_frame_equal(resumed[cols], full[cols])
    a, b = torch.load(tmp_path / "full.pt", weights_only=True), torch.load(tmp_path / "k.pt", weights_only=True)
    for key in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key])
