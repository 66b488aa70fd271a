"""Faults in files: crafted pickles, flipped bytes, truncated Parquet, failed and partial writes."""

from __future__ import annotations

import os
import pickle
import stat

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import (
    RunsCode,  # noqa: E402  (shared crafted-pickle payload)
    write_imagenet16,
)

from fewshotnas.data.datasets import DatasetFormatError, load_imagenet16_120
from fewshotnas.files import CheckpointCorrupt, atomic_write, load_checkpoint, save_checkpoint
from fewshotnas.io import ResultFileError, read_parquet_checked, write_parquet_atomic
from fewshotnas.space import build_network
from fewshotnas.train.loop import SUPERNET_FORMAT, load_supernet

pytestmark = pytest.mark.fault


def supernet_payload():
    net = build_network(None, channels=2, cells_per_stage=1, num_classes=10, in_channels=1)
    network = {"channels": 2, "cells_per_stage": 1, "cell_bn_affine": True}  # as build_network's default
    return dict(format=SUPERNET_FORMAT, config_hash="x", network=network,
                num_classes=10, in_channels=1, state_dict=net.state_dict())


def test_crafted_supernet_runs_no_code(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "supernet.pt"
    torch.save({**supernet_payload(), "evil": RunsCode(marker)}, path)
    with pytest.raises(CheckpointCorrupt, match=r"supernet\.pt.*delete it and rerun"):
        load_supernet(path)
    assert not marker.exists()


def test_crafted_imagenet16_batch_runs_no_code(tmp_path):
    root = write_imagenet16(tmp_path / "in16")
    marker = tmp_path / "pwned"
    with open(root / "train_data_batch_1", "wb") as f:
        pickle.dump({"data": np.zeros((2, 768), np.uint8), "labels": [1, 2], "x": RunsCode(marker)}, f)
    with pytest.raises(DatasetFormatError, match=r"train_data_batch_1: refused to load posix\.system"):
        load_imagenet16_120(root, train=True)
    assert not marker.exists()
    assert len(load_imagenet16_120(root, train=False).images) > 0  # the real format still loads


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_imagenet16_batches_of_every_protocol_load(tmp_path, protocol):
    root = write_imagenet16(tmp_path / "in16")
    entry = {"data": np.arange(2 * 768, dtype=np.uint8).reshape(2, 768), "labels": [1, 120]}
    with open(root / "val_data", "wb") as f:
        pickle.dump(entry, f, protocol=protocol)
    images = load_imagenet16_120(root, train=False).images
    assert images.shape == (2, 3, 16, 16) and int(images[1].flatten()[0]) == 768 % 256


def test_flipped_bytes_in_tensor_data_are_detected(tmp_path):
    path, payload = tmp_path / "supernet.pt", supernet_payload()
    save_checkpoint(payload, path)
    load_supernet(path)  # intact
    raw = bytearray(path.read_bytes())
    weights = payload["state_dict"]["stem.0.weight"].numpy().tobytes()
    at = bytes(raw).find(weights[:16])
    assert at > 0, "the tensor's bytes are stored uncompressed in the zip"
    raw[at + 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    before = path.read_bytes()
    with pytest.raises(CheckpointCorrupt, match=r"supernet\.pt is corrupt: its content does not match"):
        load_supernet(path)
    assert path.read_bytes() == before  # nothing rewritten


def test_truncated_parquet_names_file_and_fix(tmp_path):
    path = tmp_path / "log.parquet"
    write_parquet_atomic(pd.DataFrame({"a": np.arange(100)}), path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ResultFileError, match=r"log\.parquet is not a readable Parquet file.*delete it and rerun"):
        read_parquet_checked(path)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "table.parquet"
    write_parquet_atomic(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()

    def half_then_fail(f):
        f.write(b"PAR1 half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_keep_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
        write_parquet_atomic(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    finally:
        os.umask(old)
    for name in ("f.bin", "t.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_atomic_write_fsyncs_file_and_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
    assert any(p.startswith(str(tmp_path / ".f.bin.")) for p in synced)  # the file, before its rename
    assert str(tmp_path) in synced  # then its folder


def test_resume_file_with_flipped_bytes_is_an_error_not_a_restart(tmp_path):
    path = tmp_path / "r.pt"
    save_checkpoint({"format": 2, "x": torch.arange(64, dtype=torch.float32)}, path)
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(torch.arange(64, dtype=torch.float32).numpy().tobytes()[8:24])
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointCorrupt, match="r.pt"):
        load_checkpoint(path, kind="search resume", format_version=2)
