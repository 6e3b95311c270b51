"""Segmentation metrics: a dataset-level confusion matrix and every score derived from it, COCO AP
of instance predictions (boxes and masks, through pycocotools, which is imported only when used), and
Panoptic Quality (panopticapi's definition, accumulated like the confusion matrix)."""

from pixelwise.metrics.coco_eval import evaluate_coco, evaluate_coco_files
from pixelwise.metrics.coco_results import coco_ground_truth, detections_to_results, ground_truth_annotations
from pixelwise.metrics.confusion import ConfusionMatrix, confusion_matrix
from pixelwise.metrics.instance_report import (
    format_instance_table,
    plot_pr_curves,
    write_instance_csv,
    write_instance_outputs,
)
from pixelwise.metrics.instance_scores import InstanceScores
from pixelwise.metrics.panoptic_files import evaluate_panoptic_files
from pixelwise.metrics.panoptic_quality import PanopticQuality, panoptic_statistics
from pixelwise.metrics.panoptic_report import (
    format_panoptic_table,
    write_panoptic_csv,
    write_panoptic_outputs,
)
from pixelwise.metrics.panoptic_scores import PanopticScores, panoptic_scores_from_stats
from pixelwise.metrics.report import format_table
from pixelwise.metrics.rle import decode_masks, encode_masks, rle_area, rle_to_box
from pixelwise.metrics.scores import PER_CLASS_KEYS, SegmentationScores, scores_from_confusion

__all__ = [
    "PER_CLASS_KEYS",
    "ConfusionMatrix",
    "InstanceScores",
    "PanopticQuality",
    "PanopticScores",
    "SegmentationScores",
    "coco_ground_truth",
    "confusion_matrix",
    "decode_masks",
    "detections_to_results",
    "encode_masks",
    "evaluate_coco",
    "evaluate_coco_files",
    "evaluate_panoptic_files",
    "format_instance_table",
    "format_panoptic_table",
    "format_table",
    "ground_truth_annotations",
    "panoptic_scores_from_stats",
    "panoptic_statistics",
    "plot_pr_curves",
    "rle_area",
    "rle_to_box",
    "scores_from_confusion",
    "write_instance_csv",
    "write_instance_outputs",
    "write_panoptic_csv",
    "write_panoptic_outputs",
]
