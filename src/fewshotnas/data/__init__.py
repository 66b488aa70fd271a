"""Datasets, the weight/arch split and in-memory batch streams."""

from fewshotnas.data.datasets import (
    DATASETS,
    DatasetNotFoundError,
    ImageSet,
    dataset_info,
    load_dataset,
)
from fewshotnas.data.loader import BatchStream
from fewshotnas.data.splits import PreparedData, load_prepared, prepare_data, save_prepared

__all__ = [
    "DATASETS", "BatchStream", "DatasetNotFoundError", "ImageSet", "PreparedData", "dataset_info", "load_dataset",
    "load_prepared", "prepare_data", "save_prepared",
]
