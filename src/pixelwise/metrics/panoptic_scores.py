"""Panoptic Quality scores from per-category sums, averaged as panopticapi's ``pq_average`` does.

Per category: ``PQ = ΣIoU / (TP + ½FP + ½FN)``, ``SQ = ΣIoU / TP`` (0 when TP = 0, as panopticapi
sets it, and that 0 enters the SQ mean), ``RQ = TP / (TP + ½FP + ½FN)``; PQ = SQ × RQ.

Conventions, the same as the other scores of pixelwise: a category with no TP, FP or FN (absent
from truth and prediction) is *undefined*: NaN here, ``null`` in JSON, "–" in tables, and left
out of every mean (panopticapi skips it too, though it reports 0.0 for it per class). A group
(all, things, stuff) without any counted category has NaN scores and ``n = 0`` (panopticapi
divides by zero there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

GROUPS = ("all", "things", "stuff")
"""The summary groups: every category, those with ``isthing``, the others."""

PANOPTIC_PER_CLASS_KEYS = ("pq", "sq", "rq", "tp", "fp", "fn")


@dataclass(frozen=True)
class PanopticScores:
    """Panoptic Quality of a dataset.

    Attributes:
        class_names: The category names, in the order given.
        category_ids: Their ids.
        isthing: Whether each category is a thing (countable) or stuff.
        groups: ``{"all" | "things" | "stuff": {"pq", "sq", "rq", "n"}}``; ``n`` is the number of
            categories averaged (those with any TP, FP or FN).
        per_class: ``{name: {"pq", "sq", "rq", "tp", "fp", "fn"}}``.
        num_images: Images counted.
        notes: Anything a reader should know (categories left out of the means).
    """

    class_names: list[str]
    category_ids: list[int]
    isthing: list[bool]
    groups: dict[str, dict[str, float]]
    per_class: dict[str, dict[str, float]] = field(repr=False)
    num_images: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def pq(self) -> float:
        """PQ over all categories (NaN when none counts)."""
        return self.groups["all"]["pq"]

    @property
    def sq(self) -> float:
        """SQ over all categories."""
        return self.groups["all"]["sq"]

    @property
    def rq(self) -> float:
        """RQ over all categories."""
        return self.groups["all"]["rq"]

    @property
    def pq_things(self) -> float:
        """PQ over the thing categories."""
        return self.groups["things"]["pq"]

    @property
    def pq_stuff(self) -> float:
        """PQ over the stuff categories."""
        return self.groups["stuff"]["pq"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> ``None``), the schema of ``pixelwise score --panoptic-gt ... --json``."""
        return {
            "class_names": list(self.class_names),
            "category_ids": list(self.category_ids),
            "isthing": list(self.isthing),
            **{group: _clean(values) for group, values in self.groups.items()},
            "per_class": {name: _clean(values) for name, values in self.per_class.items()},
            "num_images": self.num_images,
            "notes": list(self.notes),
        }


def panoptic_scores_from_stats(
    stats: torch.Tensor | np.ndarray, *, categories: list[dict[str, Any]], num_images: int = 0
) -> PanopticScores:
    """Scores from per-category sums.

    Args:
        stats: ``(4, K)`` rows TP, FP, FN, IoU sum (as :class:`~pixelwise.metrics.panoptic_quality.PanopticQuality` keeps them).
        categories: The K categories, ``[{id, name, isthing}]``, in the order of the columns.
        num_images: Images the sums cover (reported only).

    Returns:
        A :class:`PanopticScores`.
    """
    table = stats.detach().cpu().numpy() if isinstance(stats, torch.Tensor) else np.asarray(stats)
    table = table.astype(np.float64)
    per_class: dict[str, dict[str, float]] = {}
    for index, category in enumerate(categories):
        tp, fp, fn, iou = (float(v) for v in table[:, index])
        if tp + fp + fn == 0:
            pq = sq = rq = math.nan
        else:
            pq, sq, rq = iou / (tp + 0.5 * fp + 0.5 * fn), (iou / tp if tp else 0.0), tp / (tp + 0.5 * fp + 0.5 * fn)
        per_class[category["name"]] = {"pq": pq, "sq": sq, "rq": rq, "tp": int(tp), "fp": int(fp), "fn": int(fn)}

    members = {"all": categories, "things": [c for c in categories if c["isthing"]],
               "stuff": [c for c in categories if not c["isthing"]]}  # fmt: skip
    groups = {}
    for group in GROUPS:
        counted = [per_class[c["name"]] for c in members[group] if not math.isnan(per_class[c["name"]]["pq"])]
        n = len(counted)
        groups[group] = {key: (sum(r[key] for r in counted) / n if n else math.nan) for key in ("pq", "sq", "rq")}
        groups[group]["n"] = n

    notes = []
    absent = [name for name, row in per_class.items() if math.isnan(row["pq"])]
    if absent:
        shown = ", ".join(absent[:8]) + (", ..." if len(absent) > 8 else "")
        many = "categories have" if len(absent) > 1 else "category has"
        notes.append(f"{len(absent)} {many} no segment in truth or prediction ({shown}): undefined, left out of the means")
    return PanopticScores(
        class_names=[c["name"] for c in categories], category_ids=[c["id"] for c in categories],
        isthing=[bool(c["isthing"]) for c in categories], groups=groups, per_class=per_class,
        num_images=num_images, notes=notes,
    )  # fmt: skip


def _clean(values: dict[str, float]) -> dict[str, float | int | None]:
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in values.items()}
