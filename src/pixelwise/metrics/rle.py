"""Instance masks as COCO run-length encoding (RLE), through pycocotools.

pycocotools has traps that every caller of it meets once; this file meets them for everyone:

- ``pycocotools.mask.encode`` wants a Fortran-ordered ``uint8`` array ``(H, W, N)``; anything
  else raises or, for a C-ordered array, encodes the wrong pixels. :func:`encode_masks` takes
  ``(N, H, W)`` or ``(H, W)`` bool/integer masks in any memory order.
- Compressed ``counts`` come back as ``bytes``, which JSON cannot hold: :func:`encode_masks`
  returns ``str``, and every function here accepts ``str`` or ``bytes``.
- A COCO ``segmentation`` can be compressed RLE, uncompressed RLE (``counts`` a list of ints) or
  polygons; :func:`segmentation_to_rle` turns each into compressed RLE. A polygon of fewer than
  three points is dropped (pycocotools would read a 4-number polygon as a box).
- ``pycocotools.mask.area`` of more than 255 RLEs at once raises ``OverflowError`` under NumPy 2:
  :func:`rle_area` asks in chunks.
- pycocotools trusts an RLE's runs: malformed ones decode to uninitialised memory, give areas of
  billions of pixels or raise ``ValueError``. Every RLE read here is checked first
  (:mod:`pixelwise.metrics.rle_check`) and a bad one refused with a :class:`PixelwiseError`.

pycocotools is imported inside the functions, so ``import pixelwise.metrics`` stays light.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.metrics.rle_check import checked_counts, checked_polygons, checked_size

RLE = dict[str, Any]
"""A COCO RLE: ``{"size": [H, W], "counts": str | bytes | list[int]}``."""

AREA_CHUNK = 255
"""RLEs per ``pycocotools.mask.area`` call: it fails on more under NumPy 2 (it stores the count in a uint8)."""


def encode_masks(masks: np.ndarray | torch.Tensor) -> list[RLE]:
    """Compress binary masks to COCO RLE.

    Args:
        masks: ``(N, H, W)`` or ``(H, W)`` bool or integer masks; nonzero is foreground. Threshold
            probabilities first (``masks > 0.5``).

    Returns:
        One ``{"size": [H, W], "counts": str}`` per mask (a list of one for an ``(H, W)`` mask),
        ready for ``json.dump``.

    Shape:
        masks: ``(N, H, W)`` or ``(H, W)``.
    """
    from pycocotools import mask as mask_api

    array = masks.detach().cpu().numpy() if isinstance(masks, torch.Tensor) else np.asarray(masks)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise PixelwiseError(f"masks of shape {array.shape} cannot be encoded; give (N, H, W) or (H, W) binary masks")
    if not (array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer)):
        raise PixelwiseError(
            f"masks of dtype {array.dtype} cannot be encoded; threshold probabilities first (masks > 0.5)"
        )
    if array.shape[0] == 0:
        return []
    stacked = np.asfortranarray((array != 0).transpose(1, 2, 0).astype(np.uint8))  # (H, W, N), column-major
    return [_with_str_counts(rle) for rle in mask_api.encode(stacked)]


def decode_masks(
    segmentations: list[RLE | list[list[float]]], *, height: int | None = None, width: int | None = None
) -> np.ndarray:
    """Expand COCO segmentations to binary masks.

    Args:
        segmentations: Compressed RLE (``counts`` str or bytes), uncompressed RLE (``counts`` a list
            of ints) or polygons (a list of ``[x1, y1, x2, y2, ...]``), one per mask, mixed freely.
        height, width: Image size; needed for polygons and for an empty list, checked against RLE.

    Returns:
        ``uint8`` masks of shape ``(N, H, W)``, 1 = foreground (``(0, height, width)`` when empty).
    """
    from pycocotools import mask as mask_api

    if not segmentations:
        return np.zeros((0, height or 0, width or 0), np.uint8)
    rles = [segmentation_to_rle(s, height=height, width=width) for s in segmentations]
    sizes = {tuple(rle["size"]) for rle in rles}
    if len(sizes) > 1:
        raise PixelwiseError(f"segmentations of different sizes {sorted(sizes)} cannot be stacked; decode them per image")
    with warnings.catch_warnings():  # pycocotools' decode predates numpy 2's copy keyword; harmless
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        decoded = mask_api.decode(rles)  # (H, W, N), Fortran-ordered
    return np.ascontiguousarray(decoded.transpose(2, 0, 1))


def segmentation_to_rle(segmentation: RLE | list[list[float]], *, height: int | None, width: int | None) -> RLE:
    """One COCO ``segmentation`` (any of the three forms) as compressed RLE with ``bytes`` counts.

    Raises:
        PixelwiseError: a polygon without ``height``/``width``, an RLE whose size differs from the
            given one, or something that is neither RLE nor polygons.
    """
    from pycocotools import mask as mask_api

    if isinstance(segmentation, dict):
        if "counts" not in segmentation or "size" not in segmentation:
            raise PixelwiseError(f"segmentation has keys {sorted(map(str, segmentation))}; RLE needs 'size' and 'counts'")
        size = checked_size(segmentation["size"])
        if (height is not None and size[0] != height) or (width is not None and size[1] != width):
            raise PixelwiseError(
                f"RLE of size {size[0]}x{size[1]} (HxW) does not match the image's {height}x{width}; "
                "encode masks at the image's resolution"
            )
        # pycocotools trusts the runs: malformed ones decode to uninitialised memory or worse
        counts = checked_counts(segmentation["counts"], height=size[0], width=size[1])
        if isinstance(counts, list):  # uncompressed RLE, as COCO stores crowd regions
            return mask_api.frPyObjects({"size": size, "counts": counts}, size[0], size[1])
        return {"size": size, "counts": counts}
    if isinstance(segmentation, list):
        if height is None or width is None:
            raise PixelwiseError("polygon segmentation needs the image's height and width; pass height= and width=")
        polygons = checked_polygons(segmentation)
        if not polygons:  # no polygon with three points: an empty mask
            return mask_api.encode(np.zeros((height, width), np.uint8, order="F"))
        return mask_api.merge(mask_api.frPyObjects(polygons, height, width))
    raise PixelwiseError(
        f"segmentation of type {type(segmentation).__name__} is neither RLE (a dict) nor polygons (a list of lists)"
    )


def rle_area(rles: RLE | list[RLE]) -> int | np.ndarray:
    """Foreground pixel count: an ``int`` for one RLE, an int64 array ``(N,)`` for a list."""
    from pycocotools import mask as mask_api

    if isinstance(rles, dict):
        return int(mask_api.area(segmentation_to_rle(rles, height=None, width=None)))
    if not rles:
        return np.zeros(0, np.int64)
    compressed = [segmentation_to_rle(r, height=None, width=None) for r in rles]
    # pycocotools 2.0.x's area() builds np.array((n,), dtype=np.uint8) first: NumPy 2 refuses n > 255
    chunks = [compressed[start : start + AREA_CHUNK] for start in range(0, len(compressed), AREA_CHUNK)]
    return np.concatenate([mask_api.area(chunk).astype(np.int64) for chunk in chunks])


def rle_to_box(rles: RLE | list[RLE], *, fmt: Literal["xyxy", "xywh"] = "xyxy") -> np.ndarray:
    """Tight boxes around RLE masks, float64; ``(4,)`` for one RLE, ``(N, 4)`` for a list.

    Args:
        rles: Compressed or uncompressed RLE.
        fmt: ``"xyxy"`` (torchvision's corners, the default) or ``"xywh"`` (COCO's ``bbox``).
            An empty mask gives an all-zero box.
    """
    from pycocotools import mask as mask_api

    if fmt not in ("xyxy", "xywh"):
        raise PixelwiseError(f"box format {fmt!r} is unknown; use 'xyxy' or 'xywh'")
    single = isinstance(rles, dict)
    items = [rles] if single else list(rles)
    if not items:
        return np.zeros((0, 4), np.float64)
    boxes = mask_api.toBbox([segmentation_to_rle(r, height=None, width=None) for r in items]).astype(np.float64)
    if fmt == "xyxy":
        boxes[:, 2:] += boxes[:, :2]
    return boxes[0] if single else boxes


def _with_str_counts(rle: RLE) -> RLE:
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
