"""Panoptic maps drawn over an image: one colour family per class, a shade per instance, outlines, a legend.

Stuff segments take their class's palette colour; each thing segment takes a shade of its class's
colour (the lightness moved by a golden-ratio sequence, so neighbours in the list differ most), so
"which class" reads from the hue and "which object" from the shade. Pixels whose 4-neighbour belongs
to another segment are outlined; void pixels are left as the image shows them.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.visual.palette import to_rgb_uint8

RGB = tuple[int, int, int]

_SHADE_SPREAD = 0.6  # thing shades move the lightness by up to +-0.3
_GOLDEN = 0.618033988749895


def segment_colors(
    segments_info: Sequence[dict[str, Any]], *, things: Collection[int], palette: Sequence[RGB]
) -> dict[int, RGB]:
    """The colour of each segment id: the class colour for stuff, a distinct shade of it per thing.

    Args:
        segments_info: ``{"id", "category_id"}`` per segment; the k-th thing of a class gets shade k.
        things: The thing class indices.
        palette: One RGB colour per class.
    """
    thing_set = {int(t) for t in things}
    seen: dict[int, int] = {}
    colours: dict[int, RGB] = {}
    for segment in segments_info:
        label = int(segment["category_id"])
        if not 0 <= label < len(palette):
            raise PixelwiseError(f"segment {segment['id']} has class {label}, but the palette has {len(palette)} colours")
        red, green, blue = palette[label]
        base = (int(red), int(green), int(blue))
        if label not in thing_set:
            colours[int(segment["id"])] = base
            continue
        k = seen.get(label, 0)
        seen[label] = k + 1
        colours[int(segment["id"])] = _shade(base, k)
    return colours


def _shade(colour: RGB, k: int) -> RGB:
    """Shade ``k`` of ``colour``: shade 0 is the colour itself; the lightness offset is reflected to stay visible."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    offset = (((k * _GOLDEN + 0.5) % 1.0) - 0.5) * _SHADE_SPREAD
    moved = lightness + offset
    if not 0.08 <= moved <= 0.92:
        moved = lightness - offset
    r, g, b = colorsys.hls_to_rgb(hue, min(max(moved, 0.0), 1.0), saturation)
    return round(r * 255), round(g * 255), round(b * 255)


def segment_boundaries(segments: np.ndarray) -> np.ndarray:
    """``True`` on labelled pixels with a 4-neighbour of another segment id (void included), ``(H, W)`` bool."""
    ids = np.asarray(segments)
    edge = np.zeros(ids.shape, dtype=bool)
    vertical = ids[1:, :] != ids[:-1, :]  # (H-1, W)
    horizontal = ids[:, 1:] != ids[:, :-1]  # (H, W-1)
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge & (ids != 0)


def draw_panoptic(
    image: torch.Tensor | np.ndarray,
    *,
    segments: torch.Tensor | np.ndarray,
    segments_info: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    things: Collection[int],
    palette: Sequence[RGB],
    alpha: float = 0.5,
    boundary_color: RGB | None = (255, 255, 255),
) -> np.ndarray:
    """``uint8 (H, W, 3)``: ``image`` with every segment blended in its colour and outlined.

    Args:
        image: The picture: ``(C, H, W)`` tensor or ``(H, W, C)`` array, uint8 or float in [0, 1].
        segments: ``(H, W)`` segment ids, 0 = void (drawn as the image).
        segments_info: ``{"id", "category_id"}`` per segment (``category_id`` a class index).
        class_names: One name per class (checked against the palette).
        things: The thing class indices (shaded per instance).
        palette: One RGB colour per class.
        alpha: Opacity of the colours (1: the map alone).
        boundary_color: Colour of the outlines (``None``: no outlines).
    """
    if len(palette) < len(class_names):
        raise PixelwiseError(f"{len(class_names)} classes but {len(palette)} palette colours; give one colour per class")
    if not 0.0 <= alpha <= 1.0:
        raise PixelwiseError(f"alpha {alpha} is not in [0, 1]")
    rgb = to_rgb_uint8(image)  # (H, W, 3)
    ids = segments.detach().cpu().numpy() if isinstance(segments, torch.Tensor) else np.asarray(segments)
    if ids.shape != rgb.shape[:2]:
        raise PixelwiseError(f"segments {tuple(ids.shape)} and image {tuple(rgb.shape[:2])} differ in size")
    colours = segment_colors(segments_info, things=things, palette=palette)
    unknown = sorted(set(np.unique(ids).tolist()) - set(colours) - {0})
    if unknown:
        raise PixelwiseError(f"segment id(s) {unknown[:5]} are in the map but not in segments_info; list every segment")
    order = np.array(sorted(colours), dtype=np.int64)
    table = np.array([colours[i] for i in order], dtype=np.float32).reshape(-1, 3)  # (S, 3)
    position = np.searchsorted(order, ids).clip(max=max(len(order) - 1, 0))  # (H, W)
    labelled = (ids != 0) & (order[position] == ids) if len(order) else np.zeros(ids.shape, dtype=bool)
    out = rgb.astype(np.float32)
    if len(order):
        out[labelled] = (1 - alpha) * out[labelled] + alpha * table[position[labelled]]
    if boundary_color is not None:
        out[segment_boundaries(ids)] = boundary_color
    return out.round().clip(0, 255).astype(np.uint8)


def save_panoptic_legend(
    path: str | os.PathLike[str], *, class_names: Sequence[str], things: Collection[int], palette: Sequence[RGB]
) -> Path:
    """Write a legend of the classes (a swatch of each class colour, things marked) as an image file.

    Returns:
        The destination path.
    """
    from pixelwise.visual._figure import new_figure, save_figure

    rows = max(len(class_names), 1)
    figure = new_figure(width=3.2, height=0.3 + 0.26 * rows)
    figure.legend(handles=_legend_handles(class_names, things, palette), loc="center", fontsize=9, frameon=False)
    return save_figure(figure, path)


def save_panoptic_panel(
    path: str | os.PathLike[str],
    *,
    image: torch.Tensor | np.ndarray,
    segments: torch.Tensor | np.ndarray,
    segments_info: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    things: Collection[int],
    palette: Sequence[RGB],
    truth: tuple[torch.Tensor | np.ndarray, Sequence[dict[str, Any]]] | None = None,
    alpha: float = 0.5,
    title: str | None = None,
) -> Path:
    """Write the image, (optionally the true panoptic map,) the predicted one and a class legend as one figure.

    Args:
        path: The file to write (``.png``, ``.pdf``, ...).
        image: The picture.
        segments, segments_info: The panoptic map drawn (a prediction).
        class_names, things, palette: The classes.
        truth: ``(segments, segments_info)`` of the truth, drawn in a column before the prediction.
        alpha: Opacity of the colours.
        title: A title above the row.

    Returns:
        The destination path.
    """
    from pixelwise.visual._figure import new_figure, save_figure

    pictures = [("image", to_rgb_uint8(image))]
    if truth is not None:
        pictures.append(("truth", draw_panoptic(image, segments=truth[0], segments_info=truth[1], class_names=class_names,
                                                things=things, palette=palette, alpha=alpha)))  # fmt: skip
    pictures.append(("prediction" if truth is not None else "panoptic", draw_panoptic(
        image, segments=segments, segments_info=segments_info, class_names=class_names, things=things, palette=palette,
        alpha=alpha)))  # fmt: skip
    height, width = pictures[0][1].shape[:2]
    aspect = min(max(height / max(width, 1), 0.25), 4.0)  # keep extreme shapes on the page
    columns = 3
    figure = new_figure(width=3.0 * len(pictures), height=3.0 * aspect + 0.5 + 0.25 * -(-len(class_names) // columns))
    figure.set_layout_engine("constrained")
    for column, (name, picture) in enumerate(pictures):
        axes = figure.add_subplot(1, len(pictures), column + 1)
        axes.imshow(picture)
        axes.set_title(name, fontsize=10)
        axes.set_xticks([])
        axes.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=10)
    figure.legend(handles=_legend_handles(class_names, things, palette), loc="outside lower center", ncols=columns,
                  fontsize=8, frameon=False)  # fmt: skip
    return save_figure(figure, path)


def _legend_handles(class_names: Sequence[str], things: Collection[int], palette: Sequence[RGB]) -> list[Any]:
    from matplotlib.patches import Patch  # matplotlib is imported only when a picture is drawn

    thing_set = {int(t) for t in things}
    return [Patch(facecolor=tuple(c / 255 for c in palette[k]), edgecolor="0.4",
                  label=f"{name} ({'thing' if k in thing_set else 'stuff'})") for k, name in enumerate(class_names)]  # fmt: skip
