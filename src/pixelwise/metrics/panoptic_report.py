"""Panoptic scores for people: the PQ/SQ/RQ table (per class, then All / Things / Stuff) and a CSV."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from pixelwise.metrics.panoptic_scores import GROUPS, PanopticScores
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

_GROUP_TITLES = {"all": "All", "things": "Things", "stuff": "Stuff"}


def format_panoptic_table(scores: PanopticScores, *, digits: int = 3) -> str:
    """One row per class (name, thing/stuff, PQ, SQ, RQ, TP, FP, FN), then panopticapi's summary rows.

    Undefined scores (a category absent from truth and prediction) print as "–"; notes follow.
    """
    name_width = max(6, *(len(name) for name in scores.class_names))
    width = digits + 3
    header = (f"{'class':<{name_width}}  {'kind':<5}  " + "  ".join(f"{t:>{width}}" for t in ("PQ", "SQ", "RQ"))
              + "  " + "  ".join(f"{t:>6}" for t in ("TP", "FP", "FN")))  # fmt: skip
    lines = [header, "-" * len(header)]
    for name, thing in zip(scores.class_names, scores.isthing, strict=True):
        row = scores.per_class[name]
        cells = "  ".join(_cell(row[key], digits, width) for key in ("pq", "sq", "rq"))
        counts = "  ".join(f"{row[key]:>6,}" for key in ("tp", "fp", "fn"))
        lines.append(f"{name:<{name_width}}  {'thing' if thing else 'stuff':<5}  {cells}  {counts}")
    lines.append("-" * len(header))
    for group in GROUPS:
        values = scores.groups[group]
        cells = "  ".join(_cell(values[key], digits, width) for key in ("pq", "sq", "rq"))
        lines.append(f"{_GROUP_TITLES[group]:<{name_width}}  {'':<5}  {cells}  n = {values['n']}")
    images, categories = scores.num_images, len(scores.class_names)
    lines.append(f"{images:,} image{'' if images == 1 else 's'}, {categories} categor{'y' if categories == 1 else 'ies'}")
    lines.extend(f"note: {note}" for note in scores.notes)
    return "\n".join(lines)


def write_panoptic_csv(scores: PanopticScores, path: str | os.PathLike[str]) -> Path:
    """Write one row per class, then ``all``, ``things`` and ``stuff`` rows, atomically.

    Columns: ``class, category_id, isthing, pq, sq, rq, tp, fp, fn, n``. A group row sums TP, FP and
    FN over its categories and gives ``n``, the categories averaged; undefined values are empty cells.

    Returns:
        The destination path.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", "category_id", "isthing", "pq", "sq", "rq", "tp", "fp", "fn", "n"])
    for name, category_id, thing in zip(scores.class_names, scores.category_ids, scores.isthing, strict=True):
        row = scores.per_class[name]
        writer.writerow([name, category_id, int(thing), *(_csv_number(row[k]) for k in ("pq", "sq", "rq")),
                         row["tp"], row["fp"], row["fn"], ""])  # fmt: skip
    for group in GROUPS:
        names = [n for n, t in zip(scores.class_names, scores.isthing, strict=True)
                 if group == "all" or t == (group == "things")]  # fmt: skip
        sums = [sum(scores.per_class[n][key] for n in names) for key in ("tp", "fp", "fn")]
        values = scores.groups[group]
        writer.writerow([group, "", "", *(_csv_number(values[k]) for k in ("pq", "sq", "rq")), *sums, values["n"]])
    atomic_write_text(path, buffer.getvalue())
    return Path(path)


def write_panoptic_outputs(scores: PanopticScores, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``scores.json`` (:meth:`PanopticScores.to_dict`) and ``per_class.csv`` into ``out``.

    Returns:
        The written paths.
    """
    folder = Path(out)
    atomic_write_json(folder / "scores.json", scores.to_dict())
    return [folder / "scores.json", write_panoptic_csv(scores, folder / "per_class.csv")]


def _cell(value: float, digits: int, width: int) -> str:
    text = "–" if math.isnan(value) else f"{value:.{digits}f}"
    return f"{text:>{width}}"


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"
