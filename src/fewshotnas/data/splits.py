"""Prepared data: a seeded subset of the training set split into a weight half and
an architecture half, plus a test subset, resized once and kept as uint8.

The prepared bundle is what every training stage reads (one file, fast to load).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from fewshotnas.data.datasets import ImageSet, dataset_info, load_dataset
from fewshotnas.files import content_digest, load_checkpoint, save_checkpoint

BUNDLE_FORMAT = 1


@dataclass
class PreparedData:
    """Train images split into ``weight`` and ``arch`` halves, and a ``test`` set.

    ``weight``: trains supernet weights (and the base supernet with ``arch``);
    ``arch``: trains architecture parameters and gives supernet validation accuracy;
    ``test``: held-out images of the dataset's test split.
    """

    dataset: str
    weight: ImageSet
    arch: ImageSet
    test: ImageSet
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    meta: dict = field(default_factory=dict)

    @property
    def train(self) -> ImageSet:
        """Both halves together (the base supernet trains on all of them)."""
        return ImageSet(torch.cat([self.weight.images, self.arch.images]),
                        torch.cat([self.weight.labels, self.arch.labels]))

    @property
    def in_channels(self) -> int:
        return int(self.weight.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.weight.images.shape[-1])


def _take(n_total: int, size: int | None, fraction: float | None, gen: torch.Generator) -> torch.Tensor:
    perm = torch.randperm(n_total, generator=gen)
    n = n_total
    if fraction is not None:
        n = max(2, int(round(n_total * fraction)))
    if size is not None:
        n = min(n, size)
    return perm[:n]


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of uint8 (N, C, H, W) images to size×size, still uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = []
    for chunk in images.split(4096):
        resized = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(resized.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def prepare_data(
    dataset: str,
    root: str | Path,
    *,
    subset: int | None = None,
    fraction: float | None = None,
    test_subset: int | None = None,
    image_size: int | None = None,
    arch_fraction: float = 0.5,
    seed: int = 0,
    download: bool = False,
) -> PreparedData:
    """Load ``dataset``, keep a seeded subset, split it into weight/arch halves.

    ``subset``: at most this many training images; ``fraction``: this share of
    them (both may be given: the smaller wins); ``arch_fraction``: share of the
    kept images held out for architecture parameters (0.5 in the papers);
    ``image_size``: resize to this square size (None keeps the native size).
    """
    if not 0.0 < arch_fraction < 1.0:
        raise ValueError(f"arch_fraction must lie in (0, 1), got {arch_fraction}")
    info = dataset_info(dataset)
    gen = torch.Generator().manual_seed(seed)
    train = load_dataset(dataset, root, train=True, download=download)
    test = load_dataset(dataset, root, train=False, download=download)
    train = train.select(_take(len(train), subset, fraction, gen))
    test = test.select(_take(len(test), test_subset, None, gen))
    if image_size is not None:
        train = ImageSet(resize_images(train.images, image_size), train.labels)
        test = ImageSet(resize_images(test.images, image_size), test.labels)
    n_arch = int(round(len(train) * arch_fraction))
    if n_arch < 1 or n_arch >= len(train):
        raise ValueError(f"{len(train)} training images cannot be split with arch_fraction={arch_fraction}")
    idx = torch.arange(len(train))
    identity = content_digest([train.images, train.labels, test.images, test.labels])[:16]
    return PreparedData(
        dataset=dataset,
        weight=train.select(idx[n_arch:]),
        arch=train.select(idx[:n_arch]),
        test=test,
        num_classes=info.num_classes,
        mean=info.mean,
        std=info.std,
        meta={"seed": seed, "subset": subset, "fraction": fraction, "test_subset": test_subset,
              "image_size": image_size, "arch_fraction": arch_fraction, "content_sha256": identity},
    )


def save_prepared(data: PreparedData, path: str | Path) -> None:
    """Write the bundle atomically (torch format, with a content digest)."""
    payload = {
        "format": BUNDLE_FORMAT, "dataset": data.dataset, "num_classes": data.num_classes,
        "mean": data.mean, "std": data.std, "meta": data.meta,
        **{f"{part}_{kind}": getattr(getattr(data, part), kind) for part in ("weight", "arch", "test")
           for kind in ("images", "labels")},
    }
    save_checkpoint(payload, path)


def load_prepared(path: str | Path) -> PreparedData:
    """Read a bundle written by :func:`save_prepared`; a clear error for other or damaged files."""
    p = load_checkpoint(path, kind="prepared data", format_version=BUNDLE_FORMAT)
    parts = {part: ImageSet(p[f"{part}_images"], p[f"{part}_labels"]) for part in ("weight", "arch", "test")}
    return PreparedData(p["dataset"], parts["weight"], parts["arch"], parts["test"], p["num_classes"],
                        tuple(p["mean"]), tuple(p["std"]), p["meta"])
