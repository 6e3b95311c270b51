"""Instances drawn over an image: each its own colour, its box outline, class name and score.

torchvision's ``draw_segmentation_masks`` and ``draw_bounding_boxes`` do the drawing; this file
picks the colours (one per instance, well apart, stable for a given order) and writes the captions.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

RGB = tuple[int, int, int]


def instance_colors(count: int) -> list[RGB]:
    """``count`` colours spread around the hue circle by the golden ratio (neighbours differ most)."""
    colors = []
    for index in range(count):
        r, g, b = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.85, 0.95)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def draw_instances(
    image: Tensor,
    *,
    masks: Tensor,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor | None,
    class_names: Sequence[str],
    alpha: float = 0.5,
) -> np.ndarray:
    """``uint8 (H, W, 3)``: ``image`` (``uint8 (C, H, W)``) with every instance's mask blended in its own
    colour, its box outlined and captioned ``class score``.

    Args:
        image: The picture, 1 or 3 channels.
        masks: ``(N, H, W)`` bool.
        boxes: ``(N, 4)`` xyxy pixels.
        labels: ``(N,)`` class indices into ``class_names``.
        scores: ``(N,)`` confidences (``None`` for ground truth: captions are the class names alone).
        class_names: Names of the classes, the background first.
        alpha: Opacity of the masks.
    """
    picture = image.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
    picture = picture.to(torch.uint8).cpu()
    if len(labels) == 0:
        return picture.permute(1, 2, 0).numpy()
    colors = instance_colors(len(labels))
    picture = draw_segmentation_masks(picture, masks.bool().cpu(), alpha=alpha, colors=colors)
    captions = [class_names[int(label)] + ("" if scores is None else f" {float(score):.2f}")
                for label, score in zip(labels, scores if scores is not None else labels, strict=True)]
    picture = draw_bounding_boxes(picture, boxes.float().cpu(), labels=captions, colors=colors, width=2)
    return picture.permute(1, 2, 0).numpy()
