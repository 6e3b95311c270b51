"""Panoptic Quality of a COCO panoptic prediction (PNG folder + JSON, from any tool) against the truth.

The same inputs as panopticapi's ``pq_compute(gt_json_file, pred_json_file, gt_folder, pred_folder)``,
with every file checked first: one line per problem, naming the file, the image and the segment.
"""

from __future__ import annotations

import os
from pathlib import Path

from pixelwise.data.panoptic_format import image_sizes, load_panoptic_pair, read_panoptic_json
from pixelwise.errors import PixelwiseError
from pixelwise.metrics.panoptic_quality import PanopticQuality
from pixelwise.metrics.panoptic_scores import PanopticScores


def evaluate_panoptic_files(
    *,
    gt_json: str | os.PathLike[str],
    pred_json: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str] | None = None,
    pred_dir: str | os.PathLike[str] | None = None,
) -> PanopticScores:
    """Score every image of the truth against the prediction of the same ``image_id``.

    Args:
        gt_json: The truth's COCO panoptic JSON (its ``categories`` are the ones scored).
        pred_json: The prediction's COCO panoptic JSON (``categories`` optional, not used).
        gt_dir: The truth's PNG folder; default: ``gt_json`` without ``.json``, as panopticapi does.
        pred_dir: The prediction's PNG folder; default: ``pred_json`` without ``.json``.

    Returns:
        The dataset-level :class:`PanopticScores`.

    Raises:
        PixelwiseError: a missing or malformed file, an image in one JSON but not the other, a
            size mismatch, an id in a PNG missing from ``segments_info`` or the reverse, an unknown
            category, a segment id listed twice.
    """
    gt_json, pred_json = Path(gt_json), Path(pred_json)
    gt_dir = Path(gt_dir) if gt_dir is not None else gt_json.with_suffix("")
    pred_dir = Path(pred_dir) if pred_dir is not None else pred_json.with_suffix("")
    truth = read_panoptic_json(gt_json)
    prediction = read_panoptic_json(pred_json, need_categories=False)
    for folder, role, flag in ((gt_dir, "truth", "--panoptic-gt-dir"), (pred_dir, "prediction", "--panoptic-pred-dir")):
        if not folder.is_dir():
            raise PixelwiseError(f"{folder}: the {role} PNG folder does not exist; give it ({flag} in the CLI)")
    categories = truth["categories"]
    truths = {a["image_id"]: a for a in truth["annotations"]}
    preds = {a["image_id"]: a for a in prediction["annotations"]}
    for image_id in sorted(truths.keys() - preds.keys()):
        raise PixelwiseError(f"{pred_json}: no annotation for image_id {image_id} of {gt_json}; predict every image of the truth")
    for image_id in sorted(preds.keys() - truths.keys()):
        raise PixelwiseError(f"{pred_json}: image_id {image_id} is not in {gt_json}; remove it or score against the right truth")
    sizes = image_sizes(truth)
    quality = PanopticQuality(categories=categories)
    for image_id in sorted(truths):
        truth_ids, truth_segments = load_panoptic_pair(
            annotation=truths[image_id], png_dir=gt_dir, categories=categories, size=sizes.get(image_id))
        pred_ids, pred_segments = load_panoptic_pair(
            annotation=preds[image_id], png_dir=pred_dir, categories=categories, size=truth_ids.shape)
        quality.update(pred=pred_ids, pred_segments=pred_segments, truth=truth_ids, truth_segments=truth_segments,
                       source=f"image {image_id}")  # fmt: skip
    return quality.compute()
