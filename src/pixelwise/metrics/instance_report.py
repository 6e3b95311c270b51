"""Instance scores for people: a text table, a CSV and a picture of the precision-recall curves.

matplotlib is imported only when a curve is drawn (through :mod:`pixelwise.visual._figure`).
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from pixelwise.metrics.instance_scores import INSTANCE_PER_CLASS_KEYS, InstanceScores
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

_SUMMARY_ROW = (("AP", "AP"), ("AP50", "AP50"), ("AP75", "AP75"), ("APs", "AP_small"), ("APm", "AP_medium"),
                ("APl", "AP_large"), ("AR1", "AR1"), ("AR10", "AR10"), ("AR100", "AR100"))  # fmt: skip


def format_instance_table(scores: InstanceScores, *, digits: int = 3) -> str:
    """One row per class (name, instances, AP and AP50 of each scored kind), then one summary line per kind.

    Undefined scores (a class without ground truth) print as "–"; notes follow the table.
    """
    name_width = max(5, *(len(name) for name in scores.class_names))
    width = max(digits + 3, 8)
    columns = [(kind, key) for kind in scores.kinds for key in ("AP", "AP50")]
    header = f"{'class':<{name_width}}  {'instances':>9}  " + "  ".join(f"{kind + ' ' + key:>{width}}" for kind, key in columns)
    lines = [header, "-" * len(header)]
    for name in scores.class_names:
        cells = "  ".join(_cell(scores.per_class[kind][name][key], digits, width) for kind, key in columns)
        lines.append(f"{name:<{name_width}}  {scores.num_instances[name]:>9,}  {cells}")
    lines.append("-" * len(header))
    for kind in scores.kinds:
        values = scores.summary[kind]
        lines.append(f"{kind:<4}  " + "   ".join(f"{label} {_cell(values[key], digits, 0)}" for label, key in _SUMMARY_ROW))
    lines.append(f"{scores.num_images:,} images, {scores.num_detections:,} detections, {sum(scores.num_instances.values()):,} instances")
    lines.extend(f"note: {note}" for note in scores.notes)
    return "\n".join(lines)


def write_instance_csv(scores: InstanceScores, path: str | os.PathLike[str]) -> Path:
    """Write one row per class, then an ``all`` row with the summary, atomically.

    Columns: ``class, category_id, instances`` and ``box_AP, box_AP50, box_AP75, mask_AP, ...`` for
    each scored kind; undefined values are empty cells.

    Returns:
        The destination path.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [(kind, key) for kind in scores.kinds for key in INSTANCE_PER_CLASS_KEYS]
    writer.writerow(["class", "category_id", "instances", *(f"{kind}_{key}" for kind, key in keys)])
    for name, category_id in zip(scores.class_names, scores.category_ids, strict=True):
        row = [_csv_number(scores.per_class[kind][name][key]) for kind, key in keys]
        writer.writerow([name, category_id, scores.num_instances[name], *row])
    summary = [_csv_number(scores.summary[kind][key]) for kind, key in keys]
    writer.writerow(["all", "", sum(scores.num_instances.values()), *summary])
    atomic_write_text(path, buffer.getvalue())
    return Path(path)


def plot_pr_curves(scores: InstanceScores, path: str | os.PathLike[str], *, max_classes: int = 12) -> Path:
    """Precision against recall at IoU 0.5, one panel per scored kind (box, mask), saved atomically.

    Each class with ground truth is a thin line (the ``max_classes`` with most instances, so the
    legend stays readable); with several classes, the thick black line is their mean, whose area is AP50.

    Returns:
        The destination path.
    """
    from pixelwise.visual._figure import new_figure, save_figure  # matplotlib is imported there, lazily

    kinds = scores.kinds
    figure = new_figure(width=5.0 * max(len(kinds), 1), height=4.4)
    recall = scores.recall_thresholds
    ranked = sorted((n for n in scores.class_names if scores.num_instances[n]), key=lambda n: -scores.num_instances[n])
    for index, kind in enumerate(kinds):
        axes = figure.add_subplot(1, len(kinds), index + 1)
        curves = scores.pr_curves[kind]
        for name in ranked[:max_classes]:
            ap50 = scores.per_class[kind][name]["AP50"]
            axes.plot(recall, curves[name]["AP50"], linewidth=1.0, alpha=0.8, label=f"{name} ({ap50:.3f})")
        defined = [curves[name]["AP50"] for name in ranked]
        if len(defined) > 1:
            mean = np.nanmean(np.stack(defined), axis=0)
            axes.plot(recall, mean, color="black", linewidth=2.2, label=f"mean ({_text(scores.summary[kind]['AP50'])})")
        axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
                 title=f"{kind} precision-recall, IoU 0.5 (AP50)")  # fmt: skip
        axes.grid(alpha=0.3)
        if defined:
            axes.legend(fontsize=7, loc="lower left")
    return save_figure(figure, path)


def write_instance_outputs(scores: InstanceScores, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``scores.json`` (:meth:`InstanceScores.to_dict`), ``per_class.csv`` and ``pr_curves.png`` into ``out``.

    Returns:
        The written paths.
    """
    folder = Path(out)
    atomic_write_json(folder / "scores.json", scores.to_dict())
    return [folder / "scores.json", write_instance_csv(scores, folder / "per_class.csv"),
            plot_pr_curves(scores, folder / "pr_curves.png")]  # fmt: skip


def _cell(value: float, digits: int, width: int) -> str:
    text = "–" if math.isnan(value) else f"{value:.{digits}f}"
    return f"{text:>{width}}"


def _text(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"  # NaN (undefined) -> empty cell
