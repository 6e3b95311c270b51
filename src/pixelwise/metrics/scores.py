"""Per-class and summary scores computed from a confusion matrix (rows = truth).

Conventions, the same in every output of pixelwise:

- A class absent from both truth and prediction has *undefined* scores: NaN here,
  ``null`` in JSON, "–" in tables, and it is left out of every mean.
- A class that is present somewhere but gets a 0/0 ratio scores 0: a class predicted
  but absent from the truth has recall 0 and IoU 0; a class never predicted has precision 0.
- micro-F1 of single-label segmentation equals pixel accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

PER_CLASS_KEYS = ("iou", "dice", "precision", "recall", "f1", "accuracy")


@dataclass(frozen=True)
class SegmentationScores:
    """Every score pixelwise reports, from one confusion matrix.

    Attributes:
        confusion: ``(C, C)`` int64 counts, rows = truth, columns = prediction.
        class_names: One name per class.
        per_class: ``iou``, ``dice``, ``precision``, ``recall``, ``f1``, ``accuracy``: float arrays of length C, NaN where undefined.
        mean_iou, pixel_accuracy, mean_accuracy, fw_iou, macro_f1, micro_f1: summary scores.
    """

    confusion: np.ndarray
    class_names: list[str]
    per_class: dict[str, np.ndarray] = field(repr=False)
    mean_iou: float
    pixel_accuracy: float
    mean_accuracy: float
    fw_iou: float
    macro_f1: float
    micro_f1: float

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> ``None``), the schema of ``pixelwise score --json``."""
        return {
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "per_class": {key: [_none_if_nan(v) for v in values] for key, values in self.per_class.items()},
            "mean_iou": _none_if_nan(self.mean_iou),
            "pixel_accuracy": _none_if_nan(self.pixel_accuracy),
            "mean_accuracy": _none_if_nan(self.mean_accuracy),
            "fw_iou": _none_if_nan(self.fw_iou),
            "macro_f1": _none_if_nan(self.macro_f1),
            "micro_f1": _none_if_nan(self.micro_f1),
            "confusion_matrix": self.confusion.tolist(),
        }


def scores_from_confusion(
    confusion: torch.Tensor | np.ndarray, *, class_names: list[str] | None = None
) -> SegmentationScores:
    """Compute every score from a confusion matrix.

    Args:
        confusion: ``(C, C)`` counts, rows = truth, columns = prediction.
        class_names: Names for the C classes; defaults to ``"0" .. "C-1"``.

    Returns:
        A :class:`SegmentationScores`.

    Example (the course's 4x4 image, truth rows A, BG):
        >>> s = scores_from_confusion(np.array([[1, 1], [1, 13]]), class_names=["A", "BG"])
        >>> round(s.mean_iou, 4), s.pixel_accuracy
        (0.6, 0.875)
    """
    cm = confusion.detach().cpu().numpy() if isinstance(confusion, torch.Tensor) else np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    num_classes = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names given for {num_classes} classes")
    cm = cm.astype(np.int64)
    tp = np.diag(cm).astype(np.float64)
    truth = cm.sum(axis=1).astype(np.float64)  # tp + fn
    predicted = cm.sum(axis=0).astype(np.float64)  # tp + fp
    fp, fn = predicted - tp, truth - tp
    present = (truth + predicted) > 0

    per_class = {
        "iou": _ratio(tp, tp + fp + fn, present),
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, present),
        "precision": _ratio(tp, predicted, present),
        "recall": _ratio(tp, truth, present),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, present),  # harmonic mean of precision and recall
        "accuracy": _ratio(tp, truth, present),  # per-class accuracy is recall
    }
    total = float(cm.sum())
    iou = per_class["iou"]
    fw_iou = float(np.nansum(truth / total * iou)) if total > 0 else math.nan
    pixel_accuracy = float(tp.sum() / total) if total > 0 else math.nan
    return SegmentationScores(
        confusion=cm,
        class_names=names,
        per_class=per_class,
        mean_iou=_nanmean(iou),
        pixel_accuracy=pixel_accuracy,
        mean_accuracy=_nanmean(per_class["accuracy"]),
        fw_iou=fw_iou,
        macro_f1=_nanmean(per_class["f1"]),
        micro_f1=pixel_accuracy,
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray, present: np.ndarray) -> np.ndarray:
    """numerator / denominator; NaN for absent classes, 0 for a 0/0 of a present class."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)
    return np.where(present, out, np.nan)


def _nanmean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan


def _none_if_nan(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
