"""Read back the scores an evaluation wrote, whatever its task, for a report.

Each task writes its own schema: a semantic ``metrics.json`` holds the confusion matrix (the ``pixelwise
score`` schema), an instance ``metrics.json`` COCO AP (:meth:`InstanceEvaluation.to_dict`: ``kinds``,
``summary``, ``per_class``, the PR curves, and the ``semantic`` scores of the instances painted into class
maps), a panoptic ``scores.json`` (``pixelwise evaluate``) or ``metrics.json`` (``pixelwise train``) Panoptic
Quality (:meth:`PanopticScores.to_dict`). ``null`` reads back as NaN: undefined, "–" in the report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.metrics import SegmentationScores, scores_from_confusion
from pixelwise.metrics.instance_scores import InstanceScores
from pixelwise.metrics.panoptic_scores import GROUPS, PanopticScores

SCORE_FILES = ("metrics.json", "scores.json")
"""The files an evaluation folder keeps its scores in: every task's ``metrics.json``; a panoptic evaluation's
``scores.json``."""


@dataclass(frozen=True)
class EvaluationScores:
    """The scores of one evaluation folder.

    Attributes:
        task: ``"semantic"``, ``"instance"`` or ``"panoptic"``.
        path: The file they were read from.
        semantic: The semantic scores; for an instance evaluation those of its instances painted into class maps.
        instance: COCO box and mask AP (instance evaluations).
        panoptic: PQ, SQ, RQ (panoptic evaluations).
    """

    task: str
    path: Path
    semantic: SegmentationScores | None = None
    instance: InstanceScores | None = None
    panoptic: PanopticScores | None = None


def score_file(folder: Path) -> Path | None:
    """The scores file in an evaluation or run folder (:data:`SCORE_FILES`, first found), or ``None``."""
    return next((folder / name for name in SCORE_FILES if (folder / name).is_file()), None)


def read_evaluation(folder: Path) -> EvaluationScores:
    """The scores in ``folder``, of whichever task wrote them.

    Raises:
        PixelwiseError: No scores file, or one that no pixelwise task writes.
    """
    path = score_file(folder)
    if path is None:
        raise PixelwiseError(
            f"{folder / 'metrics.json'} not found: a report needs an evaluation; "
            "run pixelwise evaluate --checkpoint MODEL --out DIR --html"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "confusion_matrix" in data:
            return EvaluationScores(task="semantic", path=path, semantic=semantic_scores(data))
        if "kinds" in data and "summary" in data:
            painted = semantic_scores(data["semantic"]) if "semantic" in data else None
            return EvaluationScores(task="instance", path=path, semantic=painted, instance=instance_scores(data))
        if "isthing" in data and "per_class" in data:
            return EvaluationScores(task="panoptic", path=path, panoptic=panoptic_scores(data))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise PixelwiseError(f"{path} is not a pixelwise scores file ({error}); write it again with pixelwise evaluate") from None
    raise PixelwiseError(f"{path} holds no semantic, instance or panoptic scores; write it again with pixelwise evaluate")


def semantic_scores(data: dict[str, Any]) -> SegmentationScores:
    """Scores recomputed from the confusion matrix of a semantic ``metrics.json``, so every number agrees with it."""
    return scores_from_confusion(np.asarray(data["confusion_matrix"], dtype=np.int64), class_names=list(data["class_names"]))


def instance_scores(data: dict[str, Any]) -> InstanceScores:
    """:class:`InstanceScores` from its :meth:`~InstanceScores.to_dict` form."""
    return InstanceScores(
        class_names=list(data["class_names"]),
        category_ids=[int(i) for i in data["category_ids"]],
        summary={kind: _floats(values) for kind, values in data["summary"].items()},
        per_class={kind: {name: _floats(v) for name, v in rows.items()} for kind, rows in data["per_class"].items()},
        recall_thresholds=np.asarray(data.get("recall_thresholds", []), dtype=np.float64),
        pr_curves={
            kind: {name: {key: np.array([_float(v) for v in curve]) for key, curve in curves.items()}
                   for name, curves in rows.items()}
            for kind, rows in (data.get("pr_curves") or {}).items()
        },  # fmt: skip
        num_instances={name: int(n) for name, n in data["num_instances"].items()},
        num_images=int(data.get("num_images", data.get("images", 0))),
        num_detections=int(data.get("num_detections", 0)),
        notes=list(data.get("notes", [])),
    )


def panoptic_scores(data: dict[str, Any]) -> PanopticScores:
    """:class:`PanopticScores` from its :meth:`~PanopticScores.to_dict` form (the groups at the top level, or
    under ``groups``)."""
    groups = data.get("groups") or {group: data[group] for group in GROUPS}
    return PanopticScores(
        class_names=list(data["class_names"]),
        category_ids=[int(i) for i in data["category_ids"]],
        isthing=[bool(t) for t in data["isthing"]],
        groups={group: {**_floats(values), "n": int(values.get("n") or 0)} for group, values in groups.items()},
        per_class={
            name: {**_floats({k: row[k] for k in ("pq", "sq", "rq")}), **{k: int(row[k]) for k in ("tp", "fp", "fn")}}
            for name, row in data["per_class"].items()
        },
        num_images=int(data.get("num_images", 0)),
        notes=list(data.get("notes", [])),
    )


def _floats(values: dict[str, Any]) -> dict[str, float]:
    return {key: _float(value) for key, value in values.items() if key != "n"}


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
