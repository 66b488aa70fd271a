"""Dataset loaders returning whole datasets as uint8 tensors.

Each loader returns an :class:`ImageSet`: images (N, C, H, W) uint8 and labels
(N,) int64. All four datasets fit in memory (CIFAR: 150 MB), so training
streams batches from tensors instead of per-sample Python loading.

* ``fashion_mnist``: IDX files (``*-idx3-ubyte[.gz]``) in Debian's layout
  (``/usr/share/datasets/fashion-mnist``) or torchvision's
  (``ROOT/FashionMNIST/raw``); torchvision downloads them when allowed.
* ``cifar10``/``cifar100``: torchvision's loaders (python pickle batches).
* ``imagenet16_120``: the NAS-Bench-201 pickle batches ``train_data_batch_{1..10}``
  and ``val_data`` (keys ``data`` (N, 768) uint8 and ``labels`` 1..1000);
  classes 1..120 are kept and shifted to 0..119. They are read by an unpickler that
  builds only numpy arrays, lists and dicts (:class:`ArrayUnpickler`): a crafted file
  cannot run code.
"""

from __future__ import annotations

import gzip
import math
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fewshotnas.datafiles import DEBIAN_FASHION_MNIST, IMAGENET16_FILES


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing; the message says where we looked and how to fix it."""


class DatasetFormatError(ValueError):
    """A dataset file is not in the format its loader reads (or tries to run code)."""


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists, dicts and plain values only: any other class or
    function a pickle names (the way a crafted pickle runs code) is refused with
    :class:`DatasetFormatError`."""

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
        ("_codecs", "encode"),  # how Python 3 pickles bytes for Python 2 readers (protocol ≤ 2)
    })

    def __init__(self, file, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise DatasetFormatError(
            f"{self.path}: refused to load {module}.{name}; an NB201 ImageNet16 batch holds only numpy arrays, "
            "lists and dicts, so this file is not one (it may be crafted to run code). Replace it with the "
            "original file")


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts of a dataset: class count, channels, native size, normalisation."""

    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


DATASETS: dict[str, DatasetInfo] = {
    "fashion_mnist": DatasetInfo(10, 1, 28, (0.2860,), (0.3530,)),
    "cifar10": DatasetInfo(10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetInfo(100, 3, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet16_120": DatasetInfo(
        120, 3, 16, (122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)
    ),
}


@dataclass
class ImageSet:
    """A whole dataset split in memory: ``images`` (N, C, H, W) uint8, ``labels`` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, index: torch.Tensor) -> ImageSet:
        """The rows ``index`` (a 1-D int64 tensor)."""
        return ImageSet(self.images[index], self.labels[index])


def dataset_info(name: str) -> DatasetInfo:
    """Facts of dataset ``name``; clear error for unknown names."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


# --- Fashion-MNIST (IDX) ---------------------------------------------------

IDX_DTYPES = {0x08: np.uint8}


FASHION_MNIST_FIX = ("replace it with the original file (on Debian: `apt-get install --reinstall "
                     "dataset-fashion-mnist`), or delete it and set data.download: true where a network is available")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array of its stored shape; a file
    that is not one (truncated, not gzip, wrong magic) is a :class:`DatasetFormatError`
    naming the file and the fix."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        what = "truncated" if isinstance(err, EOFError) else "not a readable gzip file"
        raise DatasetFormatError(f"{path} is {what} ({type(err).__name__}: {err}); {FASHION_MNIST_FIX}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetFormatError(f"{path} is not an IDX file (bad magic number); {FASHION_MNIST_FIX}")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code not in IDX_DTYPES:
        raise DatasetFormatError(f"{path}: unsupported IDX element type 0x{dtype_code:02x}; {FASHION_MNIST_FIX}")
    if len(raw) < 4 + 4 * ndim:
        raise DatasetFormatError(f"{path}: header cut short (truncated file?); {FASHION_MNIST_FIX}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=IDX_DTYPES[dtype_code], offset=4 + 4 * ndim)
    if data.size != math.prod(shape):
        raise DatasetFormatError(f"{path}: header says {shape} but holds {data.size} values (truncated file?); "
                                 f"{FASHION_MNIST_FIX}")
    return data.reshape(shape)


def _find_idx(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "FashionMNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def load_fashion_mnist(root: str | Path, train: bool, download: bool = False) -> ImageSet:
    """Fashion-MNIST 28×28 grey images, 10 classes (60,000 train / 10,000 test)."""
    root = Path(root)
    prefix = "train" if train else "t10k"
    img_path, lbl_path = _find_idx(root, f"{prefix}-images-idx3-ubyte"), _find_idx(root, f"{prefix}-labels-idx1-ubyte")
    if img_path is None or lbl_path is None:
        if download:
            import torchvision

            torchvision.datasets.FashionMNIST(str(root), train=train, download=True)
            return load_fashion_mnist(root, train, download=False)
        raise DatasetNotFoundError(
            f"Fashion-MNIST files {prefix}-images-idx3-ubyte(.gz) / {prefix}-labels-idx1-ubyte(.gz) not found in "
            f"{root} or {root / 'FashionMNIST' / 'raw'}. Fix: on Debian run `apt-get install dataset-fashion-mnist` "
            f"(installs them in {DEBIAN_FASHION_MNIST}), or set data.roots.fashion_mnist to a folder holding them, "
            "or set data.download: true where a network is available."
        )
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetFormatError(f"{img_path} holds {images.shape}, not N 28×28 images; {FASHION_MNIST_FIX}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetFormatError(f"{lbl_path} holds labels of shape {labels.shape} for the {len(images)} images of "
                                 f"{img_path.name}; {FASHION_MNIST_FIX}")
    if len(labels) and int(labels.max()) >= DATASETS["fashion_mnist"].num_classes:
        raise DatasetFormatError(f"{lbl_path} holds label {int(labels.max())}; Fashion-MNIST has 10 classes (0..9); "
                                 f"{FASHION_MNIST_FIX}")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


# --- CIFAR (torchvision) -----------------------------------------------------


def _load_cifar(cls_name: str, root: str | Path, train: bool, download: bool) -> ImageSet:
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    try:
        ds = cls(str(root), train=train, download=download)
    except RuntimeError as err:
        raise DatasetNotFoundError(
            f"{cls_name} not found or corrupted under {root} ({err}). Fix: set data.roots to the folder that holds "
            f"the extracted python-version batches, or set data.download: true where a network is available."
        ) from err
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return ImageSet(images, torch.as_tensor(ds.targets, dtype=torch.int64))


def load_cifar10(root: str | Path, train: bool, download: bool = False) -> ImageSet:
    """CIFAR-10 through torchvision (folder ``ROOT/cifar-10-batches-py``)."""
    return _load_cifar("CIFAR10", root, train, download)


def load_cifar100(root: str | Path, train: bool, download: bool = False) -> ImageSet:
    """CIFAR-100 through torchvision (folder ``ROOT/cifar-100-python``)."""
    return _load_cifar("CIFAR100", root, train, download)


# --- ImageNet16-120 (NB201 pickles) ------------------------------------------

IMAGENET16_TRAIN_FILES = IMAGENET16_FILES[:-1]
IMAGENET16_TEST_FILES = IMAGENET16_FILES[-1:]


def load_imagenet16_120(root: str | Path, train: bool, download: bool = False) -> ImageSet:
    """ImageNet16-120 from the NB201 pickle batches; 16×16 RGB, labels 0..119."""
    root = Path(root)
    files = IMAGENET16_TRAIN_FILES if train else IMAGENET16_TEST_FILES
    missing = [name for name in files if not (root / name).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"ImageNet16-120 files missing in {root}: {', '.join(missing)}. Fix: set data.roots.imagenet16_120 to the "
            "folder of the NB201 ImageNet16 pickles (train_data_batch_1..10, val_data); they cannot be downloaded "
            "automatically."
        )
    data, labels = [], []
    for name in files:
        entry_data, entry_labels = _read_imagenet16_batch(root / name)
        data.append(entry_data)
        labels.append(entry_labels)
    images = np.concatenate(data).reshape(-1, 3, 16, 16)
    label_arr = np.concatenate(labels)
    keep = (label_arr >= 1) & (label_arr <= 120)
    return ImageSet(torch.from_numpy(images[keep].copy()), torch.from_numpy(label_arr[keep] - 1))


IMAGENET16_PIXELS = 3 * 16 * 16
IMAGENET16_FIX = "replace it with the original file of NAS-Bench-201's ImageNet16 download"


def _read_imagenet16_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (N, 768) uint8 and ``labels`` (N,) int64 in 1..1000 of one NB201 ImageNet16
    pickle; anything else (unreadable, other keys, shapes, dtypes or label range) is a
    :class:`DatasetFormatError` naming the file."""
    try:
        with open(path, "rb") as f:
            entry = ArrayUnpickler(f, path).load()
    except DatasetFormatError:
        raise
    except Exception as err:  # a damaged pickle fails in many ways (opcodes, memo, numpy reconstruction …)
        raise DatasetFormatError(f"{path} is not a readable NB201 ImageNet16 batch ({type(err).__name__}: "
                                 f"{str(err)[:120]}); {IMAGENET16_FIX}") from err
    if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
        raise DatasetFormatError(f"{path} holds no 'data' and 'labels'; it is not an NB201 ImageNet16 batch; "
                                 f"{IMAGENET16_FIX}")
    data, labels = entry["data"], entry["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != IMAGENET16_PIXELS:
        shown = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetFormatError(f"{path}: 'data' is {shown}, not uint8 (N, {IMAGENET16_PIXELS}) 16×16 RGB images; "
                                 f"{IMAGENET16_FIX}")
    try:
        label_arr = np.asarray(labels)
    except (ValueError, TypeError) as err:
        raise DatasetFormatError(f"{path}: 'labels' is not a list of class numbers; {IMAGENET16_FIX}") from err
    if label_arr.ndim != 1 or len(label_arr) != len(data) or (len(label_arr) and label_arr.dtype.kind not in "iu"):
        raise DatasetFormatError(f"{path}: 'labels' ({label_arr.dtype} {label_arr.shape}) are not {len(data)} "
                                 f"integer class numbers, one per image; {IMAGENET16_FIX}")
    if len(label_arr) and (label_arr.min() < 1 or label_arr.max() > 1000):
        raise DatasetFormatError(f"{path}: labels range over {label_arr.min()}..{label_arr.max()}, not ImageNet's "
                                 f"1..1000; {IMAGENET16_FIX}")
    return data, label_arr.astype(np.int64)


LOADERS: dict[str, Callable[[str | Path, bool, bool], ImageSet]] = {
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "imagenet16_120": load_imagenet16_120,
}


def load_dataset(name: str, root: str | Path, train: bool, download: bool = False) -> ImageSet:
    """Load the train or test split of dataset ``name`` from ``root``."""
    dataset_info(name)
    return LOADERS[name](root, train, download)
