"""Checking a COCO RLE before pycocotools reads it: its C code trusts its input.

pycocotools (2.0.11) checks neither a compressed ``counts`` string nor a list of runs against the
mask's size. Given a malformed RLE it raises ``ValueError`` (runs past the end of the mask), decodes
a mask of uninitialised memory (runs that stop short of the end: values other than 0 and 1,
different on every call), gives an area of 4294967289 pixels for a 4 x 5 mask, or reads past the
end of the string (a last character that announces another). So every RLE pixelwise reads is
checked here first: its size is two whole numbers >= 0 within the pixel limit, and its runs add up
to height x width exactly, each of at least one pixel but the first (as pycocotools writes them; its
boxes count an empty run as a pixel).

The compressed form (``rleToString`` in pycocotools' ``maskApi.c``): from the fourth run on, each
run is written as its difference from the run two before it; each number goes out in groups of
5 bits, least significant first, one character ``chr(48 + group)`` per group, with bit 5 (``0x20``)
set when another group follows; bit 4 of the last group is the sign. Every character is thus
in ``'0'`` .. ``'o'``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError

COORDINATE_LIMIT = 2**24
"""Largest polygon coordinate (pixels) accepted: pycocotools multiplies it by 5 into a 32-bit int."""
BOUNDARY_LIMIT = 2**24
"""Most boundary points (at 1/5 pixel) of one segmentation's polygons: pycocotools holds about 16 bytes
per point (270 MB here); the outline of a whole 11585 x 11585 image is 231,700."""
MAX_GROUPS = 6
"""Characters of one number at most: 30 bits, a run of up to 2**29 pixels. pycocotools shifts each
group as a 32-bit int, so a seventh group would overflow in its C code."""


def checked_size(size: Any) -> list[int]:
    """An RLE's ``size`` as ``[height, width]``: two whole numbers >= 0 whose product is within
    :func:`pixelwise.data.decode.max_pixels`."""
    from pixelwise.data.decode import max_pixels

    if isinstance(size, str | bytes) or not hasattr(size, "__len__") or len(size) != 2:
        raise PixelwiseError(f"RLE size {size!r} is not [height, width]; give two whole numbers")
    try:
        if any(isinstance(v, bool | np.bool_) for v in size):
            raise TypeError
        height, width = (operator.index(v) for v in size)
    except TypeError:
        raise PixelwiseError(f"RLE size {size!r} is not [height, width]; give two whole numbers") from None
    if height < 0 or width < 0:
        raise PixelwiseError(f"RLE size {[height, width]} has a negative side; give [height, width] >= 0")
    if height * width > max_pixels():
        raise PixelwiseError(f"RLE size {height}x{width} is beyond the limit of {max_pixels()} pixels; "
                             "raise it with PIXELWISE_MAX_PIXELS if the mask is genuine")
    return [height, width]


def checked_counts(counts: Any, *, height: int, width: int) -> bytes | list[int]:
    """RLE ``counts`` checked against a ``height`` x ``width`` mask: compressed (``str`` or ``bytes``) comes
    back as ``bytes``, uncompressed (a list of runs) as a list of ``int``.

    Raises:
        PixelwiseError: a character outside ``'0'`` .. ``'o'``, a number cut short, a negative run, runs
            that do not add up to ``height * width``, or counts of another type.
    """
    if isinstance(counts, list):
        runs = _uncompressed_runs(counts)
        _check_runs(runs, pixels=height * width, form="uncompressed RLE")
        return runs.tolist()
    if isinstance(counts, str):
        if not counts.isascii():
            raise PixelwiseError("RLE counts hold a non-ASCII character; compressed counts are characters '0' to 'o'")
        counts = counts.encode("ascii")
    if not isinstance(counts, bytes):
        raise PixelwiseError(f"RLE counts of type {type(counts).__name__}; expected str, bytes or a list of ints")
    _check_runs(compressed_runs(counts), pixels=height * width, form="compressed RLE")
    return counts


def checked_polygons(polygons: Any) -> list[list[float]]:
    """COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` as lists of floats, those of fewer than three points left
    out (pycocotools would read a 4-number polygon as a box).

    pycocotools rasterises a polygon by listing every point of its boundary at 1/5 pixel, as 32-bit
    ints: a coordinate of 1e9 overflows them (a segmentation fault) and one of 1e12 asks for tens of
    gigabytes (the process is killed). So coordinates must be finite and within :data:`COORDINATE_LIMIT`,
    and the boundary at most :data:`BOUNDARY_LIMIT` points.
    """
    if not isinstance(polygons, list) or not all(isinstance(p, list | tuple) for p in polygons):
        raise PixelwiseError("polygon segmentation is not a list of polygons [[x1, y1, x2, y2, ...], ...]")
    kept = []
    for polygon in polygons:
        if len(polygon) < 6:
            continue
        if not all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in polygon):
            raise PixelwiseError("polygon coordinates must be numbers [x1, y1, x2, y2, ...]")
        xy = np.asarray(polygon[: len(polygon) // 2 * 2], dtype=np.float64).reshape(-1, 2)  # (K, 2)
        if not np.isfinite(xy).all() or np.abs(xy).max() > COORDINATE_LIMIT:
            raise PixelwiseError(f"polygon coordinates must be finite and within +-{COORDINATE_LIMIT}; "
                                 "give pixel coordinates of the image")
        kept.append(xy)
    scaled = [np.floor(5 * xy + 0.5) for xy in kept]  # pycocotools' points at 1/5 pixel
    boundary = sum(int(np.abs(np.diff(p, axis=0, append=p[:1])).max(axis=1).sum()) + len(p) for p in scaled)
    if boundary > BOUNDARY_LIMIT:
        raise PixelwiseError(f"polygons with an outline of {boundary // 5} pixels are beyond the limit of "
                             f"{BOUNDARY_LIMIT // 5}; give pixel coordinates of the image")
    return [xy.ravel().tolist() for xy in kept]


def compressed_runs(counts: bytes) -> np.ndarray:
    """The runs ``int64 (M,)`` a compressed ``counts`` string stands for (background first), exactly as
    pycocotools reads a well-formed one; a malformed one raises :class:`PixelwiseError`.

    Example:
        >>> compressed_runs(b"52203").tolist()  # 5 off, 2 on, 2 off, 2 + 0 on, 2 + 3 off
        [5, 2, 2, 2, 5]
    """
    codes = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48  # (C,) 0..63 when well-formed
    bad = np.flatnonzero((codes < 0) | (codes > 63))
    if bad.size:
        raise PixelwiseError(f"RLE counts hold {counts[bad[0] : bad[0] + 1]!r} at character {bad[0]}; compressed "
                             "counts are characters '0' to 'o'")
    last = (codes & 0x20) == 0  # (C,) the last character of a number
    if codes.size and not last[-1]:
        raise PixelwiseError("RLE counts end inside a number (the last character announces another); the string is cut short")
    number = np.cumsum(last) - last  # (C,) which number each character belongs to
    first = np.flatnonzero(np.concatenate([[True], last[:-1]]))  # (M,) where each number starts
    position = np.arange(codes.size) - first[number]  # (C,) the group's place in its number
    if codes.size and position.max() >= MAX_GROUPS:
        raise PixelwiseError(f"RLE counts hold a number of more than {MAX_GROUPS} characters (a run beyond 2**29 pixels)")
    groups = np.bincount(number, weights=(codes & 0x1F) << (5 * position), minlength=first.size)
    values = groups.astype(np.int64)  # (M,) exact: below 2**30
    negative = (codes[last] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * np.bincount(number)[negative])  # the sign bit extends
    runs = values.copy()
    runs[1::2], runs[2::2] = np.cumsum(values[1::2]), np.cumsum(values[2::2])  # differences from two runs before
    return runs


def _uncompressed_runs(counts: list) -> np.ndarray:
    try:
        if any(isinstance(c, bool | np.bool_) for c in counts):
            raise TypeError
        return np.array([operator.index(c) for c in counts], dtype=np.int64).reshape(-1)  # (M,)
    except (TypeError, OverflowError):
        raise PixelwiseError("uncompressed RLE counts must be whole numbers of pixels, >= 0") from None


def _check_runs(runs: np.ndarray, *, pixels: int, form: str) -> None:
    if (runs < 0).any():
        raise PixelwiseError(f"{form} has a negative run ({int(runs.min())}); runs count pixels")
    # Only the first run (background) may be empty: pycocotools' boxes count an empty run as a pixel.
    if (runs[1:] == 0).any():
        raise PixelwiseError(f"{form} has an empty run after the first; runs alternate background and foreground, "
                             "each of at least one pixel")
    total = int(runs.sum(dtype=object)) if runs.size else 0
    if total != pixels:
        raise PixelwiseError(f"{form} runs add up to {total} pixels, not the mask's {pixels}; the mask is damaged or "
                             "its size is wrong")
