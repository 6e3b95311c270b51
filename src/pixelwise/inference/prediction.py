"""What a predictor returns for one image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


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


@dataclass
class InstancePrediction:
    """Objects, each with a box, a class, a score and a mask, highest score first.

    Attributes:
        boxes: ``(N, 4)`` float32 ``x1, y1, x2, y2`` in pixels of the input image.
        labels: ``(N,)`` int64 class indices (never 0, the background).
        scores: ``(N,)`` float32 confidences.
        masks: ``(N, H, W)`` bool, at the input image's size.
        class_names: One name per class, the background first.
    """

    boxes: Tensor
    labels: Tensor
    scores: Tensor
    masks: Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def label_map(self) -> Tensor:
        """``(H, W)`` int64 class map: the instances painted in rising score order, so the most
        confident one is on top where they overlap; 0 elsewhere."""
        from pixelwise.inference.components import paint_instances

        return torch.as_tensor(paint_instances(masks=self.masks, labels=self.labels, scores=self.scores,
                                               shape=tuple(self.masks.shape[-2:])), dtype=torch.int64)

    @property
    def instance_map(self) -> Tensor:
        """``(H, W)`` int32 instance ids: instance ``i`` (in this prediction's order) is ``i + 1``, painted in
        rising score order; 0 is background."""
        from pixelwise.inference.components import paint_instances

        ids = torch.arange(1, len(self) + 1, dtype=torch.int64)
        return torch.as_tensor(paint_instances(masks=self.masks, labels=ids, scores=self.scores,
                                               shape=tuple(self.masks.shape[-2:])), dtype=torch.int32)

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
                                     masks=self.masks, category_ids=ids)


Prediction = SemanticPrediction | InstancePrediction
"""Every prediction type (panoptic predictions join this union as that task lands)."""
