"""COCO AP scores of instance predictions (boxes and masks), as :func:`evaluate_coco` returns them.

Conventions, the same as the semantic scores': a value COCOeval marks ``-1`` (no ground-truth
instance to measure against) is *undefined*: NaN here, ``null`` in JSON, "–" in tables, and
left out of every mean. A class with ground truth but no detection scores 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError

IOU_TYPES = {"bbox": "box", "segm": "mask"}
"""COCOeval's ``iouType`` -> the name pixelwise reports it under."""

SUMMARY_KEYS = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)  # fmt: skip
"""The twelve numbers of ``COCOeval.stats``, in its order."""

INSTANCE_PER_CLASS_KEYS = ("AP", "AP50", "AP75")
"""Per-class scores (area "all", 100 detections per image)."""


@dataclass(frozen=True)
class InstanceScores:
    """Box and/or mask AP of a set of detections against a COCO ground truth.

    Attributes:
        class_names: The ground truth's category names, in ascending category id.
        category_ids: Their ids.
        summary: ``{"box" | "mask": {key: value}}`` with the :data:`SUMMARY_KEYS` (AP averaged
            over IoU 0.50:0.95, AP50, AP75, AP by object size, AR at 1/10/100 detections per image, ...).
        per_class: ``{"box" | "mask": {class name: {"AP", "AP50", "AP75"}}}``.
        recall_thresholds: ``(101,)`` recall levels 0, 0.01, .. 1 of the precision-recall curves.
        pr_curves: ``{"box" | "mask": {class name: {"AP50": (101,), "AP": (101,)}}}``: interpolated
            precision at each recall level, at IoU 0.5 and averaged over IoU 0.50:0.95 (area all,
            100 detections per image). Each curve's mean is that AP.
        num_instances: Ground-truth instances per class (crowd regions not counted).
        num_images: Images of the ground truth (with or without instances).
        num_detections: Detections in the results.
        notes: Why some values are 0 or undefined, and anything else a reader should know.
        coco_summary: ``{"box" | "mask": text}``: COCOeval's own twelve-line printout.
    """

    class_names: list[str]
    category_ids: list[int]
    summary: dict[str, dict[str, float]]
    per_class: dict[str, dict[str, dict[str, float]]] = field(repr=False)
    recall_thresholds: np.ndarray = field(repr=False)
    pr_curves: dict[str, dict[str, dict[str, np.ndarray]]] = field(repr=False)
    num_instances: dict[str, int] = field(repr=False)
    num_images: int
    num_detections: int
    notes: list[str] = field(default_factory=list)
    coco_summary: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The scored kinds, ``"box"`` and/or ``"mask"``."""
        return tuple(self.summary)

    @property
    def box_ap(self) -> float:
        """Box AP (IoU 0.50:0.95); NaN when undefined."""
        return self.ap("box")

    @property
    def mask_ap(self) -> float:
        """Mask AP (IoU 0.50:0.95); NaN when undefined."""
        return self.ap("mask")

    def ap(self, kind: str) -> float:
        """AP (IoU 0.50:0.95) of ``"box"`` or ``"mask"``.

        Raises:
            PixelwiseError: that kind was not scored (results without masks, or not asked for).
        """
        if kind not in self.summary:
            scored = ", ".join(self.kinds) or "nothing"
            raise PixelwiseError(f"{kind} AP was not computed (scored: {scored}); evaluate with iou_types including it")
        return self.summary[kind]["AP"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> ``None``), the schema of ``pixelwise score --coco-gt ... --json``."""
        return {
            "kinds": list(self.kinds),
            "class_names": list(self.class_names),
            "category_ids": list(self.category_ids),
            "summary": {kind: _clean(values) for kind, values in self.summary.items()},
            "per_class": {kind: {name: _clean(v) for name, v in rows.items()} for kind, rows in self.per_class.items()},
            "num_instances": dict(self.num_instances),
            "num_images": self.num_images,
            "num_detections": self.num_detections,
            "recall_thresholds": [float(v) for v in self.recall_thresholds],
            "pr_curves": {
                kind: {name: {key: [_none_if_nan(v) for v in curve] for key, curve in curves.items()}
                       for name, curves in rows.items()}
                for kind, rows in self.pr_curves.items()
            },  # fmt: skip
            "notes": list(self.notes),
        }


def _clean(values: dict[str, float]) -> dict[str, float | None]:
    return {key: _none_if_nan(value) for key, value in values.items()}


def _none_if_nan(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
