"""Datasets. Importing this package registers every dataset format.

Every format gives ``(image uint8 (C, H, W), mask int64 (H, W))`` pairs through one interface,
:func:`create_dataset` (``--dataset NAME --root PATH --split S`` on the command line).
"""

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data import ade20k, camvid, cityscapes, folder, isbi, pennfudan, pets, shapes, voc  # noqa: F401  (registers)
from pixelwise.data.base import DatasetInfo, SegmentationDataset
from pixelwise.data.files import FileDataset, Sample
from pixelwise.data.registry import (
    DATASETS,
    create_dataset,
    list_datasets,
    list_splits,
    register_dataset,
    register_splits,
)
from pixelwise.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform

__all__ = [
    "DATASETS",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DatasetInfo",
    "FileDataset",
    "Sample",
    "SegmentationDataset",
    "create_dataset",
    "eval_transform",
    "list_datasets",
    "list_splits",
    "register_dataset",
    "register_splits",
    "train_transform",
]
