"""Gather what a report shows from the files an evaluation and a training run wrote.

A semantic evaluation folder (``pixelwise evaluate --out``) holds ``metrics.json``, ``confusion.png``,
``per_class_iou.png`` and ``panels.png``; an instance one ``metrics.json`` (COCO AP), ``pr_curves.png`` and
``panels.png`` (truth | prediction); a panoptic one ``scores.json`` (PQ) and ``panel_K.png``. A run folder
(``pixelwise train --out``) holds ``config.yaml``, ``history.csv``, ``curves.png`` and its own
``metrics.json``. A chart that is missing but can be drawn from the numbers (heatmap, per-class IoU, PR
curves, training curves) is drawn; panels need predictions, so a report without them says which command
makes them.
"""

from __future__ import annotations

import csv
import json
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixelwise.errors import PixelwiseError
from pixelwise.metrics import SegmentationScores
from pixelwise.metrics.instance_scores import InstanceScores
from pixelwise.metrics.panoptic_scores import PanopticScores
from pixelwise.report.task_scores import read_evaluation, semantic_scores
from pixelwise.visual.palette import RGB

FIGURES = (
    ("per_class_iou", "per_class_iou.png", "Per-class IoU"),
    ("confusion", "confusion.png", "Confusion matrix (rows: truth, normalised)"),
    ("panels", "panels.png", "Samples: image | truth | prediction | errors"),
    ("curves", "curves.png", "Training curves"),
)
"""``(key, file name, caption)`` of every picture a semantic report can embed, in the order it shows them."""

INSTANCE_FIGURES = (
    ("pr_curves", "pr_curves.png", "Precision-recall curves at IoU 0.5 (thin: classes, thick: their mean)"),
    ("panels", "panels.png", "Samples: truth | prediction"),
    ("curves", "curves.png", "Training curves"),
)
"""The pictures of an instance report; a panoptic report shows its ``panel_K.png`` files and the training curves."""

_PANOPTIC_PANEL = re.compile(r"panel_(\d+)\.png")


@dataclass
class ReportParts:
    """Everything one report shows; absent parts are ``None`` and listed in ``missing``.

    Attributes:
        title: The page's heading.
        facts: ``(label, value)`` lines under the heading (model file, dataset, split, ...).
        task: ``"semantic"``, ``"instance"`` or ``"panoptic"``: which scores the report shows.
        scores: The evaluation's semantic scores; for an instance evaluation, those of its instances
            painted into class maps.
        instance: COCO box and mask AP (instance evaluations).
        panoptic: Panoptic Quality (panoptic evaluations).
        palette: Class colours for the table's swatches (``None``: no swatches).
        config_text: The run's resolved configuration as YAML.
        figures: PNG bytes by key.
        captions: The caption of each figure key, in the order the report shows them (default: :data:`FIGURES`).
        missing: One line per absent part, saying how to get it.
    """

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    task: str = "semantic"
    scores: SegmentationScores | None = None
    instance: InstanceScores | None = None
    panoptic: PanopticScores | None = None
    palette: list[RGB] | None = None
    config_text: str | None = None
    figures: dict[str, bytes] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=lambda: {key: caption for key, _, caption in FIGURES})
    missing: list[str] = field(default_factory=list)


def collect_parts(
    *,
    eval_dir: Path,
    run_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    palette: Sequence[RGB] | None = None,
    title: str = "pixelwise evaluation",
    facts: Sequence[tuple[str, str]] = (),
) -> ReportParts:
    """The parts of a report on the evaluation in ``eval_dir`` of the run in ``run_dir``.

    Args:
        eval_dir: Folder with the scores (``metrics.json``, or a panoptic evaluation's ``scores.json``) and the
            evaluation's pictures.
        run_dir: The training run's folder (``config.yaml``, ``history.csv``, ``curves.png``), if known.
        config: The run's configuration when ``run_dir`` has no ``config.yaml`` (e.g. from the model file).
        palette: Class colours for the table.
        title, facts: Heading and the lines under it.

    Raises:
        PixelwiseError: ``eval_dir`` has no readable scores file.
    """
    evaluation = read_evaluation(eval_dir)
    parts = ReportParts(title=title, facts=list(facts), task=evaluation.task, scores=evaluation.semantic,
                        instance=evaluation.instance, panoptic=evaluation.panoptic,
                        palette=list(palette) if palette else None)  # fmt: skip
    config_file = run_dir / "config.yaml" if run_dir is not None else None
    if config_file is not None and config_file.is_file():
        parts.config_text = config_file.read_text(encoding="utf-8")
    elif config:
        parts.config_text = yaml.safe_dump(config, sort_keys=False)
    else:
        parts.missing.append("configuration: no config.yaml beside the model file and none recorded inside it")
    parts.captions = {}
    for key, name, caption in _figures_of(parts.task, eval_dir):
        parts.captions[key] = caption
        folder = run_dir if key == "curves" else eval_dir
        path = folder / name if folder is not None else None
        if path is not None and path.is_file():
            parts.figures[key] = path.read_bytes()
    _draw_missing(parts, run_dir=run_dir)
    if not any(key.startswith("panel") for key in parts.figures):
        run = run_dir if run_dir is not None else "RUN"
        parts.missing.append(
            f"sample panels: evaluate the model to draw them (pixelwise evaluate --checkpoint {run}/best.pt --out {run}/eval --html)"
        )
    if "curves" not in parts.figures:
        parts.missing.append("training curves: no history.csv or curves.png in the run folder")
    return parts


def read_scores(path: Path) -> SegmentationScores:
    """Scores recomputed from the confusion matrix in a ``metrics.json``, so every number agrees with it."""
    try:
        return semantic_scores(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PixelwiseError(
            f"{path} not found: a report needs an evaluation; run pixelwise evaluate --checkpoint MODEL --out DIR --html"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise PixelwiseError(f"{path} is not a pixelwise metrics.json ({error}); write it again with pixelwise evaluate") from None


def _figures_of(task: str, eval_dir: Path) -> list[tuple[str, str, str]]:
    """``(key, file name, caption)`` of the pictures a report of ``task`` shows, in order."""
    if task == "semantic":
        return list(FIGURES)
    if task == "instance":
        return list(INSTANCE_FIGURES)
    found = sorted((int(match[1]), path.name) for path in eval_dir.glob("panel_*.png")
                   if (match := _PANOPTIC_PANEL.fullmatch(path.name)))  # fmt: skip
    panels = [(f"panel_{index}", name, f"Sample {index}: image | truth | prediction") for index, name in found]
    return [*panels, ("curves", "curves.png", "Training curves")]


def read_history(path: Path) -> list[dict[str, float | None]]:
    """``history.csv`` as rows of numbers (an empty cell -> ``None``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def _draw_missing(parts: ReportParts, *, run_dir: Path | None) -> None:
    """Draw the charts that the numbers give but the folders lack."""
    from pixelwise.visual.charts import (  # matplotlib: only when drawing
        plot_confusion_heatmap,
        plot_per_class_iou,
    )
    from pixelwise.visual.curves import plot_training_curves

    scores = parts.scores
    drawers: dict[str, Callable[[Path], object]] = {}
    if parts.task == "semantic":
        drawers["per_class_iou"] = lambda path: plot_per_class_iou(scores=scores, path=path)
        drawers["confusion"] = lambda path: plot_confusion_heatmap(confusion=scores.confusion, class_names=scores.class_names,
                                                                   path=path)  # fmt: skip
    if parts.instance is not None and parts.instance.pr_curves:
        from pixelwise.metrics.instance_report import plot_pr_curves

        drawers["pr_curves"] = lambda path: plot_pr_curves(parts.instance, path)
    history = run_dir / "history.csv" if run_dir is not None else None
    if history is not None and history.is_file():
        rows = read_history(history)
        if rows:
            drawers["curves"] = lambda path: plot_training_curves(history=rows, path=path)
    with tempfile.TemporaryDirectory(prefix="pixelwise-report-") as tmp:
        for key, draw in drawers.items():
            if key not in parts.figures:
                path = Path(tmp) / f"{key}.png"
                draw(path)
                parts.figures[key] = path.read_bytes()


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None
