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

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pixelwise.inference.mask_crops import MaskCrops, Rect
from pixelwise.inference.sliding import window_starts, window_stride

SAME_OBJECT_IOU = 0.5
"""Mask IoU, on the area two windows share, above which their detections are one object."""

BORDER = 2
"""Pixels from an inner window border within which a box counts as cut by it."""


@dataclass
class Detections:
    """Detections in image coordinates: ``boxes (N, 4)`` xyxy, ``labels (N,)``, ``scores (N,)``, and their
    masks, each kept as the rectangle it sets (so merged detections of a large image hold their objects'
    pixels, not one image-sized plane each)."""

    boxes: Tensor
    labels: Tensor
    scores: Tensor
    masks: MaskCrops


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
    entries: list[tuple[bool, float, int, _Part]] = []  # (cut, -score, label, part): each window's masks cropped at once
    for first in range(0, len(origins), window_batch):
        chunk = origins[first : first + window_batch]
        crops = [image[:, y : y + wh, x : x + ww] for y, x in chunk]
        for offset, ((y, x), d) in enumerate(zip(chunk, detect(crops, chunk), strict=True)):
            inner = (x > 0, y > 0, x + ww < width, y + wh < height)  # left, top, right, bottom borders inside the image
            cut = _cut(d.boxes, (ww, wh), inner)
            shift = torch.tensor([x, y, x, y], dtype=d.boxes.dtype)
            rect = (y, x, y + wh, x + ww)
            entries += [(bool(cut[i]), -float(d.scores[i]), int(d.labels[i]),
                         _Part(first + offset, rect, _shifted(d.masks.rects[i], y, x), d.masks.crops[i], d.boxes[i] + shift))
                        for i in range(len(d.scores))]  # fmt: skip
    # windows meet when both their rows and their columns overlap
    near_rows = [[j for j, other in enumerate(rows) if abs(other - top) < wh] for top in rows]
    near_cols = [[j for j, other in enumerate(cols) if abs(other - left) < ww] for left in cols]

    def neighbours(window: int) -> list[int]:
        row, col = divmod(window, len(cols))
        return [r * len(cols) + c for r in near_rows[row] for c in near_cols[col]]

    return _merge(entries, height=height, width=width, neighbours=neighbours)


def _cut(boxes: Tensor, size: tuple[int, int], inner: tuple[bool, bool, bool, bool]) -> Tensor:
    """Whether each box (window coordinates) touches a window border that lies inside the image."""
    w, h = size
    left, top, right, bottom = inner
    return (
        (left & (boxes[:, 0] <= BORDER)) | (top & (boxes[:, 1] <= BORDER))
        | (right & (boxes[:, 2] >= w - BORDER)) | (bottom & (boxes[:, 3] >= h - BORDER))
    )  # fmt: skip


def _shifted(rect: Rect, y: int, x: int) -> Rect:
    return (rect[0] + y, rect[1] + x, rect[2] + y, rect[3] + x)


@dataclass
class _Part:
    """One window's detection: its window, its box in the image, and its mask cropped to the pixels it sets
    (so memory follows the objects, not windows x detections)."""

    window: int
    window_rect: Rect
    mask_rect: Rect
    mask: Tensor  # (bottom - top, right - left) bool
    box: Tensor  # (4,) xyxy in the image

    def pixels(self, rect: Rect) -> Tensor:
        """The mask's pixels inside ``rect``, which must lie inside :attr:`mask_rect`."""
        top, left = self.mask_rect[:2]
        return self.mask[rect[0] - top : rect[2] - top, rect[1] - left : rect[3] - left]


def _intersect(a: Rect, b: Rect) -> Rect | None:
    rect = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return rect if rect[0] < rect[2] and rect[1] < rect[3] else None


def _merge(entries: list[tuple[bool, float, int, _Part]], *, height: int, width: int,
           neighbours: Callable[[int], list[int]]) -> Detections:
    """``neighbours(window)``: the windows whose area meets that window's (itself included); only detections
    kept from those can be the same object, so each detection is compared with a few, not with all kept."""
    entries.sort(key=lambda e: e[:2])  # whole before cut, then by score
    kept: list[dict] = []
    by_window: dict[int, list[int]] = defaultdict(list)  # window -> positions in kept of objects with a part from it
    for cut, negative_score, label, part in entries:
        near = sorted({k for window in neighbours(part.window) for k in by_window[window]})  # in kept order, as before
        twin = next((kept[k] for k in near if kept[k]["label"] == label
                     and any(_same_object(part, other) for other in kept[k]["parts"])), None)  # fmt: skip
        if twin is None:
            by_window[part.window].append(len(kept))
            kept.append({"label": label, "score": -negative_score, "parts": [part], "cut": cut, "position": len(kept)})
        elif cut and twin["cut"]:  # two fragments of one object larger than the overlap
            twin["parts"].append(part)
            by_window[part.window].append(twin["position"])
    if not kept:
        return Detections(boxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.int64), scores=torch.zeros(0),
                          masks=MaskCrops(size=(height, width), rects=[], crops=[]))  # fmt: skip
    kept.sort(key=lambda e: -e["score"])
    masks = MaskCrops(size=(height, width), rects=[], crops=[])
    for entry in kept:
        rect, crop = _union([(part.mask_rect, part.mask) for part in entry["parts"]])
        masks.rects.append(rect)
        masks.crops.append(crop)
    boxes = torch.stack([torch.cat([torch.stack([p.box[:2] for p in e["parts"]]).amin(0),
                                    torch.stack([p.box[2:] for p in e["parts"]]).amax(0)]) for e in kept])  # fmt: skip
    return Detections(
        boxes=boxes,
        labels=torch.tensor([e["label"] for e in kept], dtype=torch.int64),
        scores=torch.tensor([e["score"] for e in kept]),
        masks=masks,
    )


def _union(parts: list[tuple[Rect, Tensor]]) -> tuple[Rect, Tensor]:
    """One mask of the union of cropped masks: its rectangle (the one around theirs) and pixels."""
    if len(parts) == 1:
        return parts[0]
    filled = [(rect, mask) for rect, mask in parts if rect[0] < rect[2] and rect[1] < rect[3]] or parts[:1]
    top, left = min(r[0] for r, _ in filled), min(r[1] for r, _ in filled)
    bottom, right = max(r[2] for r, _ in filled), max(r[3] for r, _ in filled)
    union = torch.zeros(bottom - top, right - left, dtype=torch.bool)
    for (y0, x0, y1, x1), mask in filled:
        union[y0 - top : y1 - top, x0 - left : x1 - left] |= mask
    return (top, left, bottom, right), union


def _same_object(a: _Part, b: _Part) -> bool:
    """Detections of two windows are one object when, on the area both windows cover, their masks overlap
    (IoU >= :data:`SAME_OBJECT_IOU`): a duplicate and a fragment agree there as two fragments do."""
    if a.window == b.window:  # the model's own NMS already separated these
        return False
    common = _intersect(a.window_rect, b.window_rect)
    if common is None:
        return False
    in_a, in_b = _intersect(common, a.mask_rect), _intersect(common, b.mask_rect)
    if in_a is None or in_b is None:
        return False
    both = _intersect(in_a, in_b)
    inter = int((a.pixels(both) & b.pixels(both)).sum()) if both is not None else 0
    union = int(a.pixels(in_a).sum()) + int(b.pixels(in_b).sum()) - inter
    return union > 0 and inter / union >= SAME_OBJECT_IOU
