"""Shared fixtures: tiny datasets written in the real file formats, tiny networks."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fewshotnas.bench import NB201Table, default_table_path

ROOT = Path(__file__).resolve().parents[1]


def fake_set_up_project(folder: Path) -> None:
    """``folder`` as a project whose `make setup` is done: the Makefile and pyproject.toml, a
    ``.venv/bin/snakemake`` that prints ``unlocked``, and a set-up stamp newer than both
    (set by mtime, so no sleep is needed), so make targets run no set-up."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    venv_bin = folder / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "snakemake").write_text("#!/bin/sh\necho unlocked\n")
    (venv_bin / "snakemake").chmod(0o755)
    (folder / ".venv" / ".installed").touch()
    hour_ago = time.time() - 3600
    for name in ("Makefile", "pyproject.toml"):
        os.utime(folder / name, (hour_ago, hour_ago))


def start_fake_snakemake(cwd: Path, patience_s: float = 600.0) -> subprocess.Popen:
    """A process named ``snakemake`` (a long sleep) working in ``cwd``; returns once it runs
    under that name (``patience_s``: only a hang reaches it; a loaded machine may take a while
    to exec). The caller kills it."""
    live = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 3600"], cwd=cwd)
    cmdline = Path(f"/proc/{live.pid}/cmdline")
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if cmdline.exists() and cmdline.read_bytes().split(b"\0")[0] == b"snakemake":
            return live
        time.sleep(0.05)
    live.kill()
    pytest.fail(f"process {live.pid} never ran as 'snakemake'")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (the Fashion-MNIST format)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_fashion_mnist(root: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """Fashion-MNIST-format files whose images carry a learnable class signal."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row encodes the class
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 230
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    return make_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


@pytest.fixture(scope="session")
def nb201() -> NB201Table:
    return NB201Table(default_table_path())


def table_with_missing(nb201: NB201Table, path: Path, missing: np.ndarray, dataset: str = "cifar10") -> NB201Table:
    """The shipped table in the layout the benchmark's API builds (``<dataset>_seeds``), with
    ``dataset``'s accuracy missing (NaN, 0 seeds) where ``missing`` is true."""
    frame = nb201.frame.assign(**{f"{d}_seeds": 3 for d in ("cifar10", "cifar100", "imagenet16_120")})
    frame.loc[missing, dataset] = np.nan
    frame.loc[missing, f"{dataset}_seeds"] = 0
    frame.to_parquet(path)
    return NB201Table(path)


@pytest.fixture(scope="session")
def nb201_missing(tmp_path_factory, nb201) -> NB201Table:
    """CIFAR-10 accuracies missing for the space's best architecture and every 50th one."""
    missing = np.zeros(len(nb201.frame), dtype=bool)
    missing[::50] = True
    missing[int(nb201.frame["cifar10"].idxmax())] = True
    return table_with_missing(nb201, tmp_path_factory.mktemp("nb201_missing") / "table.parquet", missing)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


def write_cifar(root: Path, kind: str, n_per_batch: int = 6, seed: int = 0) -> Path:
    """CIFAR-10 ('cifar-10-batches-py', bytes keys) or CIFAR-100 ('cifar-100-python') pickles."""
    rng = np.random.default_rng(seed)
    if kind == "cifar10":
        folder = root / "cifar-10-batches-py"
        files = {f"data_batch_{i}": n_per_batch for i in range(1, 6)} | {"test_batch": n_per_batch}
        label_key, classes, meta = "labels", 10, ("batches.meta", "label_names")
    else:
        folder = root / "cifar-100-python"
        files = {"train": n_per_batch * 2, "test": n_per_batch}
        label_key, classes, meta = "fine_labels", 100, ("meta", "fine_label_names")
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in files.items():
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key: rng.integers(0, classes, n).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / meta[0], "wb") as f:
        pickle.dump({meta[1]: [f"class{i}" for i in range(classes)]}, f)
    return root


def write_imagenet16(root: Path, n_per_batch: int = 8, seed: int = 0) -> Path:
    """NB201 ImageNet16 pickles: train_data_batch_1..10 and val_data, labels 1..1000."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    for name in names:
        labels = rng.choice([1, 2, 60, 120, 121, 500, 1000], n_per_batch).tolist()
        entry = {"data": rng.integers(0, 256, (n_per_batch, 3 * 16 * 16), dtype=np.uint8), "labels": labels}
        with open(root / name, "wb") as f:
            pickle.dump(entry, f)
    return root


def dies_on_call(fn, call: int):
    """``fn`` wrapped so that its ``call``-th call raises KeyboardInterrupt (a simulated kill)."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt("simulated kill")
        return fn(*args, **kwargs)

    return wrapped


# The longest files first: pytest-xdist (-n auto --dist loadfile, pyproject.toml) hands each file
# to one worker, and the unit tests fill the other workers while these run.
LONGEST_FIRST = ("test_workflow.py", "test_all_algorithms.py", "test_slurm.py", "test_kill_resume.py", "test_reruns.py",
                 "test_snakemake_only.py")


def pytest_collection_modifyitems(session, config, items):
    """Order the files longest first (the order of tests within a file is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The fault suite's summary line (tests marked ``fault`` and ``bad_input``)."""
    reports = [r for kind in ("passed", "failed", "error") for r in terminalreporter.stats.get(kind, [])
               if getattr(r, "when", "call") == "call" or r.outcome != "passed"]
    counts = {}
    for marker in ("fault", "bad_input"):
        mine = [r for r in reports if marker in r.keywords]
        counts[marker] = (len(mine), sum(r.outcome == "passed" for r in mine))
    if counts["fault"][0] or counts["bad_input"][0]:
        terminalreporter.write_line(
            f"fault suite: {counts['fault'][0]} faults tried, {counts['fault'][1]} survived; "
            f"{counts['bad_input'][0]} bad inputs tried, {counts['bad_input'][1]} clear errors")


def run_killed(monkeypatch, module, name: str, call: int, run) -> None:
    """Call ``run()`` while ``module.name`` dies on its ``call``-th call (a simulated kill,
    KeyboardInterrupt, expected), then put ``module.name`` back."""
    original = getattr(module, name)
    monkeypatch.setattr(module, name, dies_on_call(original, call))
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(module, name, original)


class RunsCode:
    """Unpickling this runs a shell command (what a crafted file does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)
