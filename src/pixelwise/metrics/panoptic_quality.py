"""Panoptic Quality (Kirillov et al., 2019, https://arxiv.org/abs/1801.00868), exactly as panopticapi's
``pq_compute`` counts it, accumulated over a dataset like the confusion matrix.

Per image (``pq_compute_single_core`` of cocodataset/panopticapi, rule by rule):

1. Every (truth id, prediction id) pair's intersection is counted at once: ``truth * 256³ + pred``
   (panopticapi's ``OFFSET`` trick), then one ``unique`` with counts.
2. A non-crowd truth segment and a prediction of the same category **match** when
   ``IoU > 0.5``, with ``IoU = intersection / (pred area + truth area - intersection - pred pixels on void)``:
   a prediction is not penalised for pixels the truth leaves unlabelled (id 0). Crowd pixels are
   *not* taken out of the union. IoU > 0.5 makes every match unique.
3. Every unmatched non-crowd truth segment is a **false negative**. Crowd segments never count.
4. Every unmatched prediction is a **false positive**, unless more than half of it lies on void or
   on the crowd region of its own category (panopticapi keeps one crowd region per category and image:
   the last listed, which is the only one in COCO).

Per category, summed over images (and processes): TP, FP, FN and the IoU sum of the matches. The
scores (:func:`~pixelwise.metrics.panoptic_scores.panoptic_scores_from_stats`) are
``PQ = ΣIoU / (TP + ½FP + ½FN)``, ``SQ = ΣIoU / TP``, ``RQ = TP / (TP + ½FP + ½FN)``.

Differences from panopticapi, none of which changes a score on valid files: areas are counted from
the maps (panopticapi reads the truth's from its JSON, which equals the count in a valid file); bad
input (an id in a map that ``segments_info`` lacks, an unknown category, a segment id 0) is refused
with one line where panopticapi raises a ``KeyError`` or silently skips a truth segment.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pixelwise.data.panoptic_format import MAX_SEGMENT_ID, VOID, check_categories, check_segments
from pixelwise.errors import PixelwiseError

OFFSET = 256**3
"""``truth * OFFSET + pred`` is unique per pair, since every id is below 256³ (panopticapi's constant)."""

MATCH_IOU = 0.5
"""A prediction matches a truth segment when their IoU is strictly above this."""

STAT_ROWS = ("tp", "fp", "fn", "iou_sum")
"""The rows of the ``(4, K)`` statistics tensor."""


def panoptic_statistics(
    *,
    pred: Tensor | np.ndarray,
    pred_segments: list[dict[str, Any]],
    truth: Tensor | np.ndarray,
    truth_segments: list[dict[str, Any]],
    category_ids: list[int],
    source: str = "image",
) -> Tensor:
    """One image's TP, FP, FN and IoU sum per category.

    Args:
        pred: Predicted segment ids, 0 = no segment.
        pred_segments: ``[{id, category_id}]``, one per non-zero id of ``pred``.
        truth: True segment ids, 0 = void (unlabelled).
        truth_segments: ``[{id, category_id, iscrowd}]``, one per non-zero id of ``truth``.
        category_ids: The categories, in the order of the output's columns.
        source: What to call the image in error messages.

    Returns:
        ``float64`` tensor of shape ``(4, K)``: rows :data:`STAT_ROWS` (tp, fp, fn, iou_sum), on ``pred``'s device.

    Shape:
        pred, truth: ``(H, W)`` integers.
    """
    pred_ids = _ids(pred, what="prediction", source=source)
    truth_ids = _ids(truth, what="truth", source=source).to(pred_ids.device)
    if pred_ids.shape != truth_ids.shape:
        raise PixelwiseError(f"{source}: prediction {tuple(pred_ids.shape)} and truth {tuple(truth_ids.shape)} differ in size; predict at the truth's resolution")
    keys, counts = torch.unique(truth_ids.reshape(-1) * OFFSET + pred_ids.reshape(-1), return_counts=True)
    truth_pred: dict[tuple[int, int], int] = {(k // OFFSET, k % OFFSET): c for k, c in zip(keys.tolist(), counts.tolist(), strict=True)}
    pred_area: dict[int, int] = defaultdict(int)
    truth_area: dict[int, int] = defaultdict(int)
    for (truth_id, pred_id), count in truth_pred.items():
        pred_area[pred_id] += count
        truth_area[truth_id] += count
    pred_info = {s["id"]: s for s in check_segments(
        pred_segments, present=pred_area, category_ids=category_ids, source=f"{source} prediction")}  # fmt: skip
    truth_info = {s["id"]: s for s in check_segments(
        truth_segments, present=truth_area, category_ids=category_ids, source=f"{source} truth", listed_need_pixels=False)}  # fmt: skip

    column = {category_id: index for index, category_id in enumerate(category_ids)}
    stats = np.zeros((len(STAT_ROWS), len(category_ids)), dtype=np.float64)  # rows: tp, fp, fn, iou_sum
    truth_matched, pred_matched = set(), set()
    for (truth_id, pred_id), intersection in truth_pred.items():
        if truth_id not in truth_info or pred_id not in pred_info:
            continue  # void on either side
        truth_segment, pred_segment = truth_info[truth_id], pred_info[pred_id]
        if truth_segment["iscrowd"] == 1 or truth_segment["category_id"] != pred_segment["category_id"]:
            continue
        union = pred_area[pred_id] + truth_area[truth_id] - intersection - truth_pred.get((VOID, pred_id), 0)
        iou = intersection / union
        if iou > MATCH_IOU:
            stats[0, column[truth_segment["category_id"]]] += 1
            stats[3, column[truth_segment["category_id"]]] += iou
            truth_matched.add(truth_id)
            pred_matched.add(pred_id)

    crowd_of_category: dict[int, int] = {}
    for truth_id, segment in truth_info.items():
        if truth_id in truth_matched:
            continue
        if segment["iscrowd"] == 1:
            crowd_of_category[segment["category_id"]] = truth_id  # the last crowd region of a category wins
            continue
        stats[2, column[segment["category_id"]]] += 1

    for pred_id, segment in pred_info.items():
        if pred_id in pred_matched:
            continue
        ignored = truth_pred.get((VOID, pred_id), 0)
        if segment["category_id"] in crowd_of_category:
            ignored += truth_pred.get((crowd_of_category[segment["category_id"]], pred_id), 0)
        if ignored / pred_area[pred_id] > 0.5:
            continue  # mostly on void or on its category's crowd region
        stats[1, column[segment["category_id"]]] += 1
    return torch.from_numpy(stats).to(pred_ids.device)


class PanopticQuality:
    """Accumulates panoptic TP, FP, FN and IoU sums per category over a whole dataset.

    Args:
        categories: ``[{id, name, isthing}]`` (COCO panoptic's categories); ids need not start at 1.
        device: Where the running sums live (a GPU for ``torchrun`` with NCCL).

    Example:
        >>> pq = PanopticQuality(categories=[{"id": 1, "name": "sky", "isthing": 0}])  # doctest: +SKIP
        >>> pq.update(pred=ids, pred_segments=info, truth=true_ids, truth_segments=true_info)  # doctest: +SKIP
        >>> pq.all_reduce(); scores = pq.compute()  # doctest: +SKIP
    """

    def __init__(self, *, categories: list[dict[str, Any]], device: torch.device | str = "cpu") -> None:
        self.categories = check_categories(categories, source="PanopticQuality categories")
        self.category_ids = [category["id"] for category in self.categories]
        self.stats = torch.zeros(len(STAT_ROWS), len(self.categories), dtype=torch.float64, device=device)
        self.images = torch.zeros(1, dtype=torch.float64, device=device)

    @property
    def tp(self) -> Tensor:
        """True positives per category, ``(K,)``."""
        return self.stats[0]

    @property
    def fp(self) -> Tensor:
        """False positives per category, ``(K,)``."""
        return self.stats[1]

    @property
    def fn(self) -> Tensor:
        """False negatives per category, ``(K,)``."""
        return self.stats[2]

    @property
    def iou_sum(self) -> Tensor:
        """Sum of the matched pairs' IoU per category, ``(K,)``."""
        return self.stats[3]

    def update(
        self,
        *,
        pred: Tensor | np.ndarray,
        pred_segments: list[dict[str, Any]],
        truth: Tensor | np.ndarray,
        truth_segments: list[dict[str, Any]],
        source: str = "image",
    ) -> None:
        """Add one image (see :func:`panoptic_statistics` for the arguments)."""
        image = panoptic_statistics(
            pred=pred, pred_segments=pred_segments, truth=truth, truth_segments=truth_segments,
            category_ids=self.category_ids, source=source,
        )  # fmt: skip
        self.stats += image.to(self.stats.device)
        self.images += 1

    def reset(self) -> None:
        """Set every sum back to zero."""
        self.stats.zero_()
        self.images.zero_()

    def all_reduce(self) -> None:
        """Sum the statistics over every process of the default ``torch.distributed`` group."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(self.stats, op=torch.distributed.ReduceOp.SUM)
            torch.distributed.all_reduce(self.images, op=torch.distributed.ReduceOp.SUM)

    def compute(self):  # -> PanopticScores
        """PQ, SQ and RQ for all, things and stuff and per class, from the sums so far."""
        from pixelwise.metrics.panoptic_scores import panoptic_scores_from_stats

        return panoptic_scores_from_stats(self.stats, categories=self.categories, num_images=int(self.images.item()))


def _ids(ids: Tensor | np.ndarray, *, what: str, source: str) -> Tensor:
    """An ``(H, W)`` int64 tensor of ids in ``0 .. 256³-1``."""
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iub":
            raise PixelwiseError(f"{source}: {what} ids are {ids.dtype}; give integer segment ids")
        ids = torch.from_numpy(ids.astype(np.int64))
    if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.is_complex():
        raise PixelwiseError(f"{source}: {what} ids are {getattr(ids, 'dtype', type(ids).__name__)}; give an integer (H, W) map of segment ids")
    if ids.ndim != 2:
        raise PixelwiseError(f"{source}: {what} ids have shape {tuple(ids.shape)}; give one (H, W) map per image")
    ids = ids.long()
    if ids.numel():
        low, high = torch.aminmax(ids)
        if low < 0 or high > MAX_SEGMENT_ID:
            raise PixelwiseError(f"{source}: {what} ids run {int(low)} .. {int(high)}; segment ids are 0 .. {MAX_SEGMENT_ID} (0 = void)")
    return ids
