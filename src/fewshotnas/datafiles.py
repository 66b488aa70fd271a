"""Which files each dataset's loader reads, checked before anything runs (standard library
only: the workflow calls :func:`missing_dataset` while Snakemake plans the jobs).

The loaders in :mod:`fewshotnas.data.datasets` read exactly these files; a folder that
passes this check can still hold corrupt files, which the loaders report.
"""

from __future__ import annotations

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
