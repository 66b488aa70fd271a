"""Loaders on tiny files in the real formats, the seeded split and the batch stream."""

from __future__ import annotations

import pytest
import torch
import torchvision
from conftest import make_fashion_mnist, write_cifar, write_imagenet16

from fewshotnas.data import BatchStream, DatasetNotFoundError, ImageSet, load_dataset, load_prepared, prepare_data
from fewshotnas.data.datasets import read_idx
from fewshotnas.data.splits import save_prepared


def test_fashion_mnist_idx(fmnist_root):
    train = load_dataset("fashion_mnist", fmnist_root, train=True)
    test = load_dataset("fashion_mnist", fmnist_root, train=False)
    assert train.images.shape == (120, 1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 40 and int(train.labels.max()) <= 9


def test_fashion_mnist_torchvision_layout(tmp_path, fmnist_root):
    raw = tmp_path / "FashionMNIST" / "raw"
    make_fashion_mnist(raw, n_train=10, n_test=5)
    assert len(load_dataset("fashion_mnist", tmp_path, train=False)) == 5


def test_missing_fashion_mnist_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion_mnist", tmp_path, train=True)


def test_truncated_idx_is_an_error(tmp_path, fmnist_root):
    import gzip

    data = gzip.open(fmnist_root / "t10k-images-idx3-ubyte.gz").read()
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(data[:100])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(bad)


@pytest.fixture
def trust_cifar_checksums(monkeypatch):
    # torchvision checks the md5 of the official archives; our tiny files are in the same
    # format but not the same bytes, so only the checksum test is bypassed.
    for cls in (torchvision.datasets.CIFAR10, torchvision.datasets.CIFAR100):
        monkeypatch.setattr(cls, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)


@pytest.mark.parametrize("name,classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_through_torchvision(tmp_path, trust_cifar_checksums, name, classes):
    write_cifar(tmp_path, name)
    train = load_dataset(name, tmp_path, train=True)
    test = load_dataset(name, tmp_path, train=False)
    assert train.images.shape[1:] == (3, 32, 32)
    assert len(train) in (30, 12) and len(test) == 6
    assert int(train.labels.max()) < classes


def test_missing_cifar_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="data.roots"):
        load_dataset("cifar10", tmp_path, train=True)


def test_imagenet16_120_keeps_first_120_classes(tmp_path):
    write_imagenet16(tmp_path)
    train = load_dataset("imagenet16_120", tmp_path, train=True)
    assert train.images.shape[1:] == (3, 16, 16)
    assert int(train.labels.min()) >= 0 and int(train.labels.max()) <= 119
    assert set(train.labels.tolist()) <= {0, 1, 59, 119}
    (tmp_path / "val_data").unlink()
    with pytest.raises(DatasetNotFoundError, match="val_data"):
        load_dataset("imagenet16_120", tmp_path, train=False)


def test_prepare_is_seeded_and_disjoint(fmnist_root, tmp_path):
    a = prepare_data("fashion_mnist", fmnist_root, subset=100, test_subset=20, image_size=16, seed=3)
    b = prepare_data("fashion_mnist", fmnist_root, subset=100, test_subset=20, image_size=16, seed=3)
    c = prepare_data("fashion_mnist", fmnist_root, subset=100, test_subset=20, image_size=16, seed=4)
    assert len(a.weight) == 50 and len(a.arch) == 50 and len(a.test) == 20
    assert a.image_size == 16 and a.in_channels == 1
    assert torch.equal(a.weight.images, b.weight.images) and torch.equal(a.arch.labels, b.arch.labels)
    assert not torch.equal(a.weight.images, c.weight.images)
    # the halves are disjoint rows of the training set
    rows = {bytes(img.numpy()) for img in a.weight.images}
    assert not rows & {bytes(img.numpy()) for img in a.arch.images}
    path = tmp_path / "prep.pt"
    save_prepared(a, path)
    back = load_prepared(path)
    assert torch.equal(back.arch.images, a.arch.images) and back.meta == a.meta


def test_fraction_and_subset(fmnist_root):
    d = prepare_data("fashion_mnist", fmnist_root, fraction=0.5, subset=None)
    assert len(d.weight) + len(d.arch) == 60
    d = prepare_data("fashion_mnist", fmnist_root, fraction=0.5, subset=20)
    assert len(d.weight) + len(d.arch) == 20


def test_batch_stream_normalises_and_follows_generator():
    images = torch.randint(0, 256, (10, 2, 8, 8), dtype=torch.uint8)
    data = ImageSet(images, torch.arange(10))
    mean, std = (0.5, 0.25), (0.2, 0.1)
    plain = BatchStream(data, 10, mean, std, shuffle=False)
    x, y = next(iter(plain))
    expected = (images.float() / 255 - torch.tensor(mean).view(1, 2, 1, 1)) / torch.tensor(std).view(1, 2, 1, 1)
    torch.testing.assert_close(x, expected)
    assert torch.equal(y, torch.arange(10))
    runs = []
    for _ in range(2):
        stream = BatchStream(data, 4, mean, std, augment=True, generator=torch.Generator().manual_seed(7))
        runs.append([(x.clone(), y.clone()) for x, y in stream])
    assert len(runs[0]) == 2  # drop_last
    for (xa, ya), (xb, yb) in zip(*runs):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert runs[0][0][0].shape == (4, 2, 8, 8)


def test_missing_dataset_names_folder_files_and_fix(tmp_path):
    from fewshotnas.datafiles import CIFAR_FILES, FASHION_MNIST_STEMS, IMAGENET16_FILES, missing_dataset

    assert "t10k-labels-idx1-ubyte" in missing_dataset("fashion_mnist", tmp_path)
    assert missing_dataset("fashion_mnist", tmp_path, download=True) is None
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in FASHION_MNIST_STEMS:
        (raw / f"{stem}.gz").write_bytes(b"x")
    assert missing_dataset("fashion_mnist", tmp_path) is None
    folder, files = CIFAR_FILES["cifar100"]
    (tmp_path / folder).mkdir()
    (tmp_path / folder / files[0]).write_bytes(b"x")
    message = missing_dataset("cifar100", tmp_path)
    assert "test not found in" in message and str(tmp_path / folder) in message
    (tmp_path / folder / "test").write_bytes(b"x")
    assert missing_dataset("cifar100", tmp_path) is None
    message = missing_dataset("imagenet16_120", tmp_path, download=True)  # no download for ImageNet16
    assert "train_data_batch_10" in message and "val_data" in message
    for name in IMAGENET16_FILES:
        (tmp_path / name).write_bytes(b"x")
    assert missing_dataset("imagenet16_120", tmp_path) is None
    with pytest.raises(ValueError, match="unknown dataset"):
        missing_dataset("mnist", tmp_path)


@pytest.mark.parametrize("name", ["fashion_mnist", "fashion_mnist_raw", "cifar10", "cifar100", "imagenet16_120"])
def test_dataset_files_are_the_files_the_loader_reads(tmp_path, monkeypatch, trust_cifar_checksums, name):
    """`dataset_digest` (prepare_data's identity of the data) covers exactly what the loader opens,
    and changes with the content, not with a touch."""
    import builtins
    import gzip
    import os

    from fewshotnas.datafiles import dataset_digest, dataset_files

    if name == "fashion_mnist":
        make_fashion_mnist(tmp_path, n_train=10, n_test=5)
    elif name == "fashion_mnist_raw":
        make_fashion_mnist(tmp_path / "FashionMNIST" / "raw", n_train=10, n_test=5)
    elif name == "imagenet16_120":
        write_imagenet16(tmp_path)
    else:
        write_cifar(tmp_path, name)
    dataset = "fashion_mnist" if name.startswith("fashion") else name
    opened = set()
    real_open, real_gzip_open = builtins.open, gzip.open

    def spy(opener):
        def wrapped(file, *args, **kwargs):
            opened.add(os.path.realpath(file))
            return opener(file, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(builtins, "open", spy(real_open))
    monkeypatch.setattr(gzip, "open", spy(real_gzip_open))
    for train in (True, False):
        load_dataset(dataset, tmp_path, train=train)
    monkeypatch.undo()
    listed = {os.path.realpath(p) for p in dataset_files(dataset, tmp_path)}
    assert {p for p in opened if p.startswith(os.path.realpath(tmp_path))} == listed
    first = sorted(listed)[0]
    before = dataset_digest.__wrapped__(dataset, tmp_path)
    os.utime(first)  # touched
    assert dataset_digest.__wrapped__(dataset, tmp_path) == before
    with real_open(first, "ab") as f:
        f.write(b"\0")
    assert dataset_digest.__wrapped__(dataset, tmp_path) != before
    assert dataset_digest(dataset, tmp_path, True) == dataset_digest(dataset, tmp_path / "elsewhere", True)
