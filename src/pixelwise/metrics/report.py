"""Human-readable tables of segmentation scores, like the course's per-class listings."""

from __future__ import annotations

import math

from pixelwise.metrics.scores import SegmentationScores

_COLUMNS = (("IoU", "iou"), ("Dice", "dice"), ("Prec", "precision"), ("Recall", "recall"), ("F1", "f1"))


def format_table(scores: SegmentationScores, *, digits: int = 3) -> str:
    """One row per class (name, IoU, Dice, precision, recall, F1, pixel count), then the summary.

    Undefined scores (class absent from truth and prediction) print as "–".
    """
    name_width = max(5, *(len(name) for name in scores.class_names))
    width = digits + 3
    header = f"{'class':<{name_width}}  " + "  ".join(f"{title:>{width}}" for title, _ in _COLUMNS) + "  " + f"{'pixels':>12}"
    lines = [header, "-" * len(header)]
    truth_pixels = scores.confusion.sum(axis=1)
    for index, name in enumerate(scores.class_names):
        cells = "  ".join(_cell(scores.per_class[key][index], digits, width) for _, key in _COLUMNS)
        lines.append(f"{name:<{name_width}}  {cells}  {int(truth_pixels[index]):>12,}")
    lines.append("-" * len(header))
    summary = (
        ("mIoU", scores.mean_iou),
        ("pixel accuracy", scores.pixel_accuracy),
        ("mean accuracy", scores.mean_accuracy),
        ("fw IoU", scores.fw_iou),
        ("macro F1", scores.macro_f1),
        ("micro F1", scores.micro_f1),
    )
    lines.append("   ".join(f"{label} {_cell(value, digits, 0)}" for label, value in summary))
    return "\n".join(lines)


def _cell(value: float, digits: int, width: int) -> str:
    text = "–" if math.isnan(value) else f"{value:.{digits}f}"
    return f"{text:>{width}}"
