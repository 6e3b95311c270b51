"""What every panoptic dataset gives: an image, its segments, their class map and the thing instances.

Label layout: one class list ``0 .. K-1`` of stuff and things; ``things`` holds the indices of the
countable classes. A sample is ``(image uint8 (3, H, W), target)`` with::

    segments       int32 (H, W)    segment ids, 0 = void (unlabelled)
    segments_info  list[dict]      per segment: id, category_id (the class index), isthing, iscrowd, area
    semantic       int64 (H, W)    the class of every pixel, void -> IGNORE_INDEX (255)
    boxes, labels, masks, iscrowd, area, image_id
                                   the thing segments (crowd regions included, ``iscrowd=1``) in
                                   torchvision's detection form (see :mod:`pixelwise.data.instances.base`),
                                   ``labels`` = class index, in ``segments_info`` order

so a semantic branch trains on ``semantic`` and a Mask R-CNN branch on the instances. The target is
always rebuilt from ``segments`` + ``segments_info`` (:func:`panoptic_target`), so the three views
cannot disagree; transforms move ``segments`` and rebuild the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo
from pixelwise.data.instances.base import InstanceDataset, make_target
from pixelwise.data.labels import voc_palette
from pixelwise.errors import PixelwiseError

Target = dict[str, Any]
PanopticTransform = Callable[[Tensor, Target], tuple[Tensor, Target]]


class PanopticDataset(InstanceDataset):
    """Base class: subclasses set ``info``, ``things``, ``name`` and ``category_ids`` and implement
    ``__len__``, ``load`` and ``image_info``. Loading, transforms and labels work as for instance datasets
    (whose targets a panoptic target extends).

    ``dataset[i]`` returns ``transform(image, target)``; without a transform the raw :meth:`load` pair.

    Attributes:
        info: Class names, palette, ``ignore_index`` (the void label of ``semantic``), image channels.
        things: The class indices that are things.
        name: The source, for messages.
        category_ids: Class index -> the dataset's own category id (what a COCO panoptic file says).
        transform: ``(image, target) -> (image, target)`` applied on every access (settable).
    """

    info: DatasetInfo
    things: tuple[int, ...]
    name: str
    category_ids: list[int]

    def categories(self) -> list[dict[str, Any]]:
        """The classes as COCO panoptic ``categories``: ``{"id", "name", "isthing", "color"}`` (``id`` from
        :attr:`category_ids`), what :func:`pixelwise.data.panoptic_format.write_panoptic_json` takes."""
        return [{"id": self.category_ids[k], "name": name, "isthing": int(k in self.things), "color": list(self.palette[k])}
                for k, name in enumerate(self.class_names)]  # fmt: skip


def panoptic_info(class_names: Sequence[str], *, palette: Sequence[tuple[int, int, int]] | None = None) -> DatasetInfo:
    """The :class:`DatasetInfo` of panoptic classes (void in ``semantic`` is :data:`IGNORE_INDEX`)."""
    if len(class_names) > IGNORE_INDEX:
        raise PixelwiseError(
            f"{len(class_names)} panoptic classes collide with the void label {IGNORE_INDEX}; use at most {IGNORE_INDEX}"
        )
    colours = tuple(palette) if palette is not None else voc_palette(len(class_names) + 1)[1:]  # class 0 not black
    return DatasetInfo(class_names=tuple(class_names), palette=colours, ignore_index=IGNORE_INDEX, image_channels=3)


def paint_segments(segments: Tensor, values: Mapping[int, int], *, void: int) -> Tensor:
    """Replace each segment id by ``values[id]``; ids not in ``values`` (and 0) become ``void``.

    Shape:
        ``(H, W)`` integer ids -> ``(H, W)`` int64.
    """
    segments = torch.as_tensor(segments).cpu().to(torch.int64)
    ids, inverse = torch.unique(segments, return_inverse=True)  # any id size: COCO's reach 256**3
    table = torch.tensor([values.get(int(i), void) if int(i) != 0 else void for i in ids.tolist()], dtype=torch.int64)
    return table[inverse]


def panoptic_target(*, segments: Tensor, segments_info: Sequence[dict[str, Any]], image_id: int) -> Target:
    """The full target of a panoptic map: ``semantic``, the thing instances and ``segments_info`` with
    areas counted from ``segments``; segments with no pixel left (cropped away) are dropped.

    Args:
        segments: ``(H, W)`` integer segment ids, 0 = void.
        segments_info: ``{"id", "category_id", "isthing", "iscrowd"?}`` per segment (other keys kept).
        image_id: The image's id.

    Returns:
        The target described in this module.
    """
    segments = torch.as_tensor(segments).to(torch.int32)  # (H, W)
    ids, counts = torch.unique(segments, return_counts=True)
    area = {int(i): int(c) for i, c in zip(ids.tolist(), counts.tolist(), strict=True) if i != 0}
    info = [{**s, "iscrowd": int(s.get("iscrowd", 0)), "isthing": bool(s["isthing"]), "area": area[int(s["id"])]}
            for s in segments_info if int(s["id"]) in area]  # fmt: skip
    things = [s for s in info if s["isthing"]]
    height, width = segments.shape
    thing_ids = torch.tensor([s["id"] for s in things], dtype=torch.int32)
    masks = segments[None] == thing_ids[:, None, None] if things else torch.zeros(0, height, width, dtype=torch.bool)
    target = make_target(masks=masks, labels=[s["category_id"] for s in things], image_id=image_id,
                         iscrowd=[s["iscrowd"] for s in things])  # fmt: skip
    target["segments"] = segments
    target["segments_info"] = info
    target["semantic"] = paint_segments(segments, {s["id"]: s["category_id"] for s in info}, void=IGNORE_INDEX)
    return target
