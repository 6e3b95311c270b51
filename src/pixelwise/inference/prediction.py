"""What a predictor returns for one image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
from pixelwise.inference.mask_crops import MaskCrops


@dataclass
class SemanticPrediction:
    """A class for every pixel.

    Attributes:
        label_map: ``(H, W)`` class indices, at the input image's size: int64, or with sliding windows the
            smallest integer type that holds the classes (``uint8`` up to 256 classes: a byte a pixel).
        probabilities: ``(K, H, W)`` float32 class probabilities (softmax of the logits; a method
            without scores gives one-hot rows); ``None`` when the caller asked for the label map only
            (``predict_batch(..., probabilities=False)``).
        class_names: One name per class.
    """

    label_map: Tensor
    probabilities: Tensor | None
    class_names: tuple[str, ...]

    def numpy(self) -> np.ndarray:
        """The label map as a ``uint8`` (fewer than 256 classes) or ``int32`` numpy array."""
        dtype = np.uint8 if len(self.class_names) <= 256 else np.int32
        return self.label_map.cpu().numpy().astype(dtype)

    def class_areas(self) -> dict[str, float]:
        """Each class's share of the image (fractions summing to 1)."""
        counts = np.bincount(self.label_map.cpu().numpy().ravel(), minlength=len(self.class_names))
        total = max(int(counts.sum()), 1)
        return {name: float(count) / total for name, count in zip(self.class_names, counts, strict=False)}


@dataclass(init=False)
class InstancePrediction:
    """Objects, each with a box, a class, a score and a mask, highest score first.

    Attributes:
        boxes: ``(N, 4)`` float32 ``x1, y1, x2, y2`` in pixels of the input image.
        labels: ``(N,)`` int64 class indices (never 0, the background).
        scores: ``(N,)`` float32 confidences.
        crops: The masks, each kept as the rectangle it sets (:class:`~pixelwise.inference.mask_crops.MaskCrops`),
            so a large image with many objects holds their pixels, not ``N`` image-sized planes. The class
            map, the instance-id map, the COCO results and the drawings are made from them.
        class_names: One name per class, the background first.

    ``masks`` (the constructor's argument: an ``(N, H, W)`` stack or :class:`MaskCrops`; the property: the
    ``(N, H, W)`` bool stack at the input image's size, made on each call) is there for code that wants the
    stack.
    """

    boxes: Tensor
    labels: Tensor
    scores: Tensor
    crops: MaskCrops
    class_names: tuple[str, ...]

    def __init__(self, *, boxes: Tensor, labels: Tensor, scores: Tensor, masks: Tensor | MaskCrops,
                 class_names: tuple[str, ...]) -> None:
        self.boxes, self.labels, self.scores, self.class_names = boxes, labels, scores, class_names
        self.crops = masks if isinstance(masks, MaskCrops) else MaskCrops.from_masks(torch.as_tensor(masks).bool())

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def masks(self) -> Tensor:
        """``(N, H, W)`` bool masks at the input image's size (``N * H * W`` bytes; :attr:`crops` holds less)."""
        return self.crops.full()

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the input image."""
        return self.crops.size

    @property
    def label_map(self) -> Tensor:
        """``(H, W)`` int64 class map: the instances painted in rising score order, so the most
        confident one is on top where they overlap; 0 elsewhere."""
        return self.crops.paint(values=self.labels, scores=self.scores)

    @property
    def instance_map(self) -> Tensor:
        """``(H, W)`` int32 instance ids: instance ``i`` (in this prediction's order) is ``i + 1``, painted in
        rising score order; 0 is background."""
        return self.crops.paint(values=torch.arange(1, len(self) + 1), scores=self.scores, dtype=torch.int32)

    def numpy(self) -> np.ndarray:
        """The painted class map as a ``uint8`` numpy array."""
        return self.label_map.numpy().astype(np.uint8 if len(self.class_names) <= 256 else np.int32)

    def class_areas(self) -> dict[str, float]:
        """Each class's share of the image in the painted class map (fractions summing to 1)."""
        counts = np.bincount(self.label_map.numpy().ravel(), minlength=len(self.class_names))
        total = max(int(counts.sum()), 1)
        return {name: float(count) / total for name, count in zip(self.class_names, counts, strict=False)}

    def to_coco(self, *, image_id: int, category_ids: list[int] | None = None) -> list[dict]:
        """The instances in COCO's results format (``bbox`` xywh, ``segmentation`` compressed RLE with a
        str ``counts``, ``category_id`` through ``category_ids``: label -> the dataset's id)."""
        from pixelwise.metrics.coco_results import detections_to_results

        ids = list(category_ids) if category_ids is not None else list(range(len(self.class_names)))
        return detections_to_results(image_id=image_id, boxes=self.boxes, labels=self.labels, scores=self.scores,
                                     rles=self.crops.to_rle(), category_ids=ids)


@dataclass
class PanopticPrediction:
    """A class for every pixel and an id for every thing: segments, each one stuff region or one object.

    Label layout: one class list ``0 .. K-1`` (stuff and things); ``things`` are the countable classes.

    Attributes:
        segments: ``(H, W)`` int32 segment ids at the input image's size; 0 is void (no segment).
        segments_info: One dict per segment: ``id``, ``category_id`` (the class index), ``isthing``,
            ``iscrowd`` (0 in predictions), ``area`` (pixels); fused things also ``score`` and ``instance_id``.
        class_names: One name per class.
        things: The class indices that are things.
    """

    segments: Tensor
    segments_info: list[dict[str, Any]]
    class_names: tuple[str, ...]
    things: tuple[int, ...]

    @property
    def label_map(self) -> Tensor:
        """``(H, W)`` int64 class of every pixel; void pixels hold
        :data:`~pixelwise.constants.IGNORE_INDEX` (255), as in panoptic datasets' ``semantic`` targets, so
        a void pixel is never mistaken for class 0."""
        from pixelwise.data.panoptic.base import paint_segments

        return paint_segments(self.segments, {s["id"]: s["category_id"] for s in self.segments_info}, void=IGNORE_INDEX)

    @property
    def instance_map(self) -> Tensor:
        """``(H, W)`` int32 instance ids: the thing segments numbered ``1..M`` in ``segments_info`` order (as
        :meth:`instances` lists them); stuff and void are 0."""
        from pixelwise.data.panoptic.base import paint_segments

        things = [s["id"] for s in self.segments_info if s["isthing"]]
        ids = paint_segments(self.segments, {sid: k + 1 for k, sid in enumerate(things)}, void=0)
        return ids.to(torch.int32)

    def numpy(self) -> np.ndarray:
        """The segment ids as an ``int32`` numpy array (what the COCO panoptic PNG encodes)."""
        return self.segments.cpu().numpy().astype(np.int32)

    def class_areas(self) -> dict[str, float]:
        """Each class's share of the image; void pixels count in no class (the shares sum to 1 minus void)."""
        counts = np.zeros(len(self.class_names), dtype=np.int64)
        for segment in self.segments_info:
            counts[segment["category_id"]] += int((self.segments == segment["id"]).sum())
        total = max(int(self.segments.numel()), 1)
        return {name: float(count) / total for name, count in zip(self.class_names, counts, strict=True)}

    def instances(self) -> InstancePrediction:
        """The thing segments as an :class:`InstancePrediction` (masks as drawn here, so they never
        overlap; boxes their extent; ``score`` where the segment has one, else 1), highest score first;
        its ``class_names`` are the panoptic ones."""
        from pixelwise.data.instances.base import mask_boxes

        things = sorted((s for s in self.segments_info if s["isthing"]), key=lambda s: -float(s.get("score", 1.0)))
        height, width = self.segments.shape
        ids = torch.tensor([s["id"] for s in things], dtype=self.segments.dtype)
        masks = self.segments.cpu()[None] == ids[:, None, None] if things else torch.zeros(0, height, width, dtype=torch.bool)
        return InstancePrediction(
            boxes=mask_boxes(masks), labels=torch.tensor([s["category_id"] for s in things], dtype=torch.int64),
            scores=torch.tensor([float(s.get("score", 1.0)) for s in things], dtype=torch.float32), masks=masks,
            class_names=self.class_names,
        )  # fmt: skip


Prediction = SemanticPrediction | InstancePrediction | PanopticPrediction
"""Every prediction type."""
