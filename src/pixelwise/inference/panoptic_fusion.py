"""Fusion: a semantic class map (stuff) and instances (things) combined into one panoptic map.

The rule is Detectron2's ``combine_semantic_and_instance_outputs`` (Panoptic FPN, Kirillov et al.
2019 — https://arxiv.org/abs/1901.02446), itself panopticapi's ``combine_semantic_and_instance_predictions``:

1. Instances in descending score order; the first one under ``score_threshold`` ends the pass.
2. An instance with an empty mask is skipped; one whose mask lies on already-taken pixels for more
   than ``overlap_threshold`` of its area is dropped; otherwise its free pixels become a segment.
3. Each semantic class that is stuff, in ascending class order, takes the pixels of that class no
   instance took as one segment, dropped when smaller than ``stuff_area_fraction`` of the image.

Pixels of a thing class in the semantic map are never stuff (Detectron2's semantic head gives them
all its class 0, which it skips): a thing pixel no instance covers stays void (segment id 0).

Label layout: one class list ``0 .. K-1``; ``things`` names the countable classes. The semantic map
and the instance labels both index it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import torch
from torch import Tensor

from pixelwise.checks import check_float
from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.inference.mask_crops import MaskCrops

OVERLAP_THRESHOLD = 0.5
"""Detectron2's ``MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH``."""

SCORE_THRESHOLD = 0.5
"""Detectron2's ``MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH``."""

STUFF_AREA_FRACTION = 4096 / (640 * 480)
"""Detectron2's ``STUFF_AREA_LIMIT`` of 4096 pixels as a share of the image: 1/75, about 1.33 %.

Detectron2 fuses at the resolution of the *original* image (``detector_postprocess`` and
``sem_seg_postprocess`` resize to the input's ``height``/``width``, which its dataset mapper fills from
the COCO file), not at the ~800 x 1216 the network sees. COCO images are 640 px on the long side and
mostly 640 x 480, so 4096 px is 4096 / (640 * 480) of a typical COCO image; the fraction keeps the
rule's meaning at any image size (218 px of a 128 x 128 image, exactly 4096 px of a 640 x 480 one).
"""

Segment = dict[str, Any]


class Instances(Protocol):
    """What the fusion reads of an instance prediction (:class:`~pixelwise.inference.InstancePrediction`
    or any object with these attributes)."""

    labels: Tensor  # (N,) class indices into the panoptic class list
    scores: Tensor  # (N,) confidences
    masks: Tensor | MaskCrops  # (N, H, W) bool, or probabilities (inside at >= 0.5), or cropped masks


def fuse_panoptic(
    *,
    semantic: Tensor,
    instances: Instances,
    things: Collection[int],
    overlap_threshold: float = OVERLAP_THRESHOLD,
    score_threshold: float = SCORE_THRESHOLD,
    stuff_area_fraction: float = STUFF_AREA_FRACTION,
    ignore_index: int | None = IGNORE_INDEX,
) -> tuple[Tensor, list[Segment]]:
    """Combine a semantic map and instances into segment ids and their ``segments_info``.

    Args:
        semantic: ``(H, W)`` integer class map (the semantic model's argmax).
        instances: Detections whose ``labels`` are thing classes of the same class list.
        things: The class indices that are countable things.
        overlap_threshold: An instance is dropped when more than this share of its mask is already taken.
        score_threshold: Instances less confident than this are not used.
        stuff_area_fraction: A stuff segment smaller than this share of ``H * W`` pixels is dropped
            (see :data:`STUFF_AREA_FRACTION` for the default's origin).
        ignore_index: A semantic label that is no class (left void); ``None``: none.

    Returns:
        ``(segments int32 (H, W), segments_info)``: ids ``1..S`` (0 = void) and one dict per segment,
        things first in score order, then stuff in class order: ``{"id", "category_id"`` (the class
        index)``, "isthing", "iscrowd": 0, "area"`` (pixels)``}``, things also ``"score"`` and
        ``"instance_id"`` (the instance's position in ``instances``).

    Raises:
        PixelwiseError: Mismatched sizes, an instance labelled with a class that is not a thing, or a
            threshold out of range.
    """
    check_float("overlap_threshold", overlap_threshold, minimum=0.0)
    check_float("score_threshold", score_threshold, minimum=0.0)
    check_float("stuff_area_fraction", stuff_area_fraction, minimum=0.0)
    if semantic.ndim != 2 or semantic.dtype.is_floating_point:
        raise PixelwiseError(f"semantic must be an (H, W) integer class map, got {semantic.dtype} {tuple(semantic.shape)}")
    height, width = semantic.shape
    masks = _cropped(instances)
    labels = torch.as_tensor(instances.labels).reshape(-1).long().cpu()
    scores = torch.as_tensor(instances.scores).reshape(-1).float().cpu()
    if masks.size != (height, width) or not len(masks) == len(labels) == len(scores):
        raise PixelwiseError(
            f"instances have {len(masks)} masks of {masks.size[0]}x{masks.size[1]}, {len(labels)} labels and "
            f"{len(scores)} scores; give (N, {height}, {width}) masks, one label and one score per mask"
        )
    thing_set = {int(t) for t in things}
    strangers = sorted({int(label) for label in labels.tolist()} - thing_set)
    if strangers:
        raise PixelwiseError(
            f"instance label(s) {strangers} are not thing classes (things: {sorted(thing_set)}); "
            "map the instance model's classes onto the panoptic things first"
        )
    semantic = semantic.cpu()

    segments = torch.zeros(height, width, dtype=torch.int32)
    info: list[Segment] = []
    for index in torch.argsort(-scores).tolist():  # Detectron2 sorts by -score, ties in argsort's order
        score = float(scores[index])
        if score < score_threshold:
            break
        top, left, bottom, right = masks.rects[index]
        mask, region = masks.crops[index], segments[top:bottom, left:right]  # the mask's rectangle (a view)
        area = int(mask.sum())
        if area == 0:
            continue
        taken = int((mask & (region > 0)).sum())
        if taken / area > overlap_threshold:
            continue
        segment_id = len(info) + 1
        region[mask & (region == 0)] = segment_id
        info.append({"id": segment_id, "category_id": int(labels[index]), "isthing": True, "iscrowd": 0,
                     "area": area - taken, "score": score, "instance_id": index})  # fmt: skip

    free = segments == 0
    minimum_area = stuff_area_fraction * height * width
    for label in torch.unique(semantic).tolist():
        if label in thing_set or label == ignore_index:
            continue
        mask = free & (semantic == label)
        area = int(mask.sum())
        if area < minimum_area or area == 0:
            continue
        segment_id = len(info) + 1
        segments[mask] = segment_id
        info.append({"id": segment_id, "category_id": int(label), "isthing": False, "iscrowd": 0, "area": area})
    return segments, info


def _cropped(instances: Instances) -> MaskCrops:
    """The instances' masks as crops (an :class:`~pixelwise.inference.InstancePrediction` keeps them so)."""
    masks = getattr(instances, "crops", None)
    masks = instances.masks if masks is None else masks
    if isinstance(masks, MaskCrops):
        return masks
    masks = torch.as_tensor(masks).cpu()
    if masks.ndim != 3:
        raise PixelwiseError(f"instances have masks of shape {tuple(masks.shape)}; give (N, H, W) masks")
    return MaskCrops.from_masks(masks >= 0.5 if masks.is_floating_point() else masks.bool())
