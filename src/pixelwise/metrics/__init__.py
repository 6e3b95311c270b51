"""Segmentation metrics: a dataset-level confusion matrix and every score derived from it."""

from pixelwise.metrics.confusion import ConfusionMatrix, confusion_matrix
from pixelwise.metrics.report import format_table
from pixelwise.metrics.scores import PER_CLASS_KEYS, SegmentationScores, scores_from_confusion

__all__ = [
    "PER_CLASS_KEYS",
    "ConfusionMatrix",
    "SegmentationScores",
    "confusion_matrix",
    "format_table",
    "scores_from_confusion",
]
