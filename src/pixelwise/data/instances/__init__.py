"""Instance segmentation datasets (Mask R-CNN's input). Importing this package registers every format.

Every format gives ``(image uint8 (3, H, W), target)`` pairs through one interface,
:func:`create_instance_dataset`; the target is torchvision's detection dict (``boxes``,
``labels``, ``masks``, ``iscrowd``, ``area``, ``image_id``; see :mod:`pixelwise.data.instances.base`).
Formats: ``coco``, ``pennfudan``, ``folder`` (instance-id PNGs) and the synthetic ``shapes``.
"""

from pixelwise.data.instances import coco, folder, pennfudan, shapes  # noqa: F401  (registers)
from pixelwise.data.instances.base import PER_INSTANCE, InstanceDataset, Target, make_target
from pixelwise.data.instances.collate import collate_instances
from pixelwise.data.instances.registry import (
    INSTANCE_DATASETS,
    create_instance_dataset,
    list_instance_datasets,
    list_instance_splits,
    register_instance_dataset,
    register_instance_splits,
)
from pixelwise.data.instances.transforms import instance_eval_transform, instance_train_transform

__all__ = [
    "INSTANCE_DATASETS",
    "PER_INSTANCE",
    "InstanceDataset",
    "Target",
    "collate_instances",
    "create_instance_dataset",
    "instance_eval_transform",
    "instance_train_transform",
    "list_instance_datasets",
    "list_instance_splits",
    "make_target",
    "register_instance_dataset",
    "register_instance_splits",
]
