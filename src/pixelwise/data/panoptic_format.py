"""The COCO panoptic format: one RGB PNG of segment ids per image plus one JSON of segments and categories.

A PNG pixel's colour is its segment id, ``id = R + 256·G + 256²·B``; id 0 (black) is *void*: no
segment (unlabelled in the truth, "no prediction" in a prediction). The JSON is::

    {"images": [{"id", "width", "height", "file_name"}],          # optional in predictions
     "annotations": [{"image_id", "file_name": "x.png",
                      "segments_info": [{"id", "category_id", "iscrowd", "area", "bbox": [x, y, w, h]}]}],
     "categories": [{"id", "name", "isthing": 0 | 1, "color"?: [r, g, b]}]}

Every reader checks its input and raises :class:`~pixelwise.errors.PixelwiseError` with one line
naming the file, the image and the segment: an id in the PNG missing from ``segments_info`` or the
reverse, an unknown category, a size mismatch, a segment id listed twice. Writers compute ``area``
and ``bbox`` from the id map and write atomically.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.utils.atomic import atomic_path, atomic_write_json

VOID = 0
"""The segment id of pixels that belong to no segment (black in the PNG)."""

MAX_SEGMENT_ID = 256**3 - 1
"""The largest id three 8-bit channels can hold."""


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Segment ids -> PNG colours (``R = id % 256``, ``G = id // 256 % 256``, ``B = id // 256²``).

    Shape:
        ids ``(H, W)`` integers in ``0 .. 256³-1`` -> ``(H, W, 3)`` ``uint8``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 256**2 % 256], axis=-1)  # (H, W, 3)
    return rgb.astype(np.uint8)


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """PNG colours -> segment ids (``id = R + 256·G + 256²·B``).

    Shape:
        rgb ``(H, W, 3)`` -> ``(H, W)`` ``int64``.
    """
    rgb = np.asarray(rgb, dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2]


def check_categories(categories: Sequence[dict[str, Any]], *, source: str) -> list[dict[str, Any]]:
    """Every category has an integer ``id``, a ``name`` and ``isthing`` (0/1 or a bool); ids and names are unique.

    Returns:
        The categories as ``{"id": int, "name": str, "isthing": bool}`` (other keys such as ``color`` kept).
    """
    if not isinstance(categories, Sequence) or isinstance(categories, str) or not categories:
        raise PixelwiseError(f"{source}: no categories; give a list of {{id, name, isthing}}, one per class")
    checked: list[dict[str, Any]] = []
    ids: set[int] = set()
    names: set[str] = set()
    for index, category in enumerate(categories):
        if not isinstance(category, dict) or not _is_int(category.get("id")) or not isinstance(category.get("name"), str):
            raise PixelwiseError(f"{source}: category {index} is {category!r}; give {{id: integer, name: text, isthing: 0 or 1}}")
        cid, name, isthing = int(category["id"]), category["name"], category.get("isthing")
        if isthing not in (0, 1):  # True and False compare equal to 1 and 0
            raise PixelwiseError(f"{source}: category {cid} ({name}) has isthing {isthing!r}; set 1 for countable things, 0 for stuff")
        if cid in ids or name in names:
            what = f"id {cid}" if cid in ids else f"name {name!r}"
            raise PixelwiseError(f"{source}: two categories have the {what}; give each category its own id and name")
        ids.add(cid)
        names.add(name)
        checked.append({**category, "id": cid, "name": name, "isthing": bool(isthing)})
    return checked


def check_segments(
    segments: Sequence[dict[str, Any]],
    *,
    present: Iterable[int],
    category_ids: Iterable[int],
    source: str,
    listed_need_pixels: bool = True,
) -> list[dict[str, Any]]:
    """Check one image's ``segments_info`` against the ids present in its map.

    Args:
        segments: ``[{id, category_id, iscrowd?}]``.
        present: The ids found in the map (void, 0, may be among them).
        category_ids: The known category ids.
        source: What to name in messages (the PNG, the image).
        listed_need_pixels: Refuse a listed segment without any pixel (files always; a truth given to
            :class:`~pixelwise.metrics.panoptic_quality.PanopticQuality` may have lost a tiny segment to a
            resize, and panopticapi counts such a segment as missed).

    Returns:
        The segments as ``{"id", "category_id", "iscrowd": 0 | 1}`` (other keys kept), in the given order.
    """
    known = set(category_ids)
    checked: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, segment in enumerate(segments):
        if not isinstance(segment, dict) or not _is_int(segment.get("id")) or not _is_int(segment.get("category_id")):
            raise PixelwiseError(f"{source}: segments_info entry {index} is {segment!r}; give {{id: integer, category_id: integer, iscrowd: 0 or 1}}")
        sid, category_id, iscrowd = int(segment["id"]), int(segment["category_id"]), segment.get("iscrowd", 0)
        if not 1 <= sid <= MAX_SEGMENT_ID:
            raise PixelwiseError(f"{source}: segment id {sid} is out of range; ids are 1 .. {MAX_SEGMENT_ID} (0 is void: no segment)")
        if sid in seen:
            raise PixelwiseError(f"{source}: segment id {sid} is listed twice in segments_info; give each segment its own id")
        if category_id not in known:
            shown = ", ".join(str(c) for c in sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
            raise PixelwiseError(f"{source}: segment {sid} has category_id {category_id}, which is unknown; the categories are {shown}")
        if iscrowd not in (0, 1):
            raise PixelwiseError(f"{source}: segment {sid} has iscrowd {iscrowd!r}; use 1 for a crowd region, 0 otherwise")
        seen.add(sid)
        checked.append({**segment, "id": sid, "category_id": category_id, "iscrowd": int(iscrowd)})
    present = {int(i) for i in present} - {VOID}
    for sid in sorted(present - seen):
        raise PixelwiseError(f"{source}: segment id {sid} is in the PNG but not in segments_info; list it or paint its pixels 0 (void)")
    if listed_need_pixels:
        for sid in sorted(seen - present):
            raise PixelwiseError(f"{source}: segment id {sid} is in segments_info but has no pixel in the PNG; remove it from segments_info")
    return checked


def read_panoptic_json(path: str | os.PathLike[str], *, need_categories: bool = True) -> dict[str, Any]:
    """Read a COCO panoptic JSON and check its structure (segments are checked against the PNGs later).

    Args:
        path: The JSON file.
        need_categories: Refuse a file without ``categories`` (a truth needs them; a prediction may omit them).

    Returns:
        The file's dict, with ``categories`` checked by :func:`check_categories` when present.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelwiseError(f"{path}: panoptic JSON {'is a folder' if path.is_dir() else 'does not exist'}; give the COCO panoptic JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PixelwiseError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}); give a COCO panoptic JSON file") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise PixelwiseError(f"{path}: no 'annotations' list; a COCO panoptic JSON holds {{annotations, categories}}")
    if "categories" in data or need_categories:
        data["categories"] = check_categories(data.get("categories"), source=str(path))
    seen: set[Any] = set()
    for index, annotation in enumerate(data["annotations"]):
        ok = isinstance(annotation, dict) and _is_int(annotation.get("image_id"))
        if not ok or not isinstance(annotation.get("file_name"), str) or not isinstance(annotation.get("segments_info"), list):
            raise PixelwiseError(f"{path}: annotation {index} lacks image_id, file_name or a segments_info list; give all three")
        if annotation["image_id"] in seen:
            raise PixelwiseError(f"{path}: image_id {annotation['image_id']} has two annotations; give one per image")
        seen.add(annotation["image_id"])
    return data


def image_sizes(data: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """``{image_id: (height, width)}`` from a panoptic JSON's ``images`` (empty when it has none)."""
    return {
        image["id"]: (int(image["height"]), int(image["width"]))
        for image in data.get("images") or []
        if isinstance(image, dict) and _is_int(image.get("id")) and _is_int(image.get("height")) and _is_int(image.get("width"))
    }


def read_panoptic_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a panoptic PNG's segment ids.

    Returns:
        ``(H, W)`` ``int64`` ids, 0 = void.

    Raises:
        PixelwiseError: a missing or damaged file, a JPEG (lossy: it changes ids), a file that is not RGB.
    """
    from pixelwise.data.decode import is_jpeg, read_mask

    path = Path(path)
    if not path.is_file():
        raise PixelwiseError(f"{path}: panoptic PNG not found; write one per annotation, named by its file_name")
    if is_jpeg(path):
        raise PixelwiseError(f"{path}: is a JPEG, whose lossy compression changes segment ids; save panoptic maps as PNG")
    mask = read_mask(path)  # (C, H, W)
    if mask.shape[0] != 3 or mask.element_size() != 1:
        raise PixelwiseError(f"{path}: has {mask.shape[0]} channel(s) of {8 * mask.element_size()} bits; a panoptic PNG is 8-bit RGB (no alpha, no palette) with id = R + 256·G + 256²·B")
    return rgb_to_id(mask.permute(1, 2, 0).numpy())


def load_panoptic_pair(
    *,
    annotation: dict[str, Any],
    png_dir: str | os.PathLike[str],
    categories: Sequence[dict[str, Any]],
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Read one annotation's PNG and check it against its ``segments_info``.

    Args:
        annotation: ``{image_id, file_name, segments_info}`` from a panoptic JSON.
        png_dir: The folder of the PNGs.
        categories: The known categories (``id`` used).
        size: ``(height, width)`` the map must have (the image's, from the truth), or ``None``.

    Returns:
        ``(ids (H, W) int64, segments)`` with segments as :func:`check_segments` returns them.
    """
    path = Path(png_dir) / annotation["file_name"]
    ids = read_panoptic_png(path)
    source = f"{path} (image {annotation['image_id']})"
    if size is not None and tuple(ids.shape) != tuple(size):
        raise PixelwiseError(
            f"{source}: size {ids.shape[1]}x{ids.shape[0]} differs from the image's {size[1]}x{size[0]}; "
            "write the panoptic map at the image's resolution"
        )
    segments = check_segments(
        annotation["segments_info"], present=np.unique(ids).tolist(),
        category_ids=[c["id"] for c in categories], source=source,
    )  # fmt: skip
    return ids, segments


def segment_areas_and_boxes(ids: np.ndarray) -> dict[int, tuple[int, list[int]]]:
    """``{segment id: (area, [x, y, w, h])}`` of every non-void id of a map (COCO's pixel-inclusive box)."""
    ids = np.asarray(ids)
    rows, cols = np.nonzero(ids != VOID)
    values = ids[rows, cols]
    labels, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    lo_x, lo_y = np.full(len(labels), np.iinfo(np.int64).max), np.full(len(labels), np.iinfo(np.int64).max)
    hi_x, hi_y = np.full(len(labels), -1), np.full(len(labels), -1)
    np.minimum.at(lo_x, inverse, cols)
    np.minimum.at(lo_y, inverse, rows)
    np.maximum.at(hi_x, inverse, cols)
    np.maximum.at(hi_y, inverse, rows)
    return {
        int(label): (int(count), [int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)])
        for label, count, x0, y0, x1, y1 in zip(labels, counts, lo_x, lo_y, hi_x, hi_y, strict=True)
    }


def write_panoptic(
    out_dir: str | os.PathLike[str],
    *,
    file_name: str,
    segments: np.ndarray,
    segments_info: Sequence[dict[str, Any]],
    image_id: int,
    categories: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Write one image's panoptic PNG atomically and return its JSON annotation.

    Args:
        out_dir: The PNG folder.
        file_name: The PNG's name (ending in ``.png``).
        segments: ``(H, W)`` segment ids (a tensor or an array), 0 = void.
        segments_info: ``[{id, category_id, iscrowd?}]``, one per id of the map.
        image_id: The image's id.
        categories: The categories, ``[{id, name, isthing}]``.

    Returns:
        ``{image_id, file_name, segments_info: [{id, category_id, iscrowd, area, bbox}]}``.
    """
    if not file_name.lower().endswith(".png"):
        raise PixelwiseError(f"panoptic file_name {file_name!r} does not end in .png; panoptic maps are lossless PNGs")
    ids = np.asarray(segments.cpu() if hasattr(segments, "cpu") else segments).astype(np.int64)
    if ids.ndim != 2:
        raise PixelwiseError(f"{file_name}: segments has shape {tuple(ids.shape)}; give one (H, W) map of segment ids")
    path = Path(out_dir) / file_name
    category_ids = [c["id"] for c in check_categories(categories, source="categories")]
    if ids.size and (ids.min() < 0 or ids.max() > MAX_SEGMENT_ID):
        raise PixelwiseError(f"{path}: segment ids must be 0 .. {MAX_SEGMENT_ID}; found {ids.min()} .. {ids.max()}")
    checked = check_segments(segments_info, present=np.unique(ids).tolist(), category_ids=category_ids, source=str(path))
    stats = segment_areas_and_boxes(ids)
    info = [{"id": s["id"], "category_id": s["category_id"], "iscrowd": s["iscrowd"],
             "area": stats[s["id"]][0], "bbox": stats[s["id"]][1]} for s in checked]  # fmt: skip
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(id_to_rgb(ids)).save(tmp, format="PNG")  # (H, W, 3) uint8: RGB
    return {"image_id": image_id, "file_name": file_name, "segments_info": info}


def write_panoptic_json(
    path: str | os.PathLike[str],
    *,
    annotations: Sequence[dict[str, Any]],
    categories: Sequence[dict[str, Any]],
    images: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Write a COCO panoptic JSON atomically.

    Args:
        path: The JSON file.
        annotations: One per image, as :func:`write_panoptic` returns them.
        categories: ``[{id, name, isthing, color?}]``; ``isthing`` is written as 0/1.
        images: ``[{id, width, height, file_name}]`` (lets readers check sizes), or ``None``.

    Returns:
        The destination path.
    """
    checked = check_categories(categories, source=str(path))
    data: dict[str, Any] = {}
    if images is not None:
        data["images"] = list(images)
    data["annotations"] = list(annotations)
    data["categories"] = [{**c, "isthing": int(c["isthing"])} for c in checked]
    atomic_write_json(path, data)
    return Path(path)


def _is_int(value: Any) -> bool:
    """An integer of any kind (Python, NumPy, a one-element integer tensor), but not a bool."""
    if isinstance(value, bool | np.bool_):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True
