"""``coco``: COCO instances — a JSON annotation file and a folder of images.

Layout (the official one; ``annotation_file`` and ``image_dir`` point anywhere else)::

    root/
      annotations/instances_train2017.json   instances_val2017.json
      train2017/   000000000009.jpg ...
      val2017/     ...

A split is read whole from its own file when that file exists. When there is no
``instances_val2017.json``, ``"train"`` and ``"val"`` are carved from the train file (``val_fraction``,
seeded, the same on every machine) and ``"all"`` is the whole train file; a file given as
``annotation_file`` is always such a pool. Category ids become contiguous labels 1..K in
sorted id order (``category_ids`` maps them back); crowd regions are kept with ``iscrowd=1``;
images without annotations are kept with empty targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from pixelwise.data.decode import read_image
from pixelwise.data.files import require_root
from pixelwise.data.instances.base import (
    Found,
    InstanceDataset,
    InstanceTransform,
    Target,
    instance_info,
    make_target,
)
from pixelwise.data.instances.coco_file import CocoIndex, decode_segmentation, read_coco
from pixelwise.data.instances.registry import register_instance_dataset, register_instance_splits
from pixelwise.data.splits import holdout, resolve_listed
from pixelwise.errors import PixelwiseError

POOL = "all"
BadAnnotations = Literal["error", "skip"]
_LAYOUT = "annotations/instances_{split}2017.json and {split}2017/"


class ListedImages:
    """Images listed in a COCO JSON (``images`` entries, ``image_dir``, ``name``): length, entries, paths kept
    inside the folder, and reading with the listed size checked. Shared by the instance and panoptic readings."""

    images: list[dict[str, Any]]
    image_dir: Path
    name: str

    def __len__(self) -> int:
        return len(self.images)

    def image_info(self, index: int) -> dict[str, Any]:
        entry = self.images[index]
        return {key: entry[key] for key in ("id", "width", "height", "file_name")}

    def image_path(self, index: int) -> Path:
        entry = self.images[index]
        return resolve_listed(self.image_dir, entry["file_name"], where=f"{self.name} image {entry['id']}")

    def read_listed_image(self, index: int) -> Tensor:
        """Image ``index`` as ``uint8 (3, H, W)``, refused in one line when its size is not the listed one."""
        entry = self.images[index]
        path = self.image_path(index)
        image = read_image(path)
        height, width = int(entry["height"]), int(entry["width"])
        if tuple(image.shape[-2:]) != (height, width):
            hint = " (rotated by its EXIF orientation tag? strip the tag)" if tuple(image.shape[-2:]) == (width, height) else ""
            raise PixelwiseError(
                f"image {path} is {image.shape[-1]}x{image.shape[-2]} but {self.name} says {width}x{height}{hint}; "
                "fix the entry's width/height or restore the original image"
            )
        return image


class CocoDataset(ListedImages, InstanceDataset):
    """The images of one split of a COCO file with their annotations.

    Args:
        index: The parsed file (:func:`~pixelwise.data.instances.coco_file.read_coco`).
        images: The split's image entries.
        image_dir: The folder ``file_name`` is relative to.
        transform: ``(image, target) -> (image, target)``.
    """

    def __init__(
        self, *, index: CocoIndex, images: list[dict[str, Any]], image_dir: Path, transform: InstanceTransform | None = None
    ) -> None:
        super().__init__(transform=transform)
        if not images:
            raise PixelwiseError(f"COCO annotation file {index.path} lists no usable image; check the file and the split")
        self.index = index
        self.images = images
        self.image_dir = image_dir
        self.name = str(index.path)
        self.category_ids = [0] + [c["id"] for c in index.categories]
        self._labels = {category_id: label for label, category_id in enumerate(self.category_ids)}
        self.info = instance_info([c["name"] for c in index.categories])

    def load(self, index: int) -> tuple[Tensor, Target]:
        entry = self.images[index]
        image = self.read_listed_image(index)
        height, width = entry["height"], entry["width"]
        annotations = self.index.annotations.get(entry["id"], [])
        masks = [self._decode(a, entry) for a in annotations]
        target = make_target(
            masks=torch.from_numpy(np.stack(masks) if masks else np.zeros((0, height, width), dtype=np.uint8)),  # (N, H, W)
            labels=[self._labels[a["category_id"]] for a in annotations],
            image_id=entry["id"],
            iscrowd=[a.get("iscrowd", 0) for a in annotations],
        )
        with_box = [i for i, a in enumerate(annotations) if a.get("bbox") is not None]  # the rest keep their mask's box
        if with_box:  # the file's boxes, clipped to the image
            xywh = torch.tensor([annotations[i]["bbox"] for i in with_box], dtype=torch.float32)  # (M, 4)
            boxes = tv_tensors.BoundingBoxes(xywh, format="XYWH", canvas_size=(height, width))
            target["boxes"][with_box] = F.clamp_bounding_boxes(F.convert_bounding_box_format(boxes, new_format="XYXY"))
        has_area = [i for i, a in enumerate(annotations) if "area" in a]
        target["area"][has_area] = torch.tensor([float(annotations[i]["area"]) for i in has_area], dtype=torch.float32)
        return image, target

    def _decode(self, annotation: dict[str, Any], image: dict[str, Any]) -> np.ndarray:
        try:
            return decode_segmentation(annotation["segmentation"], height=image["height"], width=image["width"])
        except (TypeError, ValueError) as error:  # coordinates that are not numbers, a damaged RLE string
            raise PixelwiseError(
                f"{self.name}: annotation {annotation['id']} (image {image['file_name']}) has a segmentation "
                f"pycocotools cannot decode ({error}); fix or delete the annotation"
            ) from None

    def instance_names(self, index: int, target: Target) -> list[str]:
        entry = self.images[index]
        return [f"annotation {a['id']} (image {entry['file_name']})" for a in self.index.annotations.get(entry["id"], [])]

    def source_problems(self) -> list[Found]:
        return self.index.unusable + self.index.suspicious


@register_instance_splits("coco")
def coco_splits(*, root: Path | None, annotation_file: str | None = None) -> list[str]:
    if annotation_file is not None:
        return [POOL]
    folder = require_root(root, dataset="coco", layout=_LAYOUT) / "annotations"
    files = sorted(folder.glob("instances_*2017.json")) if folder.is_dir() else []
    found = [p.name[len("instances_") : -len("2017.json")] for p in files]
    if "train" in found and "val" not in found:
        found = [POOL if s == "train" else s for s in found]
    if not found:
        raise PixelwiseError(f"no COCO annotation file under {folder}; expected {_LAYOUT}, or pass annotation_file=PATH")
    return found


@register_instance_dataset("coco")
def coco(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: InstanceTransform | None = None,
    annotation_file: str | Path | None = None,
    image_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    bad_annotations: BadAnnotations = "error",
) -> CocoDataset:
    """Open a split of a COCO instances file.

    Args:
        root: The folder holding ``annotations/`` and the image folders (relative ``annotation_file``
            and ``image_dir`` are taken from here).
        split: ``"train"``, ``"val"`` (read whole, or carved when there is no val file) or ``"all"``.
        transform: ``(image, target) -> (image, target)``.
        annotation_file: The JSON file, a pool from which ``"train"`` and ``"val"`` are carved
            (default: ``root/annotations/instances_{split}2017.json``).
        image_dir: The folder ``file_name`` is relative to (default: ``root/NAME`` for
            ``instances_NAME.json``, e.g. ``train2017/``).
        val_fraction, seed: The hold-out carved from a pool.
        bad_annotations: ``"error"`` refuses a file with an unusable entry (unknown image or
            category, duplicate id, malformed segmentation), naming it; ``"skip"`` leaves such
            entries out (``pixelwise data verify --task instance`` lists them all).
    """
    if bad_annotations not in ("error", "skip"):
        raise PixelwiseError(f"bad_annotations={bad_annotations!r} is not valid; choose error or skip")
    base = Path(root).expanduser() if root is not None else None
    if annotation_file is None or (image_dir is None and base is None):
        base = require_root(root, dataset="coco", layout=_LAYOUT)
    if annotation_file is not None:
        path, pooled = _under(base, annotation_file), True
    else:
        assert base is not None
        folder = base / "annotations"
        pooled = split in (POOL, "train", "val") and not (folder / "instances_val2017.json").is_file()
        path = folder / f"instances_{'train' if pooled else split}2017.json"
        if not path.is_file():
            found = ", ".join(coco_splits(root=base)) if folder.is_dir() else "none"
            raise PixelwiseError(f"COCO split {split!r} has no annotation file {path}; splits found: {found}")
    index = read_coco(path)
    if index.unusable and bad_annotations == "error":
        _, where, problem, fix = index.unusable[0]
        raise PixelwiseError(
            f"{where}: {problem}; {fix} ({len(index.unusable)} unusable entries in all; pass bad_annotations='skip' "
            "to leave them out, `pixelwise data verify --task instance` lists them)"
        )
    images_folder = _under(base, image_dir) if image_dir is not None else _default_image_dir(path, base)
    if not images_folder.is_dir():
        raise PixelwiseError(f"COCO image folder {images_folder} not found; put the images there or pass image_dir=PATH")
    images = index.images
    if pooled:
        chosen = set(holdout([e["file_name"] for e in images], split=split, pool=POOL, val_fraction=val_fraction, seed=seed))
        images = [e for e in images if e["file_name"] in chosen]
    return CocoDataset(index=index, images=images, image_dir=images_folder, transform=transform)


def _under(base: Path | None, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _default_image_dir(annotation_file: Path, base: Path | None) -> Path:
    stem = annotation_file.stem
    name = stem[len("instances_"):] if stem.startswith("instances_") else "images"
    return (base if base is not None else annotation_file.parent.parent) / name
