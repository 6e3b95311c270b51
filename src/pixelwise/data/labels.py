"""From stored mask values to class indices: lookup tables, colour tables and palettes.

A stored value that a format does not define becomes :data:`INVALID` (-1), so the loader and
the verifier can name the file and the offending values instead of passing a label that
would crash a loss on the GPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError

INVALID = -1
"""Label given to stored values that the format does not define."""

RGB = tuple[int, int, int]


class LabelMap:
    """A lookup table from stored mask values to class indices.

    Args:
        mapping: ``stored value -> class index`` (or the ignore index).
        default: Label for values not in ``mapping`` (:data:`INVALID` to flag them).
    """

    def __init__(self, mapping: Mapping[int, int], *, default: int = INVALID) -> None:
        size = max(256, max(mapping, default=0) + 1)
        self.table = torch.full((size,), default, dtype=torch.int64)
        for stored, label in mapping.items():
            self.table[stored] = label
        self.default = default

    def __call__(self, values: Tensor) -> Tensor:
        """Map stored values ``(H, W)`` (any integer dtype) to ``int64`` labels ``(H, W)``."""
        if values.dtype == torch.uint8:  # every 8-bit value is inside the table: one gather, no bounds checks
            return self.table.index_select(0, values.flatten().to(torch.int32)).view(values.shape)
        index = values.to(torch.int64)
        labels = self.table[index.clamp(0, len(self.table) - 1)]
        outside = (index < 0) | (index >= len(self.table))
        if outside.any():
            labels[outside] = self.default
        return labels


class ColorTable:
    """Colour masks -> class indices, for datasets that store labels as RGB colours.

    Args:
        colors: One RGB colour per class, in label order.
        ignore_colors: Colours that mean "do not count this pixel" (mapped to ``ignore_index``).
        ignore_index: The label of ignored pixels.
    """

    def __init__(self, colors: Sequence[RGB], *, ignore_colors: Sequence[RGB] = (), ignore_index: int = 255) -> None:
        entries = [(tuple(c), label) for label, c in enumerate(colors)] + [(tuple(c), ignore_index) for c in ignore_colors]
        seen: dict[tuple[int, ...], int] = {}
        for colour, label in entries:
            if len(colour) != 3 or not all(0 <= int(v) <= 255 for v in colour):
                raise PixelwiseError(f"colour {list(colour)} is not an RGB triple of 0..255 values; fix the colour table")
            if colour in seen and seen[colour] != label:
                raise PixelwiseError(f"colour {list(colour)} is listed twice in the colour table; give each class its own colour")
            seen[colour] = label
        self.colors = [tuple(int(v) for v in c) for c in colors]
        self._keys = torch.tensor([_pack(c) for c in seen], dtype=torch.int64)
        self._labels = torch.tensor(list(seen.values()), dtype=torch.int64)
        order = torch.argsort(self._keys)
        self._keys, self._labels = self._keys[order], self._labels[order]

    def __call__(self, rgb: Tensor) -> Tensor:
        """Map a colour mask ``(3, H, W)`` to ``int64`` labels ``(H, W)``; unknown colours -> :data:`INVALID`."""
        packed = (rgb[0].to(torch.int64) << 16) | (rgb[1].to(torch.int64) << 8) | rgb[2].to(torch.int64)  # (H, W)
        position = torch.searchsorted(self._keys, packed).clamp(max=len(self._keys) - 1)
        found = self._keys[position] == packed
        return torch.where(found, self._labels[position], torch.full_like(packed, INVALID))


def _pack(colour: Sequence[int]) -> int:
    return (int(colour[0]) << 16) | (int(colour[1]) << 8) | int(colour[2])


def voc_palette(num_colors: int) -> tuple[RGB, ...]:
    """The PASCAL VOC colour map (bit-interleaved label index), for any number of classes.

    It is VOC's own palette for the first 21 entries and stays distinct for hundreds more,
    so formats without an official palette use it too.
    """
    palette = []
    for label in range(num_colors):
        r = g = b = 0
        value = label
        for shift in range(7, -1, -1):  # spread the label's bits over the high bits of R, G, B
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette.append((r, g, b))
    return tuple(palette)
