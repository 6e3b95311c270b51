"""Tensors of one image -> COCO dicts: ground-truth annotations, detection results, a ground-truth dataset.

The model's labels are indices; COCO files speak the dataset's own category ids (COCO's run
1..90 with gaps). ``category_ids[label]`` is the category id of model label ``label``: with
torchvision's detection models, whose label 0 is the background, ``category_ids[0]`` is never
used (give any placeholder, e.g. ``0``).

Boxes come in torchvision's ``xyxy`` corners and leave in COCO's ``[x, y, width, height]``;
masks leave as compressed RLE with ``str`` counts, so every dict here goes straight to ``json.dump``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.metrics.coco_checks import check_ground_truth
from pixelwise.metrics.rle import RLE, encode_masks, rle_area

ArrayLike = np.ndarray | torch.Tensor


def ground_truth_annotations(
    *,
    image_id: int,
    boxes: ArrayLike,
    labels: ArrayLike,
    category_ids: list[int],
    masks: ArrayLike | None = None,
    iscrowd: ArrayLike | None = None,
    area: ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """The COCO annotations of one image's true instances (a torchvision detection target).

    Args:
        image_id: The image's id in the ground-truth dataset.
        boxes: ``(N, 4)`` boxes, ``x1, y1, x2, y2`` in pixels.
        labels: ``(N,)`` model labels; ``category_ids[label]`` is the COCO category.
        category_ids: The dataset's category id of each model label.
        masks: ``(N, H, W)`` binary masks (``None``: a box-only dataset, scored by box AP only).
        iscrowd: ``(N,)`` 1 for crowd regions (neither missed nor matched wrongly); default all 0.
        area: ``(N,)`` areas that decide small/medium/large; default the mask's pixel count
            (the box's area without masks).

    Returns:
        One dict per instance with ``image_id``, ``category_id``, ``bbox`` (xywh), ``area``,
        ``iscrowd`` and ``segmentation`` (compressed RLE) but no ``id``: :func:`coco_ground_truth`
        numbers the annotations of the whole dataset.
    """
    box_array, categories = _boxes(boxes), _categories(labels, category_ids)
    count = len(categories)
    _check_count("boxes", box_array, count)
    rles = encode_masks(masks) if masks is not None else None
    if rles is not None:
        _check_count("masks", rles, count)
    crowd = np.zeros(count, np.int64) if iscrowd is None else _numpy(iscrowd).reshape(-1).astype(np.int64)
    _check_count("iscrowd", crowd, count)
    if area is not None:
        areas = _numpy(area).reshape(-1).astype(np.float64)
    elif rles is not None:
        areas = rle_area(rles).astype(np.float64)
    else:
        areas = (box_array[:, 2] - box_array[:, 0]) * (box_array[:, 3] - box_array[:, 1])
    _check_count("area", areas, count)
    annotations = []
    for index in range(count):
        annotation = {
            "image_id": int(image_id),
            "category_id": categories[index],
            "bbox": _xywh(box_array[index]),
            "area": float(areas[index]),
            "iscrowd": int(crowd[index] != 0),
        }
        if rles is not None:
            annotation["segmentation"] = rles[index]
        annotations.append(annotation)
    return annotations


def detections_to_results(
    *,
    image_id: int,
    boxes: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    category_ids: list[int],
    masks: ArrayLike | None = None,
    mask_threshold: float = 0.5,
    rles: list[RLE] | None = None,
) -> list[dict[str, Any]]:
    """One image's detections in COCO's official results format.

    Args:
        image_id: The image's id in the ground-truth dataset.
        boxes: ``(N, 4)`` boxes, ``x1, y1, x2, y2`` in pixels.
        labels: ``(N,)`` model labels; ``category_ids[label]`` is the COCO category.
        scores: ``(N,)`` confidences; COCO AP ranks detections by them.
        category_ids: The dataset's category id of each model label.
        masks: ``(N, H, W)`` or ``(N, 1, H, W)`` (torchvision's Mask R-CNN) masks, bool or
            probabilities; probabilities at or above ``mask_threshold`` are foreground. ``None``: boxes only.
        mask_threshold: Cut-off of probability masks (0.5, as torchvision and Detectron2 use).
        rles: The masks already encoded (compressed RLE, ``str`` counts), instead of ``masks``.

    Returns:
        ``{"image_id", "category_id", "bbox": [x, y, w, h], "score", "segmentation"}`` per detection
        (``segmentation`` only with masks), JSON-ready.
    """
    box_array, categories = _boxes(boxes), _categories(labels, category_ids)
    count = len(categories)
    _check_count("boxes", box_array, count)
    score_array = _numpy(scores).reshape(-1).astype(np.float64)
    _check_count("scores", score_array, count)
    if masks is not None and rles is not None:
        raise PixelwiseError("give masks or rles, not both")
    if masks is not None:
        mask_array = _numpy(masks)
        if mask_array.ndim == 4 and mask_array.shape[1] == 1:
            mask_array = mask_array[:, 0]  # (N, 1, H, W) -> (N, H, W)
        if np.issubdtype(mask_array.dtype, np.floating):
            mask_array = mask_array >= mask_threshold
        rles = encode_masks(mask_array)
    if rles is not None:
        _check_count("masks", rles, count)
    results = []
    for index in range(count):
        result = {
            "image_id": int(image_id),
            "category_id": categories[index],
            "bbox": _xywh(box_array[index]),
            "score": float(score_array[index]),
        }
        if rles is not None:
            result["segmentation"] = rles[index]
        results.append(result)
    return results


def coco_ground_truth(
    *, images: list[dict[str, Any]], annotations: list[dict[str, Any]], categories: list[dict[str, Any]]
) -> dict[str, Any]:
    """Assemble a COCO ground-truth dataset, numbering the annotations ``1 .. N``.

    COCOeval reads an annotation id of 0 as "unmatched", so ids start at 1 and any ids the
    annotations carry are replaced.

    Args:
        images: ``{"id", "width", "height"}`` (and optionally ``"file_name"``) per image, including
            images without any instance.
        annotations: From :func:`ground_truth_annotations`, all images together.
        categories: ``{"id", "name"}`` per category (the dataset's ids; no background entry).

    Returns:
        ``{"images", "annotations", "categories"}``, checked and ready for :func:`evaluate_coco`
        or ``json.dump``.

    Raises:
        PixelwiseError: an annotation naming an unknown image or category, duplicate ids, a mask
            whose size differs from its image's.
    """
    dataset = {"images": list(images), "annotations": list(annotations), "categories": list(categories)}
    return check_ground_truth(dataset, source="ground truth").dataset


def _numpy(value: ArrayLike) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _boxes(boxes: ArrayLike) -> np.ndarray:
    array = _numpy(boxes).astype(np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise PixelwiseError(f"boxes of shape {array.shape}; expected (N, 4) as x1, y1, x2, y2")
    return array


def _categories(labels: ArrayLike, category_ids: list[int]) -> list[int]:
    values = _numpy(labels).reshape(-1).astype(np.int64)
    bad = [int(v) for v in values if not 0 <= v < len(category_ids)]
    if bad:
        raise PixelwiseError(
            f"label {bad[0]} has no category id: category_ids lists {len(category_ids)} (index = model label); "
            "give one category id per model label"
        )
    return [int(category_ids[v]) for v in values]


def _check_count(name: str, values: Any, count: int) -> None:
    if len(values) != count:
        raise PixelwiseError(f"{len(values)} {name} for {count} labels; give one per instance")


def _xywh(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]
