"""Colour masks blended over images, and label maps saved as PNG files.

Label PNGs are single-channel index images: reading one back gives the class indices
exactly, which is what ``pixelwise score`` and every other tool compares. With a palette
they are PIL "P" images, so image viewers show them in colour without changing the indices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelwise.constants import IGNORE_INDEX
from pixelwise.utils.atomic import atomic_path
from pixelwise.visual.palette import IGNORE_COLOR, RGB, colorize, to_rgb_uint8


def overlay(
    image: torch.Tensor | np.ndarray,
    mask: torch.Tensor | np.ndarray,
    *,
    palette: Sequence[RGB],
    alpha: float = 0.5,
    ignore_index: int | None = IGNORE_INDEX,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """Blend class colours over an image: ``(1 - alpha) * image + alpha * colour``.

    Ignored pixels keep the image as it is.

    Args:
        image: Anything :func:`~pixelwise.visual.palette.to_rgb_uint8` accepts.
        mask: Integer class indices of the same height and width.
        palette: One RGB colour (0..255) per class.
        alpha: Weight of the colours, 0 (image only) .. 1 (colours only).
        ignore_index: Label left uncoloured (``None``: none).
        mean, std: Normalisation of a float image, to undo for display.

    Returns:
        ``uint8`` array ``(H, W, 3)``.

    Shape:
        image: ``(3, H, W)`` tensor or ``(H, W, 3)`` array; mask: ``(H, W)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    rgb = to_rgb_uint8(image, mean=mean, std=std)  # (H, W, 3)
    labels = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if labels.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {labels.shape} differs from image size {rgb.shape[:2]}")
    colors = colorize(labels, palette=palette, ignore_index=ignore_index)  # (H, W, 3)
    blended = np.rint((1.0 - alpha) * rgb.astype(np.float32) + alpha * colors.astype(np.float32))
    blended = blended.astype(np.uint8)
    if ignore_index is not None:
        keep = labels == ignore_index  # (H, W)
        blended[keep] = rgb[keep]
    return blended


def save_png(array_or_mask: torch.Tensor | np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an RGB picture or a grey / label map as a PNG, atomically.

    Args:
        array_or_mask: ``(H, W, 3)`` uint8 RGB (e.g. from :func:`overlay`); ``(H, W)``
            integers in 0..255 (8-bit grey) or 0..65535 (16-bit grey, for more than 256 labels).
        path: Destination file.

    Returns:
        The path written.
    """
    array = array_or_mask.detach().cpu().numpy() if isinstance(array_or_mask, torch.Tensor) else np.asarray(array_or_mask)
    if array.ndim == 3 and array.shape[-1] == 3:
        if array.dtype != np.uint8:
            raise ValueError(f"an RGB picture must be uint8, got {array.dtype}")
        picture = Image.fromarray(np.ascontiguousarray(array))
    elif array.ndim == 2:
        picture = _grey_image(array)
    else:
        raise ValueError(f"expected (H, W, 3) RGB or (H, W) labels, got shape {array.shape}")
    return _save_image(picture, path)


def save_label_png(
    mask: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    palette: Sequence[RGB] | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    ignore_color: RGB = IGNORE_COLOR,
) -> Path:
    """Write class indices as a single-channel 8-bit PNG, atomically.

    The pixel values are the class indices. With ``palette`` the file is a "P" (palette)
    PNG that viewers show in colour; without, a plain "L" greyscale PNG. Either reads back
    with ``np.array(PIL.Image.open(path))`` as the same indices.

    Args:
        mask: Integer labels in 0..255.
        path: Destination file.
        palette: Optional class colours (0..255 RGB) to embed.
        ignore_index: With a palette, this index gets ``ignore_color`` unless the palette
            already colours it.
        ignore_color: Colour shown for the ignore index.

    Returns:
        The path written.

    Shape:
        mask: ``(H, W)``.
    """
    return _save_image(label_image(mask, palette=palette, ignore_index=ignore_index, ignore_color=ignore_color), path)


def label_image(
    mask: torch.Tensor | np.ndarray,
    *,
    palette: Sequence[RGB] | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    ignore_color: RGB = IGNORE_COLOR,
) -> Image.Image:
    """The PIL image :func:`save_label_png` writes: "P" with ``palette``, "L" without; the pixels are the indices.

    Shape:
        mask: ``(H, W)`` integers in 0..255.
    """
    labels = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if labels.ndim != 2:
        raise ValueError(f"a label map must be (H, W), got shape {labels.shape}")
    if labels.dtype.kind not in "iub":
        raise ValueError(f"a label map must hold integers, got dtype {labels.dtype}")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) > 255):
        raise ValueError(
            f"labels span {int(labels.min())}..{int(labels.max())}, but a label PNG holds 0..255; "
            "use save_png for 16-bit label maps"
        )
    picture = Image.fromarray(np.ascontiguousarray(labels.astype(np.uint8)))  # mode "L"
    if palette is not None:
        if len(palette) > 256:
            raise ValueError(f"a PNG palette holds at most 256 colours, got {len(palette)}")
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: len(palette)] = np.clip(np.asarray(palette, dtype=np.int64).reshape(-1, 3), 0, 255)
        if ignore_index is not None and len(palette) <= ignore_index < 256:
            table[ignore_index] = ignore_color
        picture.putpalette(table.reshape(-1).tolist())  # "L" -> "P", the indices unchanged
    return picture


def _grey_image(array: np.ndarray) -> Image.Image:
    if array.dtype.kind not in "iub":
        raise ValueError(f"a single-channel PNG must hold integers, got dtype {array.dtype}")
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    if low < 0 or high > 65535:
        raise ValueError(f"values span {low}..{high}; a PNG holds 0..65535")
    if high <= 255:
        return Image.fromarray(np.ascontiguousarray(array.astype(np.uint8)))  # mode "L"
    return Image.fromarray(np.ascontiguousarray(array.astype(np.uint16)))  # mode "I;16"


def _save_image(picture: Image.Image, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")  # explicit: the temporary name's suffix is not trusted
    return path
