"""Prediction panels: one row per sample, image | ground truth | prediction [| error map].

A legend of class colours and names sits below the grid, like the course's figures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pixelwise.constants import IGNORE_INDEX
from pixelwise.visual._figure import new_figure, save_figure
from pixelwise.visual.palette import IGNORE_COLOR, RGB, colorize, default_palette, to_rgb_uint8

WRONG_COLOR: RGB = (220, 30, 30)
RIGHT_COLOR: RGB = (35, 35, 35)
IGNORED_COLOR: RGB = (150, 150, 150)

_CELL_INCHES = 2.6  # width of one picture in the grid
# With more classes than this the legend lists only the classes seen in the drawn rows.
_MAX_FULL_LEGEND = 20


def error_image(
    truth: torch.Tensor | np.ndarray, prediction: torch.Tensor | np.ndarray, *, ignore_index: int | None = IGNORE_INDEX
) -> np.ndarray:
    """Red where the prediction is wrong, dark where right, grey where the truth is ignored.

    Returns:
        ``uint8`` array ``(H, W, 3)``.

    Shape:
        truth, prediction: ``(H, W)``.
    """
    truth = _numpy(truth)
    prediction = _numpy(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth shape {truth.shape} differs from prediction shape {prediction.shape}")
    out = np.empty((*truth.shape, 3), dtype=np.uint8)
    out[...] = RIGHT_COLOR
    out[truth != prediction] = WRONG_COLOR
    if ignore_index is not None:
        out[truth == ignore_index] = IGNORED_COLOR
    return out


def save_panels(
    *,
    images: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
    truths: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
    predictions: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
    path: str | os.PathLike[str],
    class_names: Sequence[str],
    palette: Sequence[RGB] | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    error_map: bool = False,
    max_rows: int = 8,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    titles: Sequence[str] | None = None,
) -> Path:
    """Draw a grid of samples, one row each, with a class legend below.

    Args:
        images: uint8 images, float images in [0, 1], or normalised float images (with
            ``mean``/``std``).
        truths: Ground-truth class indices.
        predictions: Predicted class indices.
        path: Output image; the format follows the suffix.
        class_names: One name per class, for the legend.
        palette: One RGB colour (0..255) per class; default :func:`default_palette`.
        ignore_index: Truth label drawn white in the masks and grey in the error map.
        error_map: Add a fourth column: red = wrong, dark = right, grey = ignored.
        max_rows: Draw at most this many samples (the first ones).
        mean, std: Normalisation of float images, undone for display.
        titles: Optional caption per sample (e.g. file name), shown left of its row.

    Returns:
        The path written.

    Shape:
        images: ``(N, 3, H, W)``; truths, predictions: ``(N, H, W)``.
    """
    count = len(images)
    if count == 0:
        raise ValueError("no samples to draw")
    if len(truths) != count or len(predictions) != count:
        raise ValueError(f"{count} images, {len(truths)} truths and {len(predictions)} predictions: counts differ")
    if titles is not None and len(titles) != count:
        raise ValueError(f"{len(titles)} titles for {count} samples")
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    colors = list(palette) if palette is not None else default_palette(len(class_names))
    if len(colors) < len(class_names):
        raise ValueError(f"{len(colors)} palette colours for {len(class_names)} classes")
    rows = min(count, max_rows)
    rows_data = [_row(images[i], truths[i], predictions[i], colors, ignore_index, error_map, mean, std)
                 for i in range(rows)]
    height, width = rows_data[0][0].shape[:2]
    columns = ["image", "ground truth", "prediction"] + (["errors (red = wrong)"] if error_map else [])

    aspect = min(max(height / width, 0.25), 4.0)  # keep extreme shapes on the page
    legend_entries = _legend_entries(class_names, colors, rows_data, ignore_index)
    legend_columns = _legend_columns(class_names, len(columns))
    legend_inches = 0.3 + 0.25 * math.ceil(len(legend_entries) / legend_columns)
    figure = new_figure(
        width=_CELL_INCHES * len(columns) + (0.4 if titles is not None else 0.0),
        height=_CELL_INCHES * aspect * rows + 0.35 + legend_inches,
    )
    figure.set_layout_engine("constrained")
    grid = figure.subplots(rows, len(columns), squeeze=False)
    for r, pictures in enumerate(rows_data):
        for c, picture in enumerate(pictures):
            axes = grid[r, c]
            axes.imshow(picture)
            axes.set_xticks([])
            axes.set_yticks([])
            if r == 0:
                axes.set_title(columns[c], fontsize=10)
        if titles is not None:
            grid[r, 0].set_ylabel(str(titles[r]), fontsize=8)

    from matplotlib.patches import Patch  # matplotlib is imported only when a picture is drawn

    handles = [Patch(facecolor=_unit(color), edgecolor="0.4", label=name) for name, color in legend_entries]
    figure.legend(
        handles=_row_major(handles, legend_columns),
        loc="outside lower center",
        ncols=legend_columns,
        fontsize=8,
        frameon=False,
    )
    return save_figure(figure, path)


def _row(image, truth, prediction, colors, ignore_index, with_errors, mean, std) -> list[np.ndarray]:
    """The pictures of one grid row, each ``(H, W, 3)`` uint8."""
    rgb = to_rgb_uint8(image, mean=mean, std=std)
    truth, prediction = _numpy(truth), _numpy(prediction)
    if truth.shape != rgb.shape[:2] or prediction.shape != rgb.shape[:2]:
        raise ValueError(
            f"image size {rgb.shape[:2]}, truth {truth.shape} and prediction {prediction.shape} differ"
        )
    pictures = [
        rgb,
        colorize(truth, palette=colors, ignore_index=ignore_index),
        colorize(prediction, palette=colors, ignore_index=ignore_index),
    ]
    if with_errors:
        pictures.append(error_image(truth, prediction, ignore_index=ignore_index))
    return pictures


def _legend_entries(class_names, colors, rows_data, ignore_index) -> list[tuple[str, RGB]]:
    """(name, colour) for each class to list; long class lists shrink to the classes drawn."""
    entries = [(str(name), tuple(colors[i])) for i, name in enumerate(class_names)]
    if len(entries) > _MAX_FULL_LEGEND:
        shown = np.concatenate([np.unique(p.reshape(-1, 3), axis=0) for row in rows_data for p in row[1:3]])
        shown_colors = {tuple(int(v) for v in color) for color in shown}
        entries = [entry for entry in entries if entry[1] in shown_colors]
    if ignore_index is not None:
        entries.append((f"ignored ({ignore_index})", IGNORE_COLOR))
    return entries


def _legend_columns(class_names: Sequence[str], grid_columns: int) -> int:
    """As many legend columns as fit under the grid with the longest name."""
    longest = max((len(str(name)) for name in class_names), default=4)
    entry_inches = 0.45 + 0.075 * longest
    return max(1, int(_CELL_INCHES * grid_columns / entry_inches))


def _row_major(items: list, columns: int) -> list:
    """Reorder so that matplotlib's column-by-column legend reads left to right, row by row.

    matplotlib gives the first ``len % columns`` columns one extra entry, which is exactly
    where a row-major grid's partial last row puts its entries.
    """
    return [items[r * columns + c] for c in range(columns) for r in range(math.ceil(len(items) / columns))
            if r * columns + c < len(items)]


def _unit(color: RGB) -> tuple[float, float, float]:
    return tuple(c / 255.0 for c in color)


def _numpy(array) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
