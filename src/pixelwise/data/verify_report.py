"""What ``pixelwise data verify`` found: counts per split, class pixel (or instance) shares, and every problem.

The report is plain data (:class:`VerifyReport`); :func:`format_report` turns it into the text
the command prints and :func:`plot_class_shares` into a bar chart.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file.

    Attributes:
        severity: ``"error"`` (the pair cannot be used as is) or ``"warning"`` (harmless but worth knowing).
        path: The file (or folder) concerned.
        problem: What is wrong.
        fix: What to do about it.
        split: The split whose file it is (``None``: a file of no split, e.g. a stray).
    """

    severity: Severity
    path: str
    problem: str
    fix: str
    split: str | None = None


@dataclass
class SplitSummary:
    """Counts for one split.

    Attributes:
        name: The split.
        images: Images the split lists or holds.
        pairs: Images whose mask file exists.
        class_pixels: Pixels per class over every readable pair, in label order (semantic data).
        ignored_pixels: Pixels labelled with the ignore index.
        class_instances: Instances per class over every readable image, in label order (instance data).
    """

    name: str
    images: int = 0
    pairs: int = 0
    class_pixels: list[int] = field(default_factory=list)
    ignored_pixels: int = 0
    class_instances: list[int] = field(default_factory=list)

    def shares(self) -> list[float]:
        """Each class's share of the split's pixels (ignored pixels included in the total)."""
        total = sum(self.class_pixels) + self.ignored_pixels
        return [count / total if total else 0.0 for count in self.class_pixels]

    def instance_shares(self) -> list[float]:
        """Each class's share of the split's instances."""
        total = sum(self.class_instances)
        return [count / total if total else 0.0 for count in self.class_instances]


@dataclass
class VerifyReport:
    """Everything :func:`pixelwise.data.verify.verify_dataset` found.

    ``task`` is ``"semantic"`` (splits count pixels per class) or ``"instance"`` (splits count
    instances per class; ``pairs`` are the images that could be read with their annotations).
    """

    dataset: str
    root: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int | None
    splits: list[SplitSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    task: str = "semantic"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings alone pass)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def format_report(report: VerifyReport, *, max_problems: int = 50) -> str:
    """The report as text: a split table, a class-share table and the problems (errors first).

    Args:
        report: What the verifier found.
        max_problems: Problems listed one by one per severity; the rest are summarised (all are in the JSON).
    """
    lines = [f"{report.dataset} at {report.root}", ""]
    instance = report.task == "instance"
    rows = [("split", "images", "readable", "instances") if instance else ("split", "images", "pairs")]
    rows[0] += ("errors", "warnings")
    for split in report.splits:
        errors = sum(p.split == split.name for p in report.errors)
        warnings = sum(p.split == split.name for p in report.warnings)
        counts = (str(split.images), str(split.pairs)) + ((str(sum(split.class_instances)),) if instance else ())
        rows.append((split.name, *counts, str(errors), str(warnings)))
    lines += _table(rows)
    if report.splits and instance:
        lines += ["", "instances per class:"]
        count_rows = [("class",) + tuple(s.name for s in report.splits)]
        for index, name in enumerate(report.class_names[1:], start=1):  # background has no instances
            count_rows.append((f"{index} {name}",) + tuple(_count(s, index) for s in report.splits))
        lines += _table(count_rows)
    elif report.splits:
        lines += ["", "class pixel share:"]
        header = ("class",) + tuple(s.name for s in report.splits)
        share_rows = [header]
        for index, name in enumerate(report.class_names):
            share_rows.append((f"{index} {name}",) + tuple(_percent(s.shares()[index]) if s.class_pixels else "-" for s in report.splits))
        if report.ignore_index is not None:
            ignored = []
            for s in report.splits:
                total = sum(s.class_pixels) + s.ignored_pixels
                ignored.append(_percent(s.ignored_pixels / total) if total else "-")
            share_rows.append((f"{report.ignore_index} (ignored)",) + tuple(ignored))
        lines += _table(share_rows)
    for severity in ("error", "warning"):
        found = [p for p in report.problems if p.severity == severity]
        if not found:
            continue
        lines += ["", f"{len(found)} {severity}(s):"]
        for problem in found[:max_problems]:
            lines.append(f"  {problem.path}: {problem.problem}; fix: {problem.fix}")
        if len(found) > max_problems:
            common = Counter(p.problem for p in found[max_problems:]).most_common(3)
            summary = "; ".join(f"{count}x {text}" for text, count in common)
            lines.append(f"  ... and {len(found) - max_problems} more ({summary}); write them all with --json")
    verdict = "OK" if report.ok else "FAILED"
    lines += ["", f"{verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"]
    return "\n".join(lines)


def plot_class_shares(report: VerifyReport, path: str | os.PathLike[str]) -> Path:
    """A bar chart of each class's pixel share (instance data: instance share) over all verified splits,
    in the dataset's colours."""
    from pixelwise.visual.charts import bar_chart  # matplotlib is only imported when a chart is asked for

    if report.task == "instance":
        counts = [sum(s.class_instances[i] for s in report.splits if s.class_instances) for i in range(len(report.class_names))]
        total = sum(counts)
        return bar_chart(
            values=[c / total if total else 0.0 for c in counts[1:]], labels=list(report.class_names[1:]),
            path=path, colors=list(report.palette[1:]), xlabel="share of instances",
            title=f"{report.dataset} instance share ({' + '.join(s.name for s in report.splits)})",
        )  # fmt: skip
    counts = [sum(s.class_pixels[i] for s in report.splits if s.class_pixels) for i in range(len(report.class_names))]
    total = sum(counts) + sum(s.ignored_pixels for s in report.splits)
    labels, values, colors = list(report.class_names), [c / total if total else 0.0 for c in counts], list(report.palette)
    if report.ignore_index is not None:
        labels.append(f"ignored ({report.ignore_index})")
        values.append(sum(s.ignored_pixels for s in report.splits) / total if total else 0.0)
        colors.append((160, 160, 160))
    splits = " + ".join(s.name for s in report.splits)
    return bar_chart(
        values=values, labels=labels, path=path, colors=colors,
        title=f"{report.dataset} class pixel share ({splits})", xlabel="share of pixels",
    )  # fmt: skip


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _count(split: SplitSummary, index: int) -> str:
    if not split.class_instances:
        return "-"
    return f"{split.class_instances[index]} ({_percent(split.instance_shares()[index])})"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    columns = list(zip(*rows, strict=True))
    widths = [max(len(cell) for cell in column) for column in columns]
    out = []
    for row in zip(*columns, strict=True):
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out
