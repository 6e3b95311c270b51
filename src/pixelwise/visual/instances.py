"""Instances drawn over an image: each its own colour, its box outline, class name and score.

torchvision's ``draw_bounding_boxes`` draws the boxes and captions. The masks are blended here, from
their crops (:class:`~pixelwise.inference.mask_crops.MaskCrops`) through one instance-id map:
torchvision's ``draw_segmentation_masks`` wants every mask at the image's size (``N * H * W`` bytes, too
much for a large image with many objects) and blacks out pixels two masks share, where this draws the
most confident instance on top, as the instance-id PNGs do. This file also picks the colours (one per
instance, well apart, stable for a given order) and writes the captions.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes

from pixelwise.inference.mask_crops import MaskCrops

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
    masks: Tensor | MaskCrops,
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
        masks: ``(N, H, W)`` bool, or the same masks cropped; where two overlap, the higher score is drawn
            (without scores, the later mask).
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
    crops = masks if isinstance(masks, MaskCrops) else MaskCrops.from_masks(masks.bool().cpu())
    ranks = scores.float().cpu() if scores is not None else torch.zeros(len(labels))
    ids = crops.paint(values=torch.arange(1, len(labels) + 1), scores=ranks, dtype=torch.int32)  # (H, W), 0 = none
    inside = ids > 0
    colour = torch.tensor(colors, dtype=torch.float32)[ids[inside].long() - 1].T  # (3, pixels inside a mask)
    picture = picture.clone()
    picture[:, inside] = (picture[:, inside] * (1 - alpha) + colour * alpha).to(torch.uint8)
    captions = [class_names[int(label)] + ("" if scores is None else f" {float(score):.2f}")
                for label, score in zip(labels, scores if scores is not None else labels, strict=True)]
    picture = draw_bounding_boxes(picture, boxes.float().cpu(), labels=captions, colors=colors, width=2)
    return picture.permute(1, 2, 0).numpy()
