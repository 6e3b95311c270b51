"""Panoptic segmentation datasets (stuff and things). Importing this package registers every format.

Every format gives ``(image uint8 (3, H, W), target)`` pairs through one interface,
:func:`create_panoptic_dataset`; the target holds the segment ids, ``segments_info``, the class map
``semantic`` and the thing instances in torchvision's detection form (see
:mod:`pixelwise.data.panoptic.base`). Formats: ``coco`` (COCO panoptic folders), ``pennfudan`` and the
synthetic ``shapes``. Batches are lists, as for instances: ``DataLoader(..., collate_fn=collate_instances)``.
"""

from pixelwise.data.instances.collate import collate_instances
from pixelwise.data.panoptic import coco, pennfudan, shapes  # noqa: F401  (registers)
from pixelwise.data.panoptic.base import (
    PanopticDataset,
    Target,
    paint_segments,
    panoptic_info,
    panoptic_target,
)
from pixelwise.data.panoptic.from_instances import InstancesAsPanoptic
from pixelwise.data.panoptic.registry import (
    PANOPTIC_DATASETS,
    create_panoptic_dataset,
    list_panoptic_datasets,
    register_panoptic_dataset,
)
from pixelwise.data.panoptic.transforms import (
    PanopticPipeline,
    panoptic_eval_transform,
    panoptic_train_transform,
)

__all__ = [
    "PANOPTIC_DATASETS",
    "InstancesAsPanoptic",
    "PanopticDataset",
    "PanopticPipeline",
    "Target",
    "collate_instances",
    "create_panoptic_dataset",
    "list_panoptic_datasets",
    "paint_segments",
    "panoptic_eval_transform",
    "panoptic_info",
    "panoptic_target",
    "panoptic_train_transform",
    "register_panoptic_dataset",
]
