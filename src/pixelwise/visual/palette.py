"""Class colours, colour masks and displayable RGB images from tensors.

The default palette is PASCAL VOC's (:func:`pixelwise.data.labels.voc_palette`): class ``i``'s
colour interleaves the bits of ``i`` over R, G and B, so every label gets a distinct,
reproducible colour and class 0 is black.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.labels import RGB, voc_palette

IGNORE_COLOR: RGB = (255, 255, 255)
"""Colour of ignored pixels in colour masks, label PNGs and legends: white."""

# A float image may leave [0, 1] by rounding noise; further out it is not a [0, 1] image.
_RANGE_TOLERANCE = 0.02


def default_palette(num_classes: int) -> list[RGB]:
    """The PASCAL VOC colour map: distinct, deterministic colours, class 0 black.

    Args:
        num_classes: How many colours (any positive number).

    Returns:
        ``num_classes`` RGB tuples in 0..255.

    Example:
        >>> default_palette(4)
        [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    return list(voc_palette(num_classes))


def colorize(
    mask: torch.Tensor | np.ndarray,
    *,
    palette: Sequence[RGB],
    ignore_index: int | None = IGNORE_INDEX,
    ignore_color: RGB = IGNORE_COLOR,
) -> np.ndarray:
    """Paint a label map with its class colours (one table lookup, no loop over pixels).

    Args:
        mask: Integer class indices.
        palette: One RGB colour (0..255) per class.
        ignore_index: Label drawn in ``ignore_color`` (``None``: no ignore label).
        ignore_color: Colour of ignored pixels.

    Returns:
        ``uint8`` array of the mask's shape plus a trailing 3.

    Shape:
        mask: ``(H, W)`` (any shape works) -> ``(H, W, 3)``.

    Raises:
        ValueError: A label is negative or has no palette colour and is not the ignore index.
    """
    labels = _to_numpy(mask)
    if labels.dtype.kind not in "iub":
        raise ValueError(f"mask must hold integer labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    colors = np.asarray(palette, dtype=np.int64).reshape(-1, 3)  # (C, 3)
    if labels.size == 0:
        return np.zeros((*labels.shape, 3), dtype=np.uint8)
    low, high = int(labels.min()), int(labels.max())
    size = max(len(colors), high + 1, (ignore_index + 1) if ignore_index is not None and ignore_index >= 0 else 0)
    table = np.zeros((size, 3), dtype=np.uint8)
    table[: len(colors)] = np.clip(colors, 0, 255)
    known = np.zeros(size, dtype=bool)
    known[: len(colors)] = True
    if ignore_index is not None and ignore_index >= 0:
        table[ignore_index] = ignore_color
        known[ignore_index] = True
    if low < 0 or not known[np.unique(labels)].all():
        present = np.unique(labels)
        bad = [int(v) for v in present if v < 0 or not known[v]][:5]
        raise ValueError(
            f"mask holds label(s) {bad} with no palette colour ({len(colors)} colours)"
            + (f" and not the ignore index {ignore_index}" if ignore_index is not None else "")
        )
    return table[labels]  # (..., 3)


def denormalize(
    image: torch.Tensor, *, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Undo ``(x - mean) / std`` channel-wise.

    Shape:
        image: ``(C, H, W)`` or ``(N, C, H, W)`` float; ``mean``/``std`` have C entries.
    """
    mean_t = torch.as_tensor(mean, dtype=image.dtype, device=image.device).reshape(-1, 1, 1)  # (C, 1, 1)
    std_t = torch.as_tensor(std, dtype=image.dtype, device=image.device).reshape(-1, 1, 1)  # (C, 1, 1)
    return image * std_t + mean_t


def to_rgb_uint8(
    image: torch.Tensor | np.ndarray,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """A displayable ``(H, W, 3)`` uint8 picture from what a data pipeline holds.

    Accepted: uint8 images (0..255), float images in [0, 1], and normalised float images
    when ``mean`` and ``std`` are given. Tensors are channels-first ``(C, H, W)``; NumPy
    arrays are channels-last ``(H, W, C)`` when their last axis has 1, 3 or 4 entries, as
    PIL gives them, else channels-first. One channel is repeated to grey, a 4th (alpha) dropped.

    Raises:
        ValueError: The shape is not an image, or a float image lies outside [0, 1]
            (a normalised image given without ``mean``/``std``).
    """
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[-1] not in (1, 3, 4):
            array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        tensor = tensor.unsqueeze(-1) if tensor.ndim == 2 else tensor
        tensor = tensor.permute(2, 0, 1)  # (H, W, C) -> (C, H, W)
    else:
        tensor = image.detach().cpu()
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor
    if tensor.ndim != 3 or tensor.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected an image (C, H, W) with 1, 3 or 4 channels, got shape {tuple(image.shape)}")
    tensor = tensor[:3] if tensor.shape[0] == 4 else tensor.expand(3, -1, -1) if tensor.shape[0] == 1 else tensor

    if tensor.dtype == torch.uint8:
        if mean is not None or std is not None:
            raise ValueError("mean/std describe a normalised float image; this image is uint8")
        rgb = tensor
    elif tensor.is_floating_point():
        values = tensor.float()
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        if mean is not None and std is not None:
            values = denormalize(values, mean=mean, std=std)
        low, high = float(values.min()), float(values.max())
        if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
            raise ValueError(
                f"float image spans [{low:.3g}, {high:.3g}], not [0, 1]: pass the normalisation "
                "mean= and std= it was made with (or scale a 0..255 float image by 1/255)"
            )
        rgb = (values.clamp(0, 1) * 255).round().to(torch.uint8)
    else:
        raise ValueError(f"expected a uint8 or float image, got dtype {tensor.dtype}")
    return np.ascontiguousarray(rgb.permute(1, 2, 0).numpy())  # (C, H, W) -> (H, W, 3)


def _to_numpy(array: torch.Tensor | np.ndarray) -> np.ndarray:
    return array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
