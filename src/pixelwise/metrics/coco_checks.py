"""Check a COCO ground truth and a results list before pycocotools sees them.

pycocotools answers bad input with a bare ``AssertionError``, an ``IndexError`` deep inside
``loadRes``, or, worse, with a silently wrong score (a detection of an unknown category is
dropped; an annotation with id 0 can never be matched). These checks turn each case into one
:class:`PixelwiseError` line naming the file, the entry and the fix, and return normalised
copies: every annotation gets ``iscrowd``, ``area``, ``bbox``, a fresh id ``1 .. N`` and its mask
as compressed RLE with ``str`` counts (still JSON-ready).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pixelwise.errors import PixelwiseError
from pixelwise.metrics.rle import rle_area, rle_to_box, segmentation_to_rle


@dataclass(frozen=True)
class CheckedGroundTruth:
    """A checked ground truth.

    Attributes:
        dataset: ``{"images", "annotations", "categories"}``, annotations numbered ``1 .. N``.
        sizes: ``image id -> (height, width)``.
        category_names: ``category id -> name``, in ascending id order (COCOeval's order).
        has_segmentation: Every annotation has a mask, so mask AP can be computed.
        source: How errors name it (a path or "ground truth").
    """

    dataset: dict[str, Any]
    sizes: dict[int, tuple[int, int]]
    category_names: dict[int, str]
    has_segmentation: bool
    source: str


@dataclass(frozen=True)
class CheckedResults:
    """A checked results list: ``results`` (copies, RLE counts as bytes), and whether every detection has a box / a mask."""

    results: list[dict[str, Any]]
    has_bbox: bool
    has_segmentation: bool


def check_ground_truth(dataset: Any, *, source: str) -> CheckedGroundTruth:
    """Check a COCO ground-truth dict and return a normalised copy (see the module docstring)."""
    if not isinstance(dataset, dict):
        hint = "; did you swap the ground truth and the results?" if isinstance(dataset, list) else ""
        raise PixelwiseError(
            f"{source}: a COCO ground truth is an object with images, annotations and categories, "
            f"found a {type(dataset).__name__}{hint}"
        )
    for key in ("images", "categories"):
        if not isinstance(dataset.get(key), list) or not dataset[key]:
            raise PixelwiseError(f"{source}: no {key!r} list; a COCO ground truth lists its images and categories")
    annotations = dataset.get("annotations", [])
    if not isinstance(annotations, list):
        raise PixelwiseError(f"{source}: 'annotations' is a {type(annotations).__name__}; it must be a list")

    sizes: dict[int, tuple[int, int]] = {}
    for index, image in enumerate(dataset["images"]):
        where = f"{source}: image {index}"
        if not isinstance(image, dict) or not all(k in image for k in ("id", "width", "height")):
            raise PixelwiseError(f"{where} needs 'id', 'width' and 'height'; found {_show(image)}")
        image_id = _int(image["id"], f"{where} 'id'")
        if image_id in sizes:
            raise PixelwiseError(f"{where}: id {image_id} is used twice; give every image its own id")
        height, width = _int(image["height"], f"{where} 'height'"), _int(image["width"], f"{where} 'width'")
        if height < 1 or width < 1:
            raise PixelwiseError(f"{where}: size {width}x{height} is empty; give the image's width and height in pixels")
        sizes[image_id] = (height, width)

    names: dict[int, str] = {}
    for index, category in enumerate(dataset["categories"]):
        where = f"{source}: category {index}"
        if not isinstance(category, dict) or "id" not in category:
            raise PixelwiseError(f"{where} needs an 'id' (and a 'name'); found {_show(category)}")
        category_id = _int(category["id"], f"{where} 'id'")
        name = str(category.get("name", category_id))
        if category_id in names:
            raise PixelwiseError(f"{where}: id {category_id} is used twice; give every category its own id")
        if name in names.values():
            raise PixelwiseError(f"{where}: name {name!r} is used twice; give every category its own name")
        names[category_id] = name

    checked = []
    for index, annotation in enumerate(annotations):
        where = f"{source}: annotation {index}"
        if not isinstance(annotation, dict):
            raise PixelwiseError(f"{where} is a {type(annotation).__name__}; annotations are objects")
        image_id = _known(annotation, "image_id", sizes, where, f"{source} lists no such image; add the image")
        category_id = _known(annotation, "category_id", names, where, f"its categories are {_ids(names)}")
        height, width = sizes[image_id]
        copy = dict(annotation, image_id=image_id, category_id=category_id, id=len(checked) + 1)
        copy["iscrowd"] = int(bool(annotation.get("iscrowd", 0)))
        rle = None
        if "segmentation" in annotation:
            try:
                rle = segmentation_to_rle(annotation["segmentation"], height=height, width=width)
            except PixelwiseError as error:
                raise PixelwiseError(f"{where} (image {image_id}): {error}") from None
            # Polygons become RLE here: pycocotools would read a 4-number polygon as a box.
            copy["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        if "bbox" in annotation:
            copy["bbox"] = _box(annotation["bbox"], where)
        elif rle is not None:
            copy["bbox"] = [float(v) for v in rle_to_box(rle, fmt="xywh")]
        else:
            raise PixelwiseError(f"{where} has neither 'bbox' nor 'segmentation'; give the instance's box or mask")
        if "area" in annotation:
            copy["area"] = _number(annotation["area"], f"{where} 'area'")
        else:
            copy["area"] = float(rle_area(rle)) if rle is not None else copy["bbox"][2] * copy["bbox"][3]
        checked.append(copy)
    has_segmentation = all("segmentation" in a for a in checked)
    normalised = {
        "images": [dict(image) for image in dataset["images"]],
        "annotations": checked,
        "categories": [dict(category, name=names[_int(category["id"], "")]) for category in dataset["categories"]],
    }
    return CheckedGroundTruth(
        dataset=normalised, sizes=sizes, category_names=dict(sorted(names.items())),
        has_segmentation=has_segmentation, source=source,
    )  # fmt: skip


def check_results(results: Any, *, ground_truth: CheckedGroundTruth, source: str) -> CheckedResults:
    """Check a COCO results list against its ground truth and return normalised copies.

    Every detection needs ``image_id`` and ``category_id`` known to the ground truth, a finite
    ``score``, and a ``bbox`` (xywh) and/or a ``segmentation`` (any COCO form, at its image's size).
    """
    if not isinstance(results, list):
        hint = ""
        if isinstance(results, dict) and "annotations" in results:
            hint = " (this looks like a ground truth; did you swap the ground truth and the results?)"
        raise PixelwiseError(
            f"{source}: results must be a list of detections {{image_id, category_id, bbox, segmentation, score}}, "
            f"found a {type(results).__name__}{hint}"
        )
    gt = ground_truth
    checked = []
    for index, result in enumerate(results):
        where = f"{source}: detection {index}"
        if not isinstance(result, dict):
            raise PixelwiseError(f"{where} is a {type(result).__name__}; detections are objects")
        image_id = _known(result, "image_id", gt.sizes, where, f"score against the ground truth of the same images ({gt.source})")
        category_id = _known(
            result, "category_id", gt.category_names, where,
            f"{gt.source} defines categories {_ids(gt.category_names)}; map model labels to the dataset's category ids",
        )  # fmt: skip
        if "score" not in result:
            raise PixelwiseError(f"{where} has no 'score'; COCO AP ranks detections by their confidence")
        copy = {"image_id": image_id, "category_id": category_id, "score": _number(result["score"], f"{where} 'score'")}
        if "bbox" in result:
            copy["bbox"] = _box(result["bbox"], where)
        if "segmentation" in result:
            height, width = gt.sizes[image_id]
            try:
                copy["segmentation"] = segmentation_to_rle(result["segmentation"], height=height, width=width)
            except PixelwiseError as error:
                raise PixelwiseError(f"{where} (image {image_id}): {error}") from None
        if "bbox" not in copy and "segmentation" not in copy:
            raise PixelwiseError(f"{where} has neither 'bbox' nor 'segmentation'; give the detection's box or mask")
        checked.append(copy)
    return CheckedResults(
        results=checked,
        has_bbox=all("bbox" in r for r in checked),
        has_segmentation=all("segmentation" in r for r in checked),
    )


def _known(entry: dict[str, Any], key: str, known: dict[int, Any], where: str, fix: str) -> int:
    if key not in entry:
        raise PixelwiseError(f"{where} has no {key!r}; {fix}")
    value = _int(entry[key], f"{where} {key!r}")
    if value not in known:
        raise PixelwiseError(f"{where} has {key} {value}, which is unknown; {fix}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise PixelwiseError(f"{where} is {_show(value)}, not an integer")
    return int(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PixelwiseError(f"{where} is {_show(value)}, not a finite number")
    return float(value)


def _box(box: Any, where: str) -> list[float]:
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise PixelwiseError(f"{where}: bbox {_show(box)} is not [x, y, width, height]")
    values = [_number(v, f"{where} bbox") for v in box]
    if values[2] < 0 or values[3] < 0:
        raise PixelwiseError(f"{where}: bbox {values} has a negative size; COCO boxes are [x, y, width, height], not corners")
    return values


def _ids(names: dict[int, Any]) -> str:
    ids = sorted(names)
    return ", ".join(map(str, ids[:12])) + (f", ... ({len(ids)} in all)" if len(ids) > 12 else "")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
