"""What every instance dataset gives: an image and a target of per-instance boxes, labels and masks.

The target follows torchvision's detection convention, so Mask R-CNN takes it as is::

    boxes     tv_tensors.BoundingBoxes  float32 (N, 4)  XYXY pixels, canvas_size (H, W)
    labels    int64 (N,)                contiguous classes 1..K (0 is background, never a label)
    masks     tv_tensors.Mask           uint8 (N, H, W)  0/1
    iscrowd   int64 (N,)                1: a crowd region (left out of training, honoured by evaluation)
    area      float32 (N,)              COCO: the annotation's area; others: mask pixels
    image_id  int                       stable per image (COCO: the file's own id)

An image without instances has ``N = 0`` and correctly shaped empty tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors

from pixelwise.data.base import DatasetInfo, InfoLabels
from pixelwise.data.labels import voc_palette

Target = dict[str, Any]
InstanceTransform = Callable[[Tensor, Target], tuple[Tensor, Target]]
Found = tuple[str, str, str, str]  # (severity, file, problem, fix), as pixelwise data verify reports it

PER_INSTANCE = ("boxes", "labels", "masks", "iscrowd", "area")
"""Target keys with one entry per instance: whatever drops an instance drops it from each."""


class InstanceDataset(InfoLabels, Dataset[tuple[Tensor, Target]]):
    """Base class: subclasses set ``info``, ``name`` and ``category_ids`` and implement
    ``__len__``, ``load`` and ``image_info``.

    ``dataset[i]`` returns ``transform(image, target)``; without a transform the raw
    :meth:`load` pair: image ``uint8 (3, H, W)`` and the target described in this module.

    Attributes:
        info: Class names with ``"background"`` at index 0, palette, ``ignore_index=None``.
        name: The source folder or file, for messages.
        category_ids: Contiguous label -> the dataset's own category id (index 0 -> 0).
        transform: ``(image, target) -> (image, target)`` applied on every access (settable).
    """

    info: DatasetInfo
    name: str
    category_ids: list[int]

    def __init__(self, *, transform: InstanceTransform | None = None) -> None:
        self.transform = transform

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> tuple[Tensor, Target]:
        """The untransformed ``(image uint8 (3, H, W), target)`` at ``index``."""
        raise NotImplementedError

    def image_info(self, index: int) -> dict[str, Any]:
        """``{"id", "width", "height", "file_name"}`` of image ``index`` (as a COCO ``images`` entry)."""
        raise NotImplementedError

    def image_path(self, index: int) -> Path | None:
        """The file image ``index`` is read from (``None`` for synthetic data)."""
        return None

    def instance_names(self, index: int, target: Target) -> list[str]:
        """How messages name each instance of image ``index`` (its raw ``target``), in target order."""
        return [f"instance {k + 1} of {self.image_info(index)['file_name']}" for k in range(len(target["labels"]))]

    def source_problems(self) -> list[Found]:
        """Problems of the source as a whole (an annotation file's entries), for ``pixelwise data verify``."""
        return []

    def image_problems(self, index: int, target: Target) -> list[Found]:
        """Format-specific problems of image ``index`` beyond what every dataset is checked for."""
        return []

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        image, target = self.load(index)
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target


def instance_info(class_names: Sequence[str]) -> DatasetInfo:
    """The :class:`DatasetInfo` of instance classes ``class_names`` (background is prepended)."""
    names = ("background", *class_names)
    return DatasetInfo(class_names=names, palette=voc_palette(len(names)), ignore_index=None, image_channels=3)


def make_target(
    *,
    masks: Tensor,
    labels: Sequence[int] | Tensor,
    image_id: int,
    boxes: Tensor | None = None,
    iscrowd: Sequence[int] | Tensor | None = None,
    area: Sequence[float] | Tensor | None = None,
) -> Target:
    """A target dict with the documented types.

    Args:
        masks: Instance masks, any dtype, nonzero inside.
        labels: Contiguous class of each instance.
        image_id: The image's id.
        boxes: XYXY boxes (default: each mask's pixel extent, see :func:`mask_boxes`).
        iscrowd: Crowd flags (default: all 0).
        area: Areas (default: mask pixel counts).

    Shape:
        ``masks`` (N, H, W); ``boxes`` (N, 4); the rest (N,).
    """
    masks = (masks != 0).to(torch.uint8)  # (N, H, W), a new tensor: the caller's is never written
    count, height, width = masks.shape
    boxes = mask_boxes(masks) if boxes is None else boxes.to(torch.float32).reshape(count, 4)
    return {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
        "labels": torch.as_tensor(labels, dtype=torch.int64).reshape(count),
        "masks": tv_tensors.Mask(masks),
        "iscrowd": torch.zeros(count, dtype=torch.int64) if iscrowd is None else torch.as_tensor(iscrowd, dtype=torch.int64),
        "area": mask_areas(masks) if area is None else torch.as_tensor(area, dtype=torch.float32).reshape(count),
        "image_id": int(image_id),
    }


def mask_boxes(masks: Tensor) -> Tensor:
    """Each mask's pixel extent as an XYXY box ``(x0, y0, x1 + 1, y1 + 1)`` — COCO's convention, where a
    one-pixel mask has a 1 x 1 box; an empty mask gives ``(0, 0, 0, 0)``.

    Shape:
        ``(N, H, W) -> (N, 4)`` float32.
    """
    count, height, width = masks.shape
    inside = masks != 0  # (N, H, W) bool: ``any`` of a uint8 tensor is uint8, whose ``~`` is not a negation
    rows, cols = inside.any(dim=2), inside.any(dim=1)  # (N, H), (N, W)
    occupied = rows.any(dim=1)  # (N,)
    y0 = rows.to(torch.uint8).argmax(dim=1)
    y1 = height - rows.flip(1).to(torch.uint8).argmax(dim=1)
    x0 = cols.to(torch.uint8).argmax(dim=1)
    x1 = width - cols.flip(1).to(torch.uint8).argmax(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1).to(torch.float32)  # (N, 4)
    return boxes * occupied[:, None]


def mask_areas(masks: Tensor) -> Tensor:
    """Pixels in each mask, ``(N, H, W) -> (N,)`` float32."""
    return masks.flatten(1).sum(dim=1, dtype=torch.int64).to(torch.float32)
