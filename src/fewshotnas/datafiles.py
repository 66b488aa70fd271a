"""Which files each dataset's loader reads, checked before anything runs, and a digest of
their content, the dataset's identity as an input of ``prepare_data`` (standard library
only: the workflow calls :func:`missing_dataset` and :func:`dataset_digest` while Snakemake
plans the jobs), and the checked copy that brings the benchmark table into the results.

The loaders in :mod:`fewshotnas.data.datasets` read exactly these files; a folder that
passes this check can still hold corrupt files, which the loaders report.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                       "t10k-labels-idx1-ubyte")
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)),
    "cifar100": ("cifar-100-python", ("train", "test")),
}
IMAGENET16_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11)) + ("val_data",)


def _fashion_mnist_missing(root: Path) -> list[str]:
    folders = (root, root / "FashionMNIST" / "raw")
    return [stem for stem in FASHION_MNIST_STEMS
            if not any((f / name).is_file() for f in folders for name in (stem, stem + ".gz"))]


def missing_dataset(name: str, root: str | Path, download: bool = False) -> str | None:
    """None when ``root`` holds what dataset ``name``'s loader reads (or torchvision may
    download it), else an error message naming the folder, the missing files and the fix."""
    root = Path(root)
    if name == "fashion_mnist":
        missing = _fashion_mnist_missing(root)
        if not missing or download:
            return None
        return (f"Fashion-MNIST: {', '.join(m + '(.gz)' for m in missing)} not found in {root} (or "
                f"{root / 'FashionMNIST' / 'raw'}). Fix: on Debian `apt-get install dataset-fashion-mnist` (installs "
                f"them in {DEBIAN_FASHION_MNIST}), or set data.roots.fashion_mnist to a folder holding them, or set "
                "data.download: true where a network is available.")
    if name in CIFAR_FILES:
        folder, files = CIFAR_FILES[name]
        missing = [f for f in files if not (root / folder / f).is_file()]
        if not missing or download:
            return None
        return (f"{name}: {', '.join(missing)} not found in {root / folder}. Fix: put the extracted python-version "
                f"archive there (torchvision's layout: data.roots.{name}/{folder}/…), point data.roots.{name} at the "
                "folder that holds it, or set data.download: true where a network is available.")
    if name == "imagenet16_120":
        missing = [f for f in IMAGENET16_FILES if not (root / f).is_file()]
        if not missing:
            return None
        return (f"imagenet16_120: {', '.join(missing)} not found in {root}. Fix: set data.roots.imagenet16_120 to "
                "the folder of NAS-Bench-201's ImageNet16 pickles (train_data_batch_1..10 and val_data, from the "
                "benchmark's ImageNet16-120 download); they cannot be downloaded automatically.")
    raise ValueError(f"unknown dataset {name!r}")


CIFAR_META = {"cifar10": "batches.meta", "cifar100": "meta"}


def dataset_files(name: str, root: str | Path) -> list[Path]:
    """The files of dataset ``name`` under ``root`` that its loader reads and that exist (for
    Fashion-MNIST, the one of ``stem``/``stem.gz`` in ``root`` or ``root/FashionMNIST/raw``
    that the loader picks)."""
    root = Path(root)
    if name == "fashion_mnist":
        found = []
        for stem in FASHION_MNIST_STEMS:
            candidates = [f / n for f in (root, root / "FashionMNIST" / "raw") for n in (stem, stem + ".gz")]
            found += [c for c in candidates if c.is_file()][:1]
        return found
    if name in CIFAR_FILES:
        folder, files = CIFAR_FILES[name]
        return [root / folder / f for f in (*files, CIFAR_META[name]) if (root / folder / f).is_file()]
    if name == "imagenet16_120":
        return [root / f for f in IMAGENET16_FILES if (root / f).is_file()]
    raise ValueError(f"unknown dataset {name!r}")


@cache
def dataset_digest(name: str, root: str | Path, download: bool = False) -> str:
    """SHA-256 of the content of :func:`dataset_files` (each file's name relative to ``root``
    and its bytes): it changes when a file is replaced or edited, whatever its modification
    time, and not when a file is only touched. About 0.6 s per GB. With ``download`` the files
    are torchvision's, fetched (and checked against their published MD5) by the job itself, so
    they are not hashed: a digest taken before and after the download would differ."""
    if download:
        return "download: torchvision fetches and verifies the files"
    digest = hashlib.sha256()
    for path in dataset_files(name, root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(bytes.fromhex(file_digest(path)))
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex) of one file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def copy_verified(source: str | Path, target: str | Path, digest: str) -> None:
    """Copy ``source`` to ``target`` atomically (a temporary file in the target's folder, then a
    rename) and check that the copy's :func:`file_digest` is ``digest``, the digest the plan saw:
    ValueError (and no target) if the source changed in between."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        shutil.copyfile(source, tmp)
        if file_digest(tmp) != digest:
            raise ValueError(f"{source} changed while it was copied (its SHA-256 is no longer the planned one); "
                             "run snakemake again")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
