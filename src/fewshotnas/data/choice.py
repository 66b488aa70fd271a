"""Which images ``fewshotnas score`` and ``fewshotnas proxies`` score on: Debian's
Fashion-MNIST when it is installed, else the config's first dataset, or N(0,1) noise when
asked."""

from __future__ import annotations

from pathlib import Path

import torch

Batch = tuple[torch.Tensor, torch.Tensor]

AUTO = "auto"
NOISE = "noise"


def choose_data(data: str = AUTO, root: str | None = None, config_path: str | Path | None = "config/config.yaml"
                ) -> tuple[str, str | None]:
    """(dataset, root) of the batches to score on. ``data``: ``noise`` (N(0,1) images, root
    None), a dataset name (``root`` or its Debian/``data/<name>`` default), or ``auto``:
    Debian's Fashion-MNIST when it is installed, else the first dataset of ``config_path`` and
    its configured root. Raises FileNotFoundError naming the folder and the fix when the
    chosen dataset's files are missing."""
    from fewshotnas.datafiles import DEBIAN_FASHION_MNIST, missing_dataset

    if data == NOISE:
        return NOISE, None
    if data != AUTO:
        root = root or (DEBIAN_FASHION_MNIST if data == "fashion_mnist" else f"data/{data}")
        problem = missing_dataset(data, root)
        if problem:
            raise FileNotFoundError(f"{problem} (or pass --root FOLDER, or --data noise for N(0,1) images)")
        return data, str(root)
    if root is not None:
        raise ValueError("--root needs --data DATASET (which dataset the folder holds)")
    if missing_dataset("fashion_mnist", DEBIAN_FASHION_MNIST) is None:
        return "fashion_mnist", DEBIAN_FASHION_MNIST
    tried = f"Fashion-MNIST is not installed in {DEBIAN_FASHION_MNIST}"
    if config_path is None or not Path(config_path).is_file():
        raise FileNotFoundError(f"no data to score on: {tried} and there is no config {config_path} to take a dataset "
                                "from. Fix: `apt-get install dataset-fashion-mnist` (Debian), or pass --data DATASET "
                                "--root FOLDER, or --data noise for N(0,1) images")
    import yaml

    config = yaml.safe_load(Path(config_path).read_text()) or {}
    try:
        dataset = config["datasets"][0]
        root = config["data"]["roots"][dataset]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"{config_path} names no first dataset with a data.roots entry; pass --data DATASET "
                         "--root FOLDER, or --data noise") from None
    problem = missing_dataset(dataset, root)
    if problem:
        raise FileNotFoundError(f"no data to score on: {tried}, and {config_path}'s first dataset has no files: "
                                f"{problem} (or pass --data noise for N(0,1) images)")
    return dataset, str(root)


def dataset_batches(dataset: str, root: str, count: int, batch_size: int, seed: int, image_size: int | None = None
                    ) -> tuple[list[Batch], int, int, int]:
    """``count`` seeded, normalised batches of ``batch_size`` training images of ``dataset``
    (read from ``root``, resized to ``image_size``): (batches, classes, channels, image size)."""
    from fewshotnas.data import prepare_data
    from fewshotnas.split.level import metric_batches

    need = 2 * count * batch_size  # the weight half of the subset gives the batches
    data = prepare_data(dataset, root, subset=need, test_subset=1, image_size=image_size, seed=seed)
    batches = metric_batches(data, count, batch_size, seed, torch.device("cpu"))
    return batches, data.num_classes, data.in_channels, data.image_size
