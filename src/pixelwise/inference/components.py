"""Semantic maps <-> instances: the connected-components baseline, and painting instances back to a class map.

:func:`semantic_to_instances` is what users of semantic networks (nnU-Net and friends) do to get
instances: every connected region of a "thing" class is one object. It gives an instance score
to any semantic predictor, the bar a Mask R-CNN must clear. Two touching objects of one class
merge into one, which is exactly the baseline's weakness that instance AP exposes.

:func:`paint_instances` goes the other way, so instance predictions can be scored with the
semantic confusion matrix.

The components are found by ``scipy.ndimage.label`` (SciPy is imported on the first call; it is
an optional dependency of pixelwise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from pixelwise.checks import check_int
from pixelwise.errors import PixelwiseError
from pixelwise.inference.mask_crops import MaskCrops


def semantic_to_instances(
    label_map: Tensor | np.ndarray,
    *,
    thing_classes: list[int],
    probabilities: Tensor | np.ndarray | None = None,
    min_area: int = 1,
    connectivity: int = 8,
) -> dict[str, Tensor]:
    """Every connected region of a thing class becomes one instance.

    Args:
        label_map: ``(H, W)`` class indices.
        thing_classes: Classes made of countable objects (e.g. ``[1]`` for pedestrians); regions of
            other classes (background, road, sky) are not instances.
        probabilities: ``(K, H, W)`` class probabilities; an instance's score is the mean probability
            of its class over its pixels. ``None``: every score is 1.0 (AP then cannot rank them).
        min_area: Regions of fewer pixels are dropped (speckle).
        connectivity: 8 (diagonal neighbours join a region) or 4.

    Returns:
        The torchvision detection dict, instances ordered by class, then by their first pixel in
        row-major order: ``boxes`` ``(N, 4)`` float32 ``x1, y1, x2, y2`` (``x2, y2`` one past the
        last pixel, as COCO's boxes of masks), ``labels`` ``(N,)`` int64, ``scores`` ``(N,)`` float32,
        ``masks`` ``(N, H, W)`` bool.

    Example:
        >>> labels = torch.tensor([[1, 1, 0, 1], [0, 0, 0, 1]])
        >>> semantic_to_instances(labels, thing_classes=[1])["boxes"].tolist()
        [[0.0, 0.0, 2.0, 1.0], [3.0, 0.0, 4.0, 2.0]]
    """
    try:
        from scipy import ndimage
    except ImportError:
        raise PixelwiseError("semantic_to_instances needs SciPy; install it with pip install scipy") from None
    check_int("min_area", min_area, minimum=1)
    if connectivity not in (4, 8):
        raise PixelwiseError(f"connectivity {connectivity!r} is not 4 or 8")
    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    return split_into_instances(label_map, thing_classes=thing_classes, probabilities=probabilities, min_area=min_area,
                                split=lambda mask: ndimage.label(mask, structure=structure)[0])


def split_into_instances(
    label_map: Tensor | np.ndarray,
    *,
    thing_classes: list[int],
    probabilities: Tensor | np.ndarray | None,
    min_area: int,
    split: Callable[[np.ndarray], np.ndarray],
) -> dict[str, Tensor]:
    """Instances from a class map: each thing class's pixels cut into objects by ``split`` (a bool ``(H, W)``
    mask -> int ``(H, W)`` object ids, 0 outside), each object boxed by its extent and scored by the mean
    probability of its class (1.0 without ``probabilities``). The one place connected components and the
    classical watershed split share; see :func:`semantic_to_instances` for the arguments and the result."""
    from scipy import ndimage

    labels = _numpy(label_map)
    if labels.ndim != 2:
        raise PixelwiseError(f"label map of shape {labels.shape}; expected one (H, W) map of class indices")
    probs = None
    if probabilities is not None:
        probs = _numpy(probabilities).astype(np.float32)
        if probs.ndim != 3 or probs.shape[1:] != labels.shape or probs.shape[0] <= max(thing_classes, default=0):
            raise PixelwiseError(
                f"probabilities of shape {probs.shape} do not fit the label map {labels.shape} and classes "
                f"{thing_classes}; give (K, H, W) with a channel per class"
            )
    height, width = labels.shape
    boxes, classes, scores, masks = [], [], [], []
    for cls in thing_classes:
        regions = split(labels == cls)  # (H, W) object ids 1..count, 0 elsewhere
        count = int(regions.max(initial=0))
        if count == 0:
            continue
        areas = np.bincount(regions.ravel(), minlength=count + 1)
        sums = (
            np.bincount(regions.ravel(), weights=probs[cls].ravel(), minlength=count + 1)
            if probs is not None else areas.astype(np.float64)
        )  # fmt: skip
        for region, window in enumerate(ndimage.find_objects(regions), start=1):
            if window is None or areas[region] < min_area:
                continue
            rows, cols = window
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            classes.append(cls)
            scores.append(sums[region] / areas[region])
            masks.append(regions == region)
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(classes, dtype=torch.int64),
        "scores": torch.tensor(scores, dtype=torch.float32),
        "masks": torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, height, width, dtype=torch.bool),
    }


def paint_instances(
    *,
    masks: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    scores: Tensor | np.ndarray,
    shape: tuple[int, int],
    background: int = 0,
    mask_threshold: float = 0.5,
) -> Tensor:
    """Paint instances onto one class map, most confident on top.

    Args:
        masks: ``(N, H, W)`` or ``(N, 1, H, W)`` masks, bool or probabilities (foreground at or above
            ``mask_threshold``).
        labels: ``(N,)`` the value each instance paints (its class, or an instance id).
        scores: ``(N,)`` confidences; where instances overlap, the highest score wins (a tie: the later one).
        shape: ``(H, W)`` of the map.
        background: The value of pixels no instance covers.
        mask_threshold: Cut-off of probability masks.

    Returns:
        ``(H, W)`` int64 map.
    """
    mask = torch.as_tensor(masks)
    if mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]  # (N, 1, H, W) -> (N, H, W)
    if mask.is_floating_point():
        mask = mask >= mask_threshold
    mask = mask.bool()
    values = torch.as_tensor(labels).reshape(-1).long()
    confidence = torch.as_tensor(scores).reshape(-1).float()
    height, width = (int(v) for v in shape)
    if mask.numel() == 0 and len(values) == 0:
        return torch.full((height, width), background, dtype=torch.int64)
    if mask.ndim != 3 or tuple(mask.shape[1:]) != (height, width) or not len(mask) == len(values) == len(confidence):
        raise PixelwiseError(
            f"masks {tuple(mask.shape)}, labels ({len(values)},) and scores ({len(confidence)},) do not describe "
            f"N instances of an {height}x{width} image; give (N, H, W) masks and N labels and scores"
        )
    # one rectangle per instance: memory stays at one map (a rank volume would be N x H x W)
    return MaskCrops.from_masks(mask).paint(values=values, scores=confidence, background=background)


def _numpy(value: Tensor | np.ndarray) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)
