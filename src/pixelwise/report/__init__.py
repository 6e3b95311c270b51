"""One self-contained HTML file per evaluation: scores, charts, panels, curves and configuration.

Semantic evaluations show the per-class IoU table and charts, instance evaluations COCO's AP tables and PR
curves, panoptic evaluations the PQ tables; each with its truth | prediction panels.

``pixelwise evaluate --out DIR --html`` writes ``DIR/report.html``; ``pixelwise report RUN_DIR`` writes one for a
training run (or an evaluation folder) after the fact. The file embeds every picture and opens offline.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixelwise.errors import PixelwiseError
from pixelwise.inference.predictor import Predictor
from pixelwise.report.collect import FIGURES, ReportParts, collect_parts, read_scores
from pixelwise.report.html import render_report
from pixelwise.report.task_scores import EvaluationScores, read_evaluation, score_file
from pixelwise.utils.atomic import atomic_write_text
from pixelwise.visual.palette import RGB

REPORT_NAME = "report.html"

__all__ = [
    "EvaluationScores",
    "FIGURES",
    "REPORT_NAME",
    "ReportParts",
    "collect_parts",
    "read_evaluation",
    "read_scores",
    "render_report",
    "report_run",
    "write_evaluation_report",
    "write_report",
]


def write_report(
    *,
    eval_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    config: dict[str, Any] | None = None,
    palette: Sequence[RGB] | None = None,
    title: str = "evaluation",
    facts: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write the HTML report of the evaluation in ``eval_dir`` (see :func:`collect_parts` for the arguments).

    Returns:
        The file written (default ``eval_dir/report.html``).
    """
    eval_dir = Path(eval_dir)
    parts = collect_parts(
        eval_dir=eval_dir, run_dir=Path(run_dir) if run_dir is not None else None, config=config,
        palette=palette, title=title, facts=facts,
    )  # fmt: skip
    path = Path(out) if out is not None else eval_dir / REPORT_NAME
    atomic_write_text(path, render_report(parts, generated=_generated()))
    return path


def report_run(folder: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None) -> Path:
    """The report of a training run folder (its ``eval/`` evaluation when there is one, else the validation
    scores it recorded), or of an evaluation folder.

    Returns:
        The file written (default ``folder/report.html``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PixelwiseError(f"{folder} is not a folder; give a training run (pixelwise train --out) or an evaluation folder")
    evaluated = folder / "eval"
    eval_dir = evaluated if score_file(evaluated) is not None else folder
    is_run = any((folder / name).is_file() for name in ("config.yaml", "history.csv"))
    facts = [("run folder", str(folder))]
    palette, model_file = None, folder / "best.pt"
    if model_file.is_file():
        from pixelwise.modelfile.load import read_any

        spec = read_any(model_file).spec
        palette = list(spec.labels.palette) or None
        facts.append(("model", f"{spec.model} ({model_file.name})"))
    facts.append(("scores from", str(score_file(eval_dir) or eval_dir / "metrics.json")))
    return write_report(
        eval_dir=eval_dir, out=out if out is not None else folder / REPORT_NAME, run_dir=folder if is_run else None,
        palette=palette, title=f"report of {folder.resolve().name}", facts=facts,
    )  # fmt: skip


def write_evaluation_report(
    *,
    out: Path,
    predictor: Predictor,
    checkpoint: str | os.PathLike[str] | None,
    dataset: str,
    split: str,
    images: int,
    palette: Sequence[RGB] | None = None,
) -> Path:
    """``out/report.html`` for an evaluation :func:`pixelwise.evaluate` just wrote into ``out``: the training
    run's folder is the model file's when it holds ``config.yaml`` or ``history.csv``; otherwise the
    configuration comes from the model file."""
    spec = getattr(predictor, "spec", None)
    run_dir = Path(checkpoint).parent if checkpoint is not None else None
    if run_dir is not None and not any((run_dir / name).is_file() for name in ("config.yaml", "history.csv")):
        run_dir = None
    config = (spec.source.get("train_config") or None) if spec is not None else None
    facts = [("model file", str(checkpoint)) if checkpoint is not None else ("predictor", type(predictor).__name__)]
    if spec is not None:
        facts.append(("model", f"{spec.model}, {spec.task}, {spec.labels.num_classes} classes"))
    facts.append(("data", f"{dataset}, split {split}, {images} images"))
    strategy = getattr(predictor, "strategy", None)
    if strategy is not None:
        scale = f"short side {strategy.short_side} px" if strategy.short_side else f"input scale {strategy.scale:g}"
        facts.append(("inference", scale + (", flip TTA" if strategy.flip else "")))
    return write_report(
        eval_dir=out, run_dir=run_dir, config=config, palette=palette or predictor.labels.palette or None,
        title=f"evaluation on {dataset} {split}", facts=facts,
    )  # fmt: skip


def _generated() -> str:
    from pixelwise.modelfile.file import pixelwise_version

    return f"written {datetime.datetime.now().isoformat(timespec='seconds')} by pixelwise {pixelwise_version()}"
