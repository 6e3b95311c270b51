"""An instance dataset read as panoptic: its instances are things, every other pixel one stuff class.

This fits datasets where "not an instance" really is one region (Penn-Fudan: background around
pedestrians), not COCO, whose unannotated pixels are many unlabelled stuff classes. The instance
classes keep their indices (the instance background, index 0, becomes the stuff class), so the
instance model's labels and the panoptic ones agree. Instances are painted in target order, a later
one on top; one hidden entirely is no segment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pixelwise.data.instances.base import InstanceDataset
from pixelwise.data.panoptic.base import (
    PanopticDataset,
    PanopticTransform,
    Target,
    panoptic_info,
    panoptic_target,
)


class InstancesAsPanoptic(PanopticDataset):
    """Panoptic samples from an instance dataset.

    Args:
        instances: The instance dataset (its own ``transform`` is not used).
        stuff_name: Name of the one stuff class, index 0.
        palette: One colour per class (default: the panoptic default).
        transform: ``(image, target) -> (image, target)``.

    Attributes:
        instances: The instance dataset (its files, ``samples``, ids and hold-out).
    """

    def __init__(
        self,
        *,
        instances: InstanceDataset,
        stuff_name: str = "background",
        palette: tuple[tuple[int, int, int], ...] | None = None,
        transform: PanopticTransform | None = None,
    ) -> None:
        super().__init__(transform=transform)
        self.instances = instances
        self.name = instances.name
        self.info = panoptic_info((stuff_name, *instances.class_names[1:]), palette=palette)
        self.things = tuple(range(1, self.info.num_classes))
        self.category_ids = list(instances.category_ids)

    def __len__(self) -> int:
        return len(self.instances)

    def image_info(self, index: int) -> dict[str, Any]:
        return self.instances.image_info(index)

    def image_path(self, index: int) -> Path | None:
        return self.instances.image_path(index)

    def load(self, index: int) -> tuple[Tensor, Target]:
        image, target = self.instances.load(index)
        masks = target["masks"].as_subclass(Tensor).bool()  # (N, H, W)
        segments = torch.ones(masks.shape[-2:] if len(masks) else image.shape[-2:], dtype=torch.int32)  # stuff: id 1
        info: list[dict[str, Any]] = [{"id": 1, "category_id": 0, "isthing": False, "iscrowd": 0}]
        for k, (mask, label, crowd) in enumerate(zip(masks, target["labels"].tolist(), target["iscrowd"].tolist(), strict=True)):
            segments[mask] = k + 2
            info.append({"id": k + 2, "category_id": int(label), "isthing": True, "iscrowd": int(crowd)})
        return image, panoptic_target(segments=segments, segments_info=info, image_id=target["image_id"])
