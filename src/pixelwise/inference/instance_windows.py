"""Sliding windows for instance models: detect in overlapping windows, then keep one detection per object.

Each window is a crop of the image at its own resolution, which the detection model resizes as it
resizes any image (SAHI's slicing; the model's training scale then applies to the window, so set the
window near the size of the training images). Windows overlap by ``overlap`` and the last window of a row
or column is shifted back inside the image, as for semantic models (:mod:`~pixelwise.inference.sliding`).

Across windows, an object seen by two windows appears twice, and an object cut by a window's inner
border appears as a fragment. The merge, by class:

1. detections that touch an inner border of their window (cut) rank after whole ones, then by score;
2. in that order, a detection whose mask matches a kept detection of another window on the area the two
   windows share (IoU >= 0.5 there) is the same object: dropped, or, when both are cut (an object larger
   than the overlap, cut in every window), merged into it (union of masks and boxes, highest score);
3. detections of the same window are never merged with each other: the model's own NMS ranked them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pixelwise.inference.sliding import window_starts, window_stride

SAME_OBJECT_IOU = 0.5
"""Mask IoU, on the area two windows share, above which their detections are one object."""

BORDER = 2
"""Pixels from an inner window border within which a box counts as cut by it."""


@dataclass
class Detections:
    """Detections in image coordinates: ``boxes (N, 4)`` xyxy, ``labels (N,)``, ``scores (N,)``, ``masks
    (N, H, W)`` bool."""

    boxes: Tensor
    labels: Tensor
    scores: Tensor
    masks: Tensor


def detect_in_windows(
    image: Tensor,
    detect: Callable[[list[Tensor], list[tuple[int, int]]], list[Detections]],
    *,
    window: tuple[int, int],
    overlap: float,
    window_batch: int,
) -> Detections:
    """Run ``detect`` on overlapping windows of ``image`` ``(C, H, W)`` and merge the windows' detections.

    Args:
        image: The image (any dtype ``detect`` reads).
        detect: Crops ``[(C, h, w)]`` and their ``(y, x)`` origins in the image -> the crops' detections,
            each in its crop's coordinates (the origins let a caller place per-window outputs of its own,
            such as a panoptic network's semantic logits).
        window: ``(height, width)``; an image no larger than a window is one window.
        overlap: Share of a window its neighbour covers too, in ``[0, 1)``.
        window_batch: Crops per ``detect`` call.
    """
    height, width = image.shape[-2:]
    wh, ww = min(window[0], height), min(window[1], width)
    rows = window_starts(length=height, window=wh, stride=window_stride(wh, overlap))
    cols = window_starts(length=width, window=ww, stride=window_stride(ww, overlap))
    origins = [(y, x) for y in rows for x in cols]
    found: list[tuple[int, tuple[int, int], Detections, Tensor]] = []  # (window, (y, x) origin, detections, cut)
    for first in range(0, len(origins), window_batch):
        chunk = origins[first : first + window_batch]
        crops = [image[:, y : y + wh, x : x + ww] for y, x in chunk]
        for offset, ((y, x), found_here) in enumerate(zip(chunk, detect(crops, chunk), strict=True)):
            inner = (x > 0, y > 0, x + ww < width, y + wh < height)  # left, top, right, bottom borders inside the image
            found.append((first + offset, (y, x), found_here, _cut(found_here.boxes, (ww, wh), inner)))
    return _merge(found, height=height, width=width)


def _cut(boxes: Tensor, size: tuple[int, int], inner: tuple[bool, bool, bool, bool]) -> Tensor:
    """Whether each box (window coordinates) touches a window border that lies inside the image."""
    w, h = size
    left, top, right, bottom = inner
    return (
        (left & (boxes[:, 0] <= BORDER)) | (top & (boxes[:, 1] <= BORDER))
        | (right & (boxes[:, 2] >= w - BORDER)) | (bottom & (boxes[:, 3] >= h - BORDER))
    )  # fmt: skip


@dataclass
class _Part:
    """One window's detection: its window (index, origin, size), box in the image, and window-sized mask."""

    window: int
    origin: tuple[int, int]
    mask: Tensor  # (h, w) bool, the window's size
    box: Tensor  # (4,) xyxy in the image


def _merge(found: list[tuple[int, tuple[int, int], Detections, Tensor]], *, height: int, width: int) -> Detections:
    entries = []  # (cut, -score, label, part)
    for window, (y, x), d, cut in found:
        shift = torch.tensor([x, y, x, y], dtype=d.boxes.dtype)
        entries += [(bool(cut[i]), -float(d.scores[i]), int(d.labels[i]), _Part(window, (y, x), d.masks[i], d.boxes[i] + shift))
                    for i in range(len(d.scores))]  # fmt: skip
    entries.sort(key=lambda e: e[:2])  # whole before cut, then by score
    kept: list[dict] = []
    for cut, negative_score, label, part in entries:
        twin = next((k for k in kept if k["label"] == label and any(_same_object(part, other) for other in k["parts"])), None)
        if twin is None:
            kept.append({"label": label, "score": -negative_score, "parts": [part], "cut": cut})
        elif cut and twin["cut"]:  # two fragments of one object larger than the overlap
            twin["parts"].append(part)
    if not kept:
        return Detections(boxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.int64), scores=torch.zeros(0),
                          masks=torch.zeros(0, height, width, dtype=torch.bool))  # fmt: skip
    kept.sort(key=lambda e: -e["score"])
    masks = torch.zeros(len(kept), height, width, dtype=torch.bool)  # (N, H, W)
    for k, entry in enumerate(kept):
        for part in entry["parts"]:
            (y, x), (h, w) = part.origin, part.mask.shape
            masks[k, y : y + h, x : x + w] |= part.mask
    boxes = torch.stack([torch.cat([torch.stack([p.box[:2] for p in e["parts"]]).amin(0),
                                    torch.stack([p.box[2:] for p in e["parts"]]).amax(0)]) for e in kept])  # fmt: skip
    return Detections(
        boxes=boxes,
        labels=torch.tensor([e["label"] for e in kept], dtype=torch.int64),
        scores=torch.tensor([e["score"] for e in kept]),
        masks=masks,
    )


def _same_object(a: _Part, b: _Part) -> bool:
    """Detections of two windows are one object when, on the area both windows cover, their masks overlap
    (IoU >= :data:`SAME_OBJECT_IOU`): a duplicate and a fragment agree there as two fragments do."""
    if a.window == b.window:  # the model's own NMS already separated these
        return False
    (ay, ax), (ah, aw) = a.origin, a.mask.shape
    (by, bx), (bh, bw) = b.origin, b.mask.shape
    top, left = max(ay, by), max(ax, bx)
    bottom, right = min(ay + ah, by + bh), min(ax + aw, bx + bw)
    if bottom <= top or right <= left:
        return False
    common_a = a.mask[top - ay : bottom - ay, left - ax : right - ax]
    common_b = b.mask[top - by : bottom - by, left - bx : right - bx]
    union = int((common_a | common_b).sum())
    return union > 0 and int((common_a & common_b).sum()) / union >= SAME_OBJECT_IOU
