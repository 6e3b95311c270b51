"""The score tables of instance and panoptic evaluations, as HTML for the report.

Instance: COCO's summary (box and mask rows: AP, AP50, AP75, AP by object size, AR at 1/10/100 detections)
and AP per class. Panoptic: PQ, SQ, RQ for All / Things / Stuff, then per class with TP, FP and FN. Undefined
values are "–", as in every pixelwise table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from pixelwise.metrics.instance_scores import INSTANCE_PER_CLASS_KEYS, InstanceScores
from pixelwise.metrics.panoptic_scores import GROUPS, PanopticScores
from pixelwise.visual.palette import RGB

AP_COLUMNS = (
    ("AP", "AP"), ("AP50", "AP50"), ("AP75", "AP75"), ("APs", "AP_small"), ("APm", "AP_medium"), ("APl", "AP_large"),
    ("AR1", "AR1"), ("AR10", "AR10"), ("AR100", "AR100"),
)  # fmt: skip
"""``(column title, key of InstanceScores.summary)`` of the AP table."""

_GROUP_TITLES = {"all": "All", "things": "Things", "stuff": "Stuff"}


def instance_cards(scores: InstanceScores) -> str:
    """The headline numbers: AP and AP50 of each scored kind, images, detections and instances."""
    cards = [(value_text(scores.summary[kind][key]), f"{kind} {label}") for kind in scores.kinds
             for label, key in (("AP", "AP"), ("AP50", "AP50"))]  # fmt: skip
    cards += [(f"{scores.num_images:,}", "images"), (f"{scores.num_detections:,}", "detections"),
              (f"{sum(scores.num_instances.values()):,}", "instances")]  # fmt: skip
    return _cards(cards)


def ap_table(scores: InstanceScores) -> str:
    """One row per scored kind (box, mask): COCO's AP and AR summary."""
    head = "".join(f"<th>{title}</th>" for title, _ in AP_COLUMNS)
    rows = "".join(
        f"<tr><td>{escape(kind)}</td>{''.join(value_cell(scores.summary[kind][key]) for _, key in AP_COLUMNS)}</tr>"
        for kind in scores.kinds
    )
    return f'<table class="ap-summary"><thead><tr><th>kind</th>{head}</tr></thead><tbody>{rows}</tbody></table>'


def per_class_ap_table(scores: InstanceScores, *, colours: dict[str, RGB] | None = None) -> str:
    """One row per class: its ground-truth instances and AP, AP50, AP75 of each scored kind."""
    columns = [(kind, key) for kind in scores.kinds for key in INSTANCE_PER_CLASS_KEYS]
    head = "".join(f"<th>{escape(kind)} {key}</th>" for kind, key in columns)
    rows = []
    for name in scores.class_names:
        cells = "".join(value_cell(scores.per_class[kind][name][key]) for kind, key in columns)
        rows.append(f"<tr><td>{_swatch(colours, name)}{escape(name)}</td><td>{scores.num_instances[name]:,}</td>{cells}</tr>")
    return (f'<table class="per-class-ap"><thead><tr><th>class</th><th>instances</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


def panoptic_cards(scores: PanopticScores) -> str:
    """The headline numbers: PQ, SQ, RQ, PQ of things and of stuff, images."""
    return _cards([(value_text(scores.pq), "PQ"), (value_text(scores.sq), "SQ"), (value_text(scores.rq), "RQ"),
                   (value_text(scores.pq_things), "PQ things"), (value_text(scores.pq_stuff), "PQ stuff"),
                   (f"{scores.num_images:,}", "images")])  # fmt: skip


def pq_table(scores: PanopticScores) -> str:
    """All / Things / Stuff: PQ, SQ, RQ and the number of categories averaged."""
    rows = "".join(
        f"<tr><td>{_GROUP_TITLES[group]}</td>{''.join(value_cell(scores.groups[group][key]) for key in ('pq', 'sq', 'rq'))}"
        f"<td>{int(scores.groups[group]['n'])}</td></tr>"
        for group in GROUPS
    )
    return ('<table class="pq-summary"><thead><tr><th>categories</th><th>PQ</th><th>SQ</th><th>RQ</th><th>n</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")  # fmt: skip


def per_class_pq_table(scores: PanopticScores, *, palette: Sequence[RGB] | None = None) -> str:
    """One row per class: thing or stuff, PQ, SQ, RQ, TP, FP, FN."""
    colours = {name: tuple(palette[k]) for k, name in enumerate(scores.class_names) if palette and k < len(palette)}
    rows = []
    for name, thing in zip(scores.class_names, scores.isthing, strict=True):
        row = scores.per_class[name]
        scores_cells = "".join(value_cell(row[key]) for key in ("pq", "sq", "rq"))
        count_cells = "".join(f"<td>{row[key]:,}</td>" for key in ("tp", "fp", "fn"))
        rows.append(f"<tr><td>{_swatch(colours, name)}{escape(name)}</td><td>{'thing' if thing else 'stuff'}</td>"
                    f"{scores_cells}{count_cells}</tr>")
    head = "".join(f"<th>{title}</th>" for title in ("PQ", "SQ", "RQ", "TP", "FP", "FN"))
    return (f'<table class="per-class-pq"><thead><tr><th>class</th><th>kind</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


def notes_list(notes: Sequence[str]) -> str:
    """The scores' notes (why a value is undefined), as a list; empty when there are none."""
    return f'<ul class="missing">{"".join(f"<li>{escape(note)}</li>" for note in notes)}</ul>' if notes else ""


def _cards(cards: list[tuple[str, str]]) -> str:
    body = "".join(f'<div class="card"><b>{value}</b><span>{escape(label)}</span></div>' for value, label in cards)
    return f'<div class="cards">{body}</div>'


def _swatch(colours: dict[str, RGB] | None, name: str) -> str:
    if not colours or name not in colours:
        return ""
    return f'<span class="swatch" style="background: rgb{tuple(int(c) for c in colours[name])}"></span>'


def value_cell(value: float) -> str:
    """A table cell of a score: three decimals, or a grey "–" when undefined (NaN)."""
    return '<td class="undefined">–</td>' if math.isnan(value) else f"<td>{value:.3f}</td>"


def value_text(value: float) -> str:
    """A score as text: three decimals, or "–" when undefined (NaN)."""
    return "–" if math.isnan(value) else f"{value:.3f}"
