"""Training curves: loss per epoch (like the course's "Training and Validation Loss"), and val mIoU."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pixelwise.visual._figure import new_figure, save_figure

# (history key, legend label, colour) of every line pixelwise knows how to draw.
_LOSS_LINES = (("train_loss", "training loss", "#1f77b4"), ("val_loss", "validation loss", "#ff7f0e"))
_SCORE_LINES = (("val_miou", "validation mIoU", "#2ca02c"), ("train_miou", "training mIoU", "#9467bd"))


def plot_training_curves(*, history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Draw loss per epoch, and validation mIoU beside it when the history has any.

    Args:
        history: One row per epoch, e.g. ``{"epoch": 1, "train_loss": 0.9, "val_loss": 1.1,
            "val_miou": 0.42}``. Every key may be missing, ``None`` or NaN in a row (e.g.
            validation every other epoch); such points are skipped. Without ``epoch`` the
            row number (from 1) is used.
        path: Output image; the format follows the suffix.

    Returns:
        The path written.
    """
    if len(history) == 0:
        raise ValueError("history is empty: nothing to plot")
    epochs = [float(row.get("epoch", index + 1)) for index, row in enumerate(history)]
    has_scores = any(_series(history, epochs, key)[0] for key, _, _ in _SCORE_LINES)

    figure = new_figure(width=11.0 if has_scores else 6.5, height=4.2)
    figure.set_layout_engine("constrained")
    loss_axes = figure.add_subplot(1, 2 if has_scores else 1, 1)
    _draw(loss_axes, history, epochs, _LOSS_LINES)
    loss_axes.set_title("Training and Validation Loss")
    loss_axes.set_ylabel("loss")
    if has_scores:
        score_axes = figure.add_subplot(1, 2, 2)
        best = _draw(score_axes, history, epochs, _SCORE_LINES[:1], mark_best=True)
        _draw(score_axes, history, epochs, _SCORE_LINES[1:])
        score_axes.set_title("Validation mIoU" + (f" (best {best[1]:.3f} at epoch {best[0]:g})" if best else ""))
        score_axes.set_ylabel("mIoU")
        score_axes.set_ylim(0.0, 1.0)
    return save_figure(figure, path)


def _series(history, epochs, key) -> tuple[list[float], list[float]]:
    """(epochs, values) of the rows where ``key`` holds a finite number."""
    xs, ys = [], []
    for epoch, row in zip(epochs, history, strict=True):
        value = row.get(key)
        if value is not None and math.isfinite(float(value)):
            xs.append(epoch)
            ys.append(float(value))
    return xs, ys


def _draw(axes, history, epochs, lines, *, mark_best: bool = False) -> tuple[float, float] | None:
    """Plot each known line present in the history; return (epoch, value) of the best first line."""
    best = None
    for key, label, color in lines:
        xs, ys = _series(history, epochs, key)
        if not xs:
            continue
        # Markers only while they can be told apart; a long run reads better as a line.
        axes.plot(xs, ys, label=label, color=color, marker="o" if len(xs) <= 30 else None, markersize=3)
        if mark_best and best is None:
            index = max(range(len(ys)), key=ys.__getitem__)
            best = (xs[index], ys[index])
            axes.plot([best[0]], [best[1]], marker="*", markersize=12, color=color, linestyle="none")
    axes.set_xlabel("epoch")
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend(loc="best")
        # Epochs are whole numbers: no "1.5" ticks on short runs.
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.text(0.5, 0.5, "nothing recorded", ha="center", va="center", transform=axes.transAxes, color="0.5")
    return best
