"""COCO AP of instance predictions, computed by pycocotools' ``COCOeval`` (never re-implemented here).

What this file adds around COCOeval:

- Inputs are checked first (:mod:`pixelwise.metrics.coco_checks`): one line per problem, naming the
  file and the entry, instead of an ``AssertionError`` or a silently dropped detection.
- No printing: pycocotools prints while loading, indexing, evaluating and summarising; all of it is
  captured (the summary's twelve lines are kept in :attr:`InstanceScores.coco_summary`).
- An empty results list does not crash ``COCO.loadRes``: every AP of a class with ground truth is
  then 0 (what COCOeval itself computes for no detections), with a note saying why.
- Mask AP uses the mask's area for small/medium/large. ``loadRes`` takes the box's area whenever a
  detection has a ``bbox``, so the boxes are dropped before the mask evaluation (as Detectron2 does).
- ``-1`` (no ground truth) becomes NaN, "undefined", as for the semantic scores.

COCOeval keeps at most 100 detections per image (the highest-scoring ones) for AP.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.metrics.coco_checks import (
    CheckedGroundTruth,
    CheckedResults,
    check_ground_truth,
    check_results,
)
from pixelwise.metrics.instance_scores import IOU_TYPES, SUMMARY_KEYS, InstanceScores

_ALIASES = {"bbox": "bbox", "box": "bbox", "segm": "segm", "mask": "segm"}
MAX_DETECTIONS = 100


def evaluate_coco(
    *, ground_truth: dict[str, Any], results: list[dict[str, Any]], iou_types: Sequence[str] | None = None
) -> InstanceScores:
    """Box and mask AP of detections against a COCO ground truth.

    Args:
        ground_truth: ``{"images", "annotations", "categories"}``, e.g. from
            :func:`~pixelwise.metrics.coco_results.coco_ground_truth`.
        results: Detections in COCO's results format, e.g. from
            :func:`~pixelwise.metrics.coco_results.detections_to_results`.
        iou_types: ``"bbox"`` and/or ``"segm"`` (or ``"box"``/``"mask"``). ``None``: box AP when every
            detection has a box, mask AP when every detection and every annotation has a mask.

    Returns:
        The :class:`InstanceScores`.

    Raises:
        PixelwiseError: a detection naming an image or category that the ground truth lacks, a
            malformed entry, or an IoU type the data cannot give.
    """
    checked = check_ground_truth(ground_truth, source="ground truth")
    return _evaluate(checked, check_results(results, ground_truth=checked, source="results"), iou_types)


def evaluate_coco_files(
    *, ground_truth: str | Path, results: str | Path, iou_types: Sequence[str] | None = None
) -> InstanceScores:
    """:func:`evaluate_coco` on a ground-truth JSON file and a results JSON file.

    Raises:
        PixelwiseError: a missing or unreadable file, invalid JSON, a results file that names an
            image or category the ground truth lacks, and the other cases of :func:`evaluate_coco`;
            the message names the file.
    """
    checked = check_ground_truth(_read_json(Path(ground_truth), role="ground truth"), source=str(ground_truth))
    detections = check_results(_read_json(Path(results), role="results"), ground_truth=checked, source=str(results))
    return _evaluate(checked, detections, iou_types)


def _evaluate(gt: CheckedGroundTruth, res: CheckedResults, iou_types: Sequence[str] | None) -> InstanceScores:
    from pycocotools.cocoeval import COCOeval

    notes: list[str] = []
    chosen = _iou_types(iou_types, gt, res, notes)
    names = list(gt.category_names.values())
    counts = {name: 0 for name in names}
    for annotation in gt.dataset["annotations"]:
        if not annotation["iscrowd"]:
            counts[gt.category_names[annotation["category_id"]]] += 1

    coco_gt = _coco(gt.dataset)
    summary, per_class, curves, printouts = {}, {}, {}, {}
    recall_thresholds = np.zeros(0)
    for iou_type in chosen:
        kind = IOU_TYPES[iou_type]
        # The other kind's field is dropped: for masks, a ``bbox`` would make loadRes use the box's area.
        drop = "bbox" if iou_type == "segm" else "segmentation"
        detections = [{k: v for k, v in r.items() if k != drop} for r in res.results]
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(detections) if detections else _coco({**gt.dataset, "annotations": []})
            evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            evaluator.summarize()
        printouts[kind] = text.getvalue()
        summary[kind] = {key: _undefined_if_negative(v) for key, v in zip(SUMMARY_KEYS, evaluator.stats, strict=True)}
        per_class[kind], curves[kind] = _per_class(evaluator, names)
        recall_thresholds = np.asarray(evaluator.params.recThrs, dtype=np.float64)

    if not res.results:
        notes.append("the results hold no detections: every AP of a class with ground truth is 0")
    if not any(counts.values()):
        notes.append("the ground truth has no instances: every AP is undefined")
    else:
        empty = [name for name, count in counts.items() if count == 0]
        if empty:
            shown = ", ".join(empty[:8]) + (", ..." if len(empty) > 8 else "")
            many = "classes have" if len(empty) > 1 else "class has"
            notes.append(f"{len(empty)} {many} no ground-truth instance ({shown}): AP undefined, left out of the means")
    per_image: dict[int, int] = {}
    for result in res.results:
        per_image[result["image_id"]] = per_image.get(result["image_id"], 0) + 1
    crowded = sum(count > MAX_DETECTIONS for count in per_image.values())
    if crowded:
        notes.append(f"{crowded} images have more than {MAX_DETECTIONS} detections: COCO AP keeps the {MAX_DETECTIONS} best-scored")
    return InstanceScores(
        class_names=names, category_ids=list(gt.category_names), summary=summary, per_class=per_class,
        recall_thresholds=recall_thresholds, pr_curves=curves, num_instances=counts,
        num_images=len(gt.sizes), num_detections=len(res.results), notes=notes, coco_summary=printouts,
    )  # fmt: skip


def _iou_types(
    iou_types: Sequence[str] | None, gt: CheckedGroundTruth, res: CheckedResults, notes: list[str]
) -> list[str]:
    if iou_types is None:
        chosen = [t for t, ok in (("bbox", res.has_bbox), ("segm", res.has_segmentation and gt.has_segmentation)) if ok]
        if "segm" not in chosen:
            why = "the results have no masks" if not res.has_segmentation else f"{gt.source} has annotations without masks"
            notes.append(f"mask AP not computed: {why}")
        if not chosen:
            raise PixelwiseError("results: some detections lack a bbox and some a segmentation; give every detection a box or every one a mask")
        return chosen
    chosen = []
    for name in iou_types:
        if name not in _ALIASES:
            raise PixelwiseError(f"iou type {name!r} is unknown; use 'bbox' (or 'box') and/or 'segm' (or 'mask')")
        if _ALIASES[name] not in chosen:
            chosen.append(_ALIASES[name])
    if "bbox" in chosen and not res.has_bbox:
        raise PixelwiseError("results: box AP asked for, but some detections have no 'bbox'; add boxes or drop 'bbox'")
    if "segm" in chosen and not res.has_segmentation:
        raise PixelwiseError("results: mask AP asked for, but some detections have no 'segmentation'; add masks or drop 'segm'")
    if "segm" in chosen and not gt.has_segmentation:
        raise PixelwiseError(f"{gt.source}: mask AP asked for, but some annotations have no 'segmentation'; score boxes only")
    return chosen


def _per_class(evaluator: Any, names: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """Per-class AP, AP50, AP75 and PR curves at area "all" and 100 detections per image."""
    params = evaluator.params
    precision = evaluator.eval["precision"]  # (T IoU thresholds, R recall levels, K classes, A areas, M max dets)
    area = params.areaRngLbl.index("all")
    max_dets = params.maxDets.index(MAX_DETECTIONS)
    thresholds = np.asarray(params.iouThrs)
    at50, at75 = int(np.argmin(abs(thresholds - 0.5))), int(np.argmin(abs(thresholds - 0.75)))
    scores, curves = {}, {}
    for k, name in enumerate(names):  # COCOeval orders classes by ascending id, as the names are
        table = precision[:, :, k, area, max_dets].astype(np.float64)  # (T, R); -1 where no ground truth
        table[table < 0] = np.nan
        scores[name] = {"AP": _mean(table), "AP50": _mean(table[at50]), "AP75": _mean(table[at75])}
        curves[name] = {"AP50": table[at50].copy(), "AP": table.mean(axis=0)}
    return scores, curves


def _coco(dataset: dict[str, Any]) -> Any:
    """A pycocotools ``COCO`` of an in-memory dataset, without its "creating index..." printout."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _read_json(path: Path, *, role: str) -> Any:
    fix = "give a COCO ground-truth file" if role == "ground truth" else "give a COCO results file (a list of detections)"
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise PixelwiseError(f"{path}: {role} file {what}; {fix}")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise PixelwiseError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}); {fix}") from None
    except UnicodeDecodeError:
        raise PixelwiseError(f"{path}: not a text file; {fix}") from None
    except OSError as error:
        raise PixelwiseError(f"{path}: cannot be read ({error.strerror}); check its permissions") from None


def _undefined_if_negative(value: float) -> float:
    return math.nan if value < 0 else float(value)


def _mean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan
