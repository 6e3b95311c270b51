"""Bar charts and confusion-matrix heatmaps of segmentation scores."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pixelwise.metrics.scores import SegmentationScores
from pixelwise.visual._figure import new_figure, save_figure

Color = tuple[int, int, int] | tuple[float, float, float] | str
Normalize = Literal["true", "pred", "all"] | None

# Above this many classes the heatmap cells are too small to hold readable numbers.
_MAX_ANNOTATED_CLASSES = 20


def bar_chart(
    *,
    values: Sequence[float],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    title: str,
    xlabel: str,
    colors: Sequence[Color] | None = None,
    xlim: tuple[float, float] | None = None,
) -> Path:
    """A horizontal bar chart, one bar per label, top to bottom in the given order.

    Each bar carries its value as text. A NaN value (e.g. an undefined score) is drawn as
    an empty bar labelled "–", never as zero.

    Args:
        values: One number per label.
        labels: Bar names, e.g. class names.
        path: Output image; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        title: Chart title.
        xlabel: Name of the value axis.
        colors: One colour per bar: RGB in 0..255 (a palette entry), RGB in 0..1 or a
            matplotlib colour name. Default: one neutral blue.
        xlim: Fixed value-axis range, e.g. ``(0, 1)`` for scores. Default: fit the data.

    Returns:
        The path written.
    """
    values = [float(v) for v in values]
    labels = [str(label) for label in labels]
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values for {len(labels)} labels")
    if colors is not None and len(colors) != len(values):
        raise ValueError(f"{len(colors)} colours for {len(values)} bars")
    bar_colors = [_mpl_color(c) for c in colors] if colors is not None else ["#4c72b0"] * len(values)

    finite = [v for v in values if math.isfinite(v)]
    low, high = xlim if xlim is not None else (min(0.0, *finite) if finite else 0.0, max(finite, default=1.0) or 1.0)
    span = (high - low) or 1.0
    positions = np.arange(len(values))
    drawn = [v if math.isfinite(v) else 0.0 for v in values]

    longest = max((len(label) for label in labels), default=1)
    figure = new_figure(width=6.0 + 0.06 * longest, height=1.2 + 0.32 * max(len(values), 1))
    axes = figure.add_subplot()
    # Bars outlined in dark grey so that very light palette colours (and white) stay visible.
    axes.barh(positions, drawn, color=bar_colors, edgecolor="0.3", linewidth=0.6)
    for y, value in zip(positions, values, strict=True):
        text = f"{value:.3f}" if math.isfinite(value) else "–"
        anchor = value if math.isfinite(value) and value > 0 else max(low, 0.0)
        axes.text(anchor + 0.01 * span, y, text, va="center", ha="left", fontsize=8)
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()  # first label on top, like a table
    # Room on the right for the value text of the longest bar.
    axes.set_xlim(low, high + 0.12 * span)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    return save_figure(figure, path)


def plot_per_class_iou(
    *,
    scores: SegmentationScores,
    path: str | os.PathLike[str],
    palette: Sequence[tuple[int, int, int]] | None = None,
) -> Path:
    """Per-class IoU as a bar chart, titled with the mIoU; undefined classes show "–".

    Args:
        scores: Scores from :func:`pixelwise.metrics.scores_from_confusion`.
        path: Output image.
        palette: Optional class colours (0..255 RGB) for the bars.

    Returns:
        The path written.
    """
    miou = scores.mean_iou
    title = f"Per-class IoU (mIoU {miou:.3f})" if math.isfinite(miou) else "Per-class IoU"
    return bar_chart(
        values=list(scores.per_class["iou"]),
        labels=scores.class_names,
        path=path,
        title=title,
        xlabel="IoU",
        colors=list(palette)[: scores.num_classes] if palette is not None else None,
        xlim=(0.0, 1.0),
    )


def normalize_confusion(confusion: np.ndarray | torch.Tensor, *, normalize: Normalize = "true") -> np.ndarray:
    """Turn confusion counts into fractions.

    Args:
        confusion: ``(C, C)`` counts, rows = truth, columns = prediction.
        normalize: ``"true"``: each row sums to 1 (recall on the diagonal); ``"pred"``: each
            column sums to 1 (precision on the diagonal); ``"all"``: the whole matrix sums
            to 1; ``None``: counts as floats.

    Returns:
        ``float64`` array ``(C, C)``. A row (column) without any pixel is all NaN: there is
        nothing to divide, and 0 would wrongly read as "always wrong".
    """
    counts = confusion.detach().cpu().numpy() if isinstance(confusion, torch.Tensor) else np.asarray(confusion)
    counts = counts.astype(np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {counts.shape}")
    if normalize is None:
        return counts
    if normalize == "true":
        totals = counts.sum(axis=1, keepdims=True)  # (C, 1)
    elif normalize == "pred":
        totals = counts.sum(axis=0, keepdims=True)  # (1, C)
    elif normalize == "all":
        totals = np.full((1, 1), counts.sum())
    else:
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None, got {normalize!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.nan)


def plot_confusion_heatmap(
    *,
    confusion: np.ndarray | torch.Tensor,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    normalize: Normalize = "true",
) -> Path:
    """A confusion-matrix heatmap, rows = truth, columns = prediction, class names on both axes.

    Cells carry their value when there are at most 20 classes. Rows (or columns) with no
    pixels are left blank rather than drawn as zeros.

    Args:
        confusion: ``(C, C)`` counts, rows = truth, columns = prediction.
        class_names: One name per class.
        path: Output image.
        normalize: See :func:`normalize_confusion`; default row-normalised.

    Returns:
        The path written.
    """
    matrix = normalize_confusion(confusion, normalize=normalize)
    num_classes = matrix.shape[0]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a {num_classes}x{num_classes} confusion matrix")

    side = min(max(4.5, 0.45 * num_classes + 2.5), 40.0)
    figure = new_figure(width=side + 1.2, height=side)
    axes = figure.add_subplot()
    vmax = 1.0 if normalize is not None else max(float(np.nanmax(matrix, initial=0.0)), 1.0)
    image = axes.imshow(np.ma.masked_invalid(matrix), cmap=_blank_nan_cmap(), vmin=0.0, vmax=vmax)
    # Masked (NaN) cells are transparent: a faint hatch behind them tells "no pixels" from a pale 0.00.
    axes.patch.set_facecolor("white")
    axes.patch.set_hatch("//")
    axes.patch.set_edgecolor("0.85")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)

    ticks = np.arange(num_classes)
    cell_points = 72 * 0.8 * side / num_classes  # the matrix takes about 80% of the figure side
    tick_size = min(9.0, max(4.0, 0.6 * cell_points))  # names no taller than a row of cells
    # Slanted names read best, but past ~20 classes neighbours overlap unless they stand upright.
    rotation = 45 if num_classes <= _MAX_ANNOTATED_CLASSES else 90
    axes.set_xticks(ticks, list(class_names), rotation=rotation, ha="right", va="center" if rotation == 90 else "top",
                    rotation_mode="anchor", fontsize=tick_size)
    axes.set_yticks(ticks, list(class_names), fontsize=tick_size)
    axes.set_xlabel("prediction")
    axes.set_ylabel("truth")
    titles = {"true": "Confusion matrix (rows normalised)", "pred": "Confusion matrix (columns normalised)",
              "all": "Confusion matrix (fraction of pixels)", None: "Confusion matrix (pixels)"}
    axes.set_title(titles[normalize])

    if num_classes <= _MAX_ANNOTATED_CLASSES:
        font_size = 10 if num_classes <= 6 else 8 if num_classes <= 12 else 6
        for (row, col), value in np.ndenumerate(matrix):
            if not math.isfinite(value):
                continue
            text = f"{value:.2f}" if normalize is not None else f"{int(value):,}"
            # White text on dark cells, black on light ones.
            axes.text(col, row, text, ha="center", va="center", fontsize=font_size,
                      color="white" if value > 0.6 * vmax else "black")
    return save_figure(figure, path)


def _blank_nan_cmap():
    from matplotlib import colormaps

    # Masked (NaN) cells stay transparent, showing the axes' hatch.
    return colormaps["Blues"].with_extremes(bad=(1.0, 1.0, 1.0, 0.0))


def _mpl_color(color: Color):
    """Palette entries are 0..255 integers; matplotlib wants 0..1 floats or names."""
    if isinstance(color, str):
        return color
    rgb = tuple(float(c) for c in color)
    return tuple(c / 255.0 for c in rgb) if any(c > 1.0 for c in rgb) else rgb
