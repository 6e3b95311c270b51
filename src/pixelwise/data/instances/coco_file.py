"""Read a COCO instances JSON file, check each entry once, and decode segmentations to masks.

The format (https://cocodataset.org/#format-data): ``images`` (``id``, ``file_name``, ``width``,
``height``), ``categories`` (``id``, ``name``) and ``annotations`` (``id``, ``image_id``,
``category_id``, ``segmentation``, optional ``bbox`` ``[x, y, w, h]``, ``area`` and ``iscrowd``).
A segmentation is a list of polygons ``[[x1, y1, x2, y2, ...], ...]``, a compressed RLE
``{"size": [h, w], "counts": "..."}`` or an uncompressed RLE ``{"size": [h, w], "counts": [n, ...]}``
(crowd regions); pycocotools decodes all three.

:func:`read_coco` never stops at a bad entry: it keeps the usable ones and lists every problem,
so the dataset can refuse (or skip) and ``pixelwise data verify`` can report them all.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from pixelwise.data.instances.base import Found
from pixelwise.errors import PixelwiseError

BOX_SLACK = 1.0
"""Pixels a box may reach past the image edge before it counts as outside (float rounding in real files)."""


@dataclass
class CocoIndex:
    """The usable entries of a COCO file and what is wrong with the rest.

    Attributes:
        path: The JSON file.
        images: Usable image entries, in file order.
        categories: Usable categories, sorted by id (the order of the contiguous labels 1..K).
        annotations: Image id -> its usable annotations, in file order.
        unusable: Entries left out (unknown image or category, duplicate id, malformed fields).
        suspicious: Usable annotations that are probably wrong (a polygon of under 3 points, a box
            outside the image); they are loaded as they are.
    """

    path: Path
    images: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    unusable: list[Found] = field(default_factory=list)
    suspicious: list[Found] = field(default_factory=list)


def read_coco(path: Path) -> CocoIndex:
    """Parse and check a COCO instances file.

    Raises:
        PixelwiseError: The file is missing, not JSON, or lacks the ``images``/``annotations``/``categories`` lists.
    """
    data = _load_json(path)
    index = CocoIndex(path=path)
    images = _unique(data["images"], "image", index, _image_fault, fix="give each image its own id")
    index.images = list(images.values())
    categories = _unique(data["categories"], "category", index, _category_fault, fix="give each category its own id")
    index.categories = sorted(categories.values(), key=lambda c: c["id"])
    annotations = _unique(data["annotations"], "annotation", index, _annotation_fault, fix="give each annotation its own id")
    for ann in annotations.values():
        image = images.get(ann["image_id"])
        where = f"annotation {ann['id']}"
        if image is None:
            index.unusable.append(_found(index, f"{where} points at image {ann['image_id']}, which the file does not list "
                                         "(or whose entry is unusable)", "add the image or delete the annotation"))
        elif ann["category_id"] not in categories:
            index.unusable.append(_found(index, f"{where} has category {ann['category_id']}, which the file does not list",
                                         "add the category to 'categories' or fix the annotation's category_id"))
        elif (fault := _segmentation_fault(ann["segmentation"], height=image["height"], width=image["width"])) is not None:
            index.unusable.append(_found(index, f"{where} (image {image['file_name']}): {fault}", "fix or delete the annotation"))
        else:
            index.annotations.setdefault(image["id"], []).append(ann)
            index.suspicious += _suspicious(index, ann, image)
    return index


def decode_segmentation(segmentation: Any, *, height: int, width: int) -> np.ndarray:
    """A checked segmentation (polygons, compressed or uncompressed RLE) as a 0/1 mask.

    Goes through :func:`pixelwise.metrics.rle.segmentation_to_rle`, which checks sizes, runs and
    polygon coordinates before pycocotools sees them (it trusts them: malformed runs decode to
    uninitialised memory, huge coordinates crash it). Polygons of under 3 points are left out
    (pycocotools would read a 2-point one as a box).

    Shape:
        ``(height, width)`` uint8.
    """
    from pixelwise.metrics.rle import segmentation_to_rle

    return coco_mask.decode(segmentation_to_rle(segmentation, height=height, width=width))


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PixelwiseError(f"COCO annotation file {path} not found; check --root or the annotation_file option")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise PixelwiseError(f"COCO annotation file {path} cannot be read as JSON ({reason}); fix or re-export it") from None
    keys = ("images", "annotations", "categories")
    missing = [key for key in keys if not isinstance(data, dict) or not isinstance(data.get(key), list)]
    if missing:
        raise PixelwiseError(
            f"COCO annotation file {path} has no {', '.join(repr(k) for k in missing)} list; "
            "an instances file holds 'images', 'annotations' and 'categories' (https://cocodataset.org/#format-data)"
        )
    return data


def _found(index: CocoIndex, problem: str, fix: str) -> Found:
    return ("error", str(index.path), problem, fix)


def _unique(entries: list[Any], kind: str, index: CocoIndex, fault_of: Any, *, fix: str) -> dict[int, dict[str, Any]]:
    """Entries by id: malformed ones and later uses of an id are listed as unusable."""
    kept: dict[int, dict[str, Any]] = {}
    counts = Counter(e["id"] for e in entries if isinstance(e, dict) and _is_int(e.get("id")))
    for position, entry in enumerate(entries):
        fault = fault_of(entry)
        if fault is not None:
            name = f"{kind} {entry['id']}" if isinstance(entry, dict) and _is_int(entry.get("id")) else f"{kind} entry #{position}"
            index.unusable.append(_found(index, f"{name} {fault}", f"fix the {kind}'s fields"))
        elif entry["id"] in kept:
            problem = f"{kind} id {entry['id']} is used by {counts[entry['id']]} entries (#{position} is left out)"
            index.unusable.append(_found(index, problem, fix))
        else:
            kept[entry["id"]] = entry
    return kept


def _image_fault(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not _is_int(entry.get("id")):
        return "has no integer 'id'"
    if not isinstance(entry.get("file_name"), str) or not entry["file_name"]:
        return "has no 'file_name'"
    if not (_is_int(entry.get("width")) and _is_int(entry.get("height")) and entry["width"] > 0 and entry["height"] > 0):
        return "has no positive integer 'width' and 'height'"
    return None


def _category_fault(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not _is_int(entry.get("id")):
        return "has no integer 'id'"
    if entry["id"] == 0:
        return "has id 0, which COCO keeps for background"
    if not isinstance(entry.get("name"), str):
        return "has no 'name'"
    return None


def _annotation_fault(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not _is_int(entry.get("id")):
        return "has no integer 'id'"
    for key in ("image_id", "category_id"):
        if not _is_int(entry.get(key)):
            return f"has no integer {key!r}"
    if "segmentation" not in entry:
        return "has no 'segmentation' (Mask R-CNN needs a mask per instance)"
    bbox = entry.get("bbox")
    if bbox is not None and not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        return f"has bbox {bbox!r}, not [x, y, width, height]"
    if entry.get("iscrowd", 0) not in (0, 1):
        return f"has iscrowd {entry['iscrowd']!r}, not 0 or 1"
    if "area" in entry and not _is_number(entry["area"]):
        return f"has area {entry['area']!r}, not a number"
    return None


def _segmentation_fault(segmentation: Any, *, height: int, width: int) -> str | None:
    """Why a segmentation cannot be decoded on a ``height`` x ``width`` image, or ``None``."""
    if isinstance(segmentation, list):
        if not all(isinstance(p, list) and all(_is_number(v) for v in p[:2]) for p in segmentation):
            return "segmentation is a list but not of polygons [x1, y1, x2, y2, ...]"
        odd = next((p for p in segmentation if len(p) % 2), None)
        return None if odd is None else f"has a polygon of {len(odd)} coordinates, an odd count (x, y pairs expected)"
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        return "segmentation is neither polygons nor an RLE {'size': [h, w], 'counts': ...}"
    if list(segmentation["size"]) != [height, width]:
        return f"RLE size {segmentation['size']} differs from the image's [height, width] [{height}, {width}]"
    counts = segmentation["counts"]
    if isinstance(counts, list):
        if not all(_is_int(c) and c >= 0 for c in counts) or sum(counts) != height * width:
            return f"uncompressed RLE counts do not add up to the image's {height * width} pixels"
    elif not isinstance(counts, str | bytes):
        return "RLE counts are neither a string (compressed) nor a list (uncompressed)"
    return None


def _suspicious(index: CocoIndex, ann: dict[str, Any], image: dict[str, Any]) -> list[Found]:
    found = []
    where = f"annotation {ann['id']} (image {image['file_name']})"
    segmentation = ann["segmentation"]
    if isinstance(segmentation, list):
        short = [len(p) // 2 for p in segmentation if len(p) < 6]
        if short or not segmentation:
            found.append(_found(index, f"{where} has a polygon of {short[0] if short else 0} point(s); a polygon needs at least 3",
                                "redraw the polygon or delete it"))
    if ann.get("bbox") is not None:
        x, y, w, h = ann["bbox"]
        width, height = image["width"], image["height"]
        if x < -BOX_SLACK or y < -BOX_SLACK or x + w > width + BOX_SLACK or y + h > height + BOX_SLACK or w < 0 or h < 0:
            problem = f"{where} has box [x, y, w, h] = {ann['bbox']} outside the {width}x{height} image"
            found.append(_found(index, problem, "clip the box to the image (or recompute it from the mask)"))
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
