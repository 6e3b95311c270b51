"""Datasets. Importing this package registers every dataset format."""

from pixelwise.data import shapes  # noqa: F401  (registers)
from pixelwise.data.base import IGNORE_INDEX, DatasetInfo, SegmentationDataset
from pixelwise.data.registry import DATASETS, create_dataset, list_datasets, register_dataset

__all__ = [
    "DATASETS",
    "IGNORE_INDEX",
    "DatasetInfo",
    "SegmentationDataset",
    "create_dataset",
    "list_datasets",
    "register_dataset",
]
