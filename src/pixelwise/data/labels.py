"""From stored mask values to class indices: lookup tables, colour tables, palettes and the label rule.

A stored value that a format does not define becomes :data:`INVALID` (-1), so the loader and
the verifier can name the file and the offending values instead of passing a label that
would crash a loss on the GPU.

The label rule is checked here once, for datasets, the verifier, class statistics, the
confusion matrix and ``pixelwise score``: every label is a class ``0 .. C-1`` or the ignore index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
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

    def __init__(self, colors: Sequence[RGB], *, ignore_colors: Sequence[RGB] = (), ignore_index: int = IGNORE_INDEX) -> None:
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

    Class ``i``'s colour spreads the bits of ``i`` over the high bits of R, G and B, so class 0
    is black and 255 (VOC's border) is (224, 224, 192). It is VOC's own palette for the first 21
    entries and stays distinct for 2**24 labels, so formats without an official palette and
    pictures drawn without one use it too (:func:`pixelwise.visual.default_palette`).

    Example:
        >>> voc_palette(4)
        ((0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0))
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


class LabelError(PixelwiseError, ValueError):
    """A mask, target or prediction holds a label that is neither a class nor the ignore index.

    A :class:`PixelwiseError` (the command line prints its one line) and a ``ValueError``.
    """


def invalid_labels(labels: Tensor, *, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> Tensor:
    """``True`` where a label is neither a class ``0 .. num_classes - 1`` nor ``ignore_index``.

    Shape:
        labels: any shape, integer; returns a bool tensor of the same shape.
    """
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    return bad


def allowed_labels(*, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> str:
    """The labels a mask may hold, for messages: ``"0..20 or the ignore index 255"``."""
    classes = f"0..{num_classes - 1}"
    return classes if ignore_index is None else f"{classes} or the ignore index {ignore_index}"


def describe_invalid(values: Tensor, bad: Tensor, *, limit: int = 8) -> str:
    """Name what the ``bad`` pixels hold: ``"value(s) 12, 40"`` or ``"2 unknown colour(s) (1,2,3), (4,5,6)"``.

    Args:
        values: The labels, shaped like ``bad``; or the stored mask ``(C, H, W)`` they were
            mapped from, whose values (``C < 3``) or colours (``C >= 3``) tell the user more
            than the :data:`INVALID` they map to.
        bad: Boolean mask of the offending pixels, e.g. from :func:`invalid_labels`.
        limit: Name at most this many values.
    """
    if values.shape != bad.shape and values.shape[0] >= 3:
        colours = torch.unique(values[:3, bad].T, dim=0).tolist()  # (N, 3)
        shown = ", ".join(f"({r},{g},{b})" for r, g, b in colours[:limit])
        return f"{len(colours)} unknown colour(s) {shown}{' ...' if len(colours) > limit else ''}"
    found = torch.unique((values if values.shape == bad.shape else values[0])[bad]).tolist()
    shown = ", ".join(str(v) for v in found[:limit])
    return f"value(s) {shown}{' ...' if len(found) > limit else ''}"


def check_labels(
    labels: Tensor,
    *,
    num_classes: int,
    ignore_index: int | None = IGNORE_INDEX,
    source: str,
    fix: str,
    stored: Tensor | None = None,
) -> None:
    """Raise :class:`LabelError` unless every label is a class ``0 .. C-1`` or ``ignore_index``.

    The message is one line: ``"{source} has value(s) 12, 40, not a class (0..10 or the ignore
    index 255); {fix}"``. It waits for the device once (to read the answer).

    Args:
        labels: Integer labels, any shape.
        num_classes: Number of classes ``C``.
        ignore_index: The one label besides the classes that is allowed (``None``: none).
        source: What holds the labels, e.g. ``"mask data/a.png"``.
        fix: What the user should do about it.
        stored: The stored mask ``(C, H, W)`` the labels came from, named in the message instead
            of the labels (see :func:`describe_invalid`).
    """
    bad = invalid_labels(labels, num_classes=num_classes, ignore_index=ignore_index)
    if bool(bad.any()):
        found = describe_invalid(stored if stored is not None else labels, bad)
        allowed = allowed_labels(num_classes=num_classes, ignore_index=ignore_index)
        raise LabelError(f"{source} has {found}, not a class ({allowed}); {fix}")
