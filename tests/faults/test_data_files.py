"""Damaged dataset files, a full disk and the leftovers of a killed writer: errors that name the
file and the fix, never raw exceptions or silently wrong data, and no temporary files left."""

from __future__ import annotations

import errno
import gzip
import os
import random
import time

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_fashion_mnist, write_idx, write_imagenet16

import fewshotnas.files as files
from fewshotnas.data.datasets import DatasetFormatError, load_fashion_mnist, load_imagenet16_120
from fewshotnas.files import DiskFullError, atomic_write, load_checkpoint, save_checkpoint
from fewshotnas.io import write_parquet_atomic

pytestmark = pytest.mark.fault

LABELS = "train-labels-idx1-ubyte.gz"
IMAGES = "train-images-idx3-ubyte.gz"


def _damage(root, name, how):
    path = root / name
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "wrong_magic":
        path.write_bytes(b"\x1f\x8c" + raw[2:])
    elif how == "not_gzip":
        path.write_bytes(b"this is not a gzip file at all\n" * 10)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bad_crc":
        path.write_bytes(raw[:-8] + bytes(b ^ 0xFF for b in raw[-8:-4]) + raw[-4:])
    elif how == "idx_magic":
        with gzip.open(path, "wb") as f:
            f.write(b"\x08\x03\x00\x00" + gzip.decompress(raw)[4:])
    elif how == "idx_short":
        with gzip.open(path, "wb") as f:
            f.write(gzip.decompress(raw)[:-5])
    elif how == "label_range":
        write_idx(path, np.full(120, 12, dtype=np.uint8))
    elif how == "label_count":
        write_idx(path, np.zeros(119, dtype=np.uint8))
    elif how == "image_shape":
        write_idx(path, np.zeros((120, 28, 27), dtype=np.uint8))
    return path


FMNIST_CASES = [(LABELS, "truncated", r"is truncated"), (IMAGES, "truncated", r"is truncated"),
                (LABELS, "wrong_magic", r"not a readable gzip file"), (IMAGES, "not_gzip", r"not a readable gzip"),
                (LABELS, "empty", r"not an IDX file"), (LABELS, "bad_crc", r"not a readable gzip file"),
                (IMAGES, "idx_magic", r"not an IDX file \(bad magic number\)"),
                (IMAGES, "idx_short", r"header says \(120, 28, 28\) but holds"),
                (LABELS, "label_range", r"holds label 12; Fashion-MNIST has 10 classes"),
                (LABELS, "label_count", r"holds labels of shape \(119,\) for the 120 images"),
                (IMAGES, "image_shape", r"holds \(120, 28, 27\), not N 28×28 images")]


@pytest.mark.parametrize("name, how, message", FMNIST_CASES, ids=[f"{n[:11]}-{h}" for n, h, _ in FMNIST_CASES])
def test_corrupt_fashion_mnist_names_the_file_and_the_fix(tmp_path, name, how, message):
    root = make_fashion_mnist(tmp_path / "fmnist")
    path = _damage(root, name, how)
    with pytest.raises(DatasetFormatError, match=message) as err:
        load_fashion_mnist(root, train=True)
    assert str(path) in str(err.value) and "apt-get install --reinstall dataset-fashion-mnist" in str(err.value)


def test_mutated_imagenet16_batches_raise_named_errors_or_load_valid_data(tmp_path):
    """400 byte mutations of one batch: each loads with the right shapes, dtype and label range,
    or raises a DatasetFormatError that names the file; never another exception."""
    root = write_imagenet16(tmp_path / "in16")
    path = root / "val_data"
    original = path.read_bytes()
    clean = load_imagenet16_120(root, train=False)
    rng = random.Random(0)
    outcomes = {"error": 0, "loaded": 0}
    for trial in range(400):
        damaged = bytearray(original)
        for _ in range(1 + trial % 3):
            pos = rng.randrange(len(damaged))
            damaged[pos] = rng.choice([0, 0xFF, damaged[pos] ^ (1 << rng.randrange(8)), rng.randrange(256)])
        path.write_bytes(bytes(damaged))
        try:
            got = load_imagenet16_120(root, train=False)
        except DatasetFormatError as err:
            assert str(path) in str(err), err
            outcomes["error"] += 1
            continue
        outcomes["loaded"] += 1
        assert got.images.dtype == torch.uint8 and got.images.shape[1:] == (3, 16, 16)
        assert got.labels.dtype == torch.int64 and len(got.labels) == len(got.images)
        assert len(got.labels) == 0 or (0 <= int(got.labels.min()) and int(got.labels.max()) < 120)
        assert len(got.labels) <= 8  # at most the batch's own 8 images (shapes from the file, checked)
    path.write_bytes(original)
    assert outcomes["error"] > 0 and outcomes["loaded"] > 0, outcomes  # pixel bytes carry no check
    assert len(clean) == len(load_imagenet16_120(root, train=False))


@pytest.mark.parametrize("entry, message", [
    ({"data": np.zeros((4, 700), np.uint8), "labels": [1, 2, 3, 4]}, r"'data' is uint8 \(4, 700\), not uint8"),
    ({"data": np.zeros((4, 768), np.float32), "labels": [1, 2, 3, 4]}, r"'data' is float32 \(4, 768\)"),
    ({"data": np.zeros((4, 768), np.uint8), "labels": [1, 2, 3]}, r"are not 4 integer class numbers"),
    ({"data": np.zeros((4, 768), np.uint8), "labels": [1, 2, 3, 2000]}, r"labels range over 1\.\.2000"),
    ({"data": np.zeros((4, 768), np.uint8), "labels": [1.5, 2, 3, 4]}, r"are not 4 integer class numbers"),
    ({"data": [[0] * 768] * 4, "labels": [1, 2, 3, 4]}, r"'data' is list, not uint8"),
])
def test_imagenet16_batch_of_wrong_shape_dtype_or_labels_is_refused(tmp_path, entry, message):
    import pickle

    root = write_imagenet16(tmp_path / "in16")
    with open(root / "val_data", "wb") as f:
        pickle.dump(entry, f)
    with pytest.raises(DatasetFormatError, match=message):
        load_imagenet16_120(root, train=False)


class _FullDisk:
    """A file whose writes fail as on a full disk after ``room`` bytes."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data) -> int:
        if len(memoryview(data)) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(memoryview(data))
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


@pytest.mark.parametrize("kind", ["checkpoint", "parquet"])
def test_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch, kind):
    path = tmp_path / ("supernet.pt" if kind == "checkpoint" else "log.parquet")
    big = {"format": 1, "w": torch.arange(50_000, dtype=torch.float32)}

    def write(value):
        if kind == "checkpoint":
            save_checkpoint({"format": 1, "w": value}, path)
        else:
            write_parquet_atomic(pd.DataFrame({"w": value.numpy()}), path)

    write(torch.zeros(3))
    before = path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: _FullDisk(real_fdopen(fd, mode), 4096))
    with pytest.raises(DiskFullError, match=rf"disk full while writing {path} .*No space left on device.*free space "
                                            rf"in {tmp_path} and rerun"):
        write(big["w"])
    monkeypatch.setattr(files.os, "fdopen", real_fdopen)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path, monkeypatch):
    target = tmp_path / "log.parquet"
    other = tmp_path / ".log.parquet.bak.abcd1234.tmp"  # another target's name: kept
    stale = [tmp_path / ".log.parquet.k1llq9_z.tmp", tmp_path / ".log.parquet.zz00aa11.tmp"]
    for path in [*stale, other]:
        path.write_bytes(b"half a file")
        os.utime(path, (time.time() - 3600,) * 2)  # written before this process started
    fresh = tmp_path / ".log.parquet.n0wlive1.tmp"  # a writer that started after us: kept
    fresh.write_bytes(b"being written")
    monkeypatch.setattr(files, "_STARTED", time.time() - 60)
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    assert not any(p.exists() for p in stale) and other.exists() and fresh.exists()
    save_checkpoint({"format": 1}, tmp_path / "x.pt")
    assert load_checkpoint(tmp_path / "x.pt", kind="x", format_version=1) == {"format": 1}
