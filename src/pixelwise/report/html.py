"""One self-contained HTML page from :class:`~pixelwise.report.collect.ReportParts`.

Pictures are embedded as base64 PNG, the style sheet is inline, and there is no script: the file opens
from disk in any browser, offline, and can be mailed or archived as it is. A semantic report leads with the
per-class IoU table, an instance report with COCO's AP tables (then the class maps its instances paint),
a panoptic report with the PQ tables (:mod:`pixelwise.report.tables`).
"""

from __future__ import annotations

import base64
import math
from html import escape

from pixelwise.metrics import PER_CLASS_KEYS, SegmentationScores
from pixelwise.report import tables
from pixelwise.report.collect import ReportParts
from pixelwise.report.tables import value_cell as _cell
from pixelwise.report.tables import value_text as _number

_COLUMN_TITLES = {"iou": "IoU", "dice": "Dice", "precision": "Precision", "recall": "Recall", "f1": "F1", "accuracy": "Accuracy"}
_SUMMARY = (
    ("mIoU", "mean_iou"),
    ("pixel accuracy", "pixel_accuracy"),
    ("mean accuracy", "mean_accuracy"),
    ("fw IoU", "fw_iou"),
    ("macro F1", "macro_f1"),
    ("micro F1", "micro_f1"),
)

_STYLE = """
:root { --ink: #1d2330; --muted: #667085; --line: #e3e6ec; --bg: #f4f6f9; --accent: #2f6fde; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h1 span { color: var(--accent); }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px; margin: 18px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; color: var(--muted); }
dl.facts dt { font-weight: 600; color: var(--ink); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 130px; }
.card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f8f9fb; position: sticky; top: 0; }
td.undefined { color: #a0a8b6; }
.swatch { display: inline-block; width: 13px; height: 13px; border-radius: 3px; border: 1px solid rgba(0,0,0,.25);
          vertical-align: -2px; margin-right: 6px; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
pre { background: #f8f9fb; border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow: auto; font-size: 13px; }
pre.config { columns: 3 320px; column-gap: 24px; }
ul.missing { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; text-align: center; padding-bottom: 24px; }
"""


def render_report(parts: ReportParts, *, generated: str = "") -> str:
    """The HTML text of the report.

    Args:
        parts: What to show.
        generated: A line for the footer (e.g. the date and pixelwise version).
    """
    sections = _score_sections(parts)
    for key, caption in parts.captions.items():
        if key in parts.figures:
            sections.append(_section(key, caption, _figure(parts.figures[key], caption)))
    if parts.task == "instance" and parts.scores is not None:
        sections.append(_section("painted", "Instances painted into class maps (score 0.5 or more)",
                                 _summary(parts.scores) + _table(parts.scores, parts.palette)))  # fmt: skip
    if parts.config_text:
        sections.append(_section("config", "Configuration", f'<pre class="config">{escape(parts.config_text)}</pre>'))
    if parts.missing:
        items = "".join(f"<li>{escape(line)}</li>" for line in parts.missing)
        sections.append(_section("missing", "Not in this report", f'<ul class="missing">{items}</ul>'))
    nav = " ".join(f'<a href="#{key}">{escape(title)}</a>' for key, title in _titles(sections))
    facts = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in parts.facts)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(parts.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<header><h1><span>pixelwise</span> {escape(parts.title)}</h1><dl class="facts">{facts}</dl>'
        f"<nav>{nav}</nav></header>\n" + "\n".join(html for _, _, html in sections) + "\n</main>\n"
        f"<footer>{escape(generated)}</footer>\n</body>\n</html>\n"
    )


def _score_sections(parts: ReportParts) -> list[tuple[str, str, str]]:
    """The report's first section: the scores of its task."""
    if parts.instance is not None:
        scores = parts.instance
        names = list(parts.scores.class_names) if parts.scores is not None else ["background", *scores.class_names]
        colours = {name: parts.palette[k] for k, name in enumerate(names) if parts.palette and k < len(parts.palette)}
        body = (tables.instance_cards(scores) + "<h3>COCO summary</h3>" + tables.ap_table(scores)
                + "<h3>Per class</h3>" + tables.per_class_ap_table(scores, colours=colours) + tables.notes_list(scores.notes))
        return [_section("metrics", "Average precision (COCO)", body)]
    if parts.panoptic is not None:
        scores = parts.panoptic
        body = (tables.panoptic_cards(scores) + "<h3>All, things, stuff</h3>" + tables.pq_table(scores)
                + "<h3>Per class</h3>" + tables.per_class_pq_table(scores, palette=parts.palette)
                + tables.notes_list(scores.notes))
        return [_section("metrics", "Panoptic quality", body)]
    if parts.scores is not None:
        return [_section("metrics", "Scores", _summary(parts.scores) + _table(parts.scores, parts.palette))]
    return []


def _section(key: str, title: str, body: str) -> tuple[str, str, str]:
    return key, title, f'<section id="{key}"><h2>{escape(title)}</h2>{body}</section>'


def _titles(sections: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(key, title) for key, title, _ in sections]


def _summary(scores: SegmentationScores) -> str:
    cards = "".join(
        f'<div class="card"><b>{_number(getattr(scores, attribute))}</b><span>{escape(label)}</span></div>'
        for label, attribute in _SUMMARY
    )
    return f'<div class="cards">{cards}</div>'


def _table(scores: SegmentationScores, palette) -> str:
    """One row per class: the scores (undefined as "–", the convention of every pixelwise output) and pixels."""
    head = "".join(f"<th>{_COLUMN_TITLES[key]}</th>" for key in PER_CLASS_KEYS)
    truth_pixels = scores.confusion.sum(axis=1)
    rows = []
    for index, name in enumerate(scores.class_names):
        swatch = ""
        if palette and index < len(palette):
            swatch = f'<span class="swatch" style="background: rgb{tuple(int(c) for c in palette[index])}"></span>'
        cells = "".join(_cell(scores.per_class[key][index]) for key in PER_CLASS_KEYS)
        rows.append(f"<tr><td>{swatch}{escape(name)}</td>{cells}<td>{int(truth_pixels[index]):,}</td></tr>")
    means = "".join(_cell(_nanmean(scores.per_class[key])) for key in PER_CLASS_KEYS)
    return (
        f'<table class="per-class"><thead><tr><th>class</th>{head}<th>pixels</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody>"
        f"<tfoot><tr><th>mean</th>{means}<th>{int(truth_pixels.sum()):,}</th></tr></tfoot></table>"
    )


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}"></figure>'


def _nanmean(values) -> float:
    """The mean over defined classes (NaN when none is), as the summary scores are computed."""
    defined = [float(v) for v in values if not math.isnan(float(v))]
    return sum(defined) / len(defined) if defined else math.nan
