"""``coco``: COCO panoptic folders — a panoptic JSON, a folder of segment-id PNGs and a folder of images.

Layout (the official one; ``annotation_file``, ``png_dir`` and ``image_dir`` point anywhere else)::

    root/
      annotations/panoptic_train2017.json   panoptic_val2017.json
      annotations/panoptic_train2017/  000000000009.png ...      (id = R + 256·G + 256²·B, 0 = void)
      train2017/  000000000009.jpg ...

A split is read whole from its own file when that file exists. Without ``panoptic_val2017.json``,
``"train"`` and ``"val"`` are carved from the train file (``val_fraction``, seeded, as the instance
``coco`` does) and ``"all"`` is the whole file; a file given as ``annotation_file`` is always such a pool.
Classes are the categories in ascending id order (``category_ids`` maps them back), things those with
``isthing: 1``. The file and the PNGs are read and checked by :mod:`pixelwise.data.panoptic_format`: an
id in a PNG missing from ``segments_info`` or the reverse, an unknown category or a size mismatch is one
line naming the file and segment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pixelwise.data.files import require_root
from pixelwise.data.instances.coco import ListedImages, _under
from pixelwise.data.panoptic.base import (
    PanopticDataset,
    PanopticTransform,
    Target,
    panoptic_info,
    panoptic_target,
)
from pixelwise.data.panoptic.registry import register_panoptic_dataset
from pixelwise.data.panoptic_format import load_panoptic_pair, read_panoptic_json
from pixelwise.data.splits import holdout
from pixelwise.errors import PixelwiseError

POOL = "all"
_LAYOUT = "annotations/panoptic_{split}2017.json, annotations/panoptic_{split}2017/ (PNGs) and {split}2017/ (images)"


class CocoPanoptic(ListedImages, PanopticDataset):
    """The images of one split of a COCO panoptic file with their segments.

    Args:
        data: The checked JSON (:func:`~pixelwise.data.panoptic_format.read_panoptic_json`).
        images: The split's ``images`` entries (each has an annotation).
        source: The JSON file, for messages.
        png_dir: The folder of the segment-id PNGs.
        image_dir: The folder image ``file_name`` is relative to.
        transform: ``(image, target) -> (image, target)``.
    """

    def __init__(
        self,
        *,
        data: dict[str, Any],
        images: list[dict[str, Any]],
        source: Path,
        png_dir: Path,
        image_dir: Path,
        transform: PanopticTransform | None = None,
    ) -> None:
        super().__init__(transform=transform)
        if not images:
            raise PixelwiseError(f"COCO panoptic file {source} lists no image in this split; check the file and the split")
        categories = sorted(data["categories"], key=lambda c: c["id"])
        self.data, self.images, self.source, self.png_dir, self.image_dir = data, images, source, png_dir, image_dir
        self.name = str(source)
        self._categories = categories
        self.category_ids = [c["id"] for c in categories]
        self.things = tuple(k for k, c in enumerate(categories) if c["isthing"])
        palette = [tuple(c["color"]) for c in categories] if all(_is_colour(c.get("color")) for c in categories) else None
        self.info = panoptic_info([c["name"] for c in categories], palette=palette)
        self._class = {c["id"]: k for k, c in enumerate(categories)}
        self._annotations = {a["image_id"]: a for a in data["annotations"]}

    def load(self, index: int) -> tuple[Tensor, Target]:
        entry = self.images[index]
        image = self.read_listed_image(index)
        height, width = int(entry["height"]), int(entry["width"])
        ids, segments = load_panoptic_pair(annotation=self._annotations[entry["id"]], png_dir=self.png_dir,
                                           categories=self._categories, size=(height, width))  # fmt: skip
        info = [{"id": s["id"], "category_id": self._class[s["category_id"]],
                 "isthing": self._class[s["category_id"]] in self.things, "iscrowd": s["iscrowd"]} for s in segments]  # fmt: skip
        return image, panoptic_target(segments=torch.from_numpy(ids).to(torch.int32), segments_info=info, image_id=entry["id"])


@register_panoptic_dataset("coco")
def coco(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PanopticTransform | None = None,
    annotation_file: str | Path | None = None,
    png_dir: str | Path | None = None,
    image_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> CocoPanoptic:
    """Open a split of a COCO panoptic file.

    Args:
        root: The folder holding ``annotations/`` and the image folders (relative paths are taken from here).
        split: ``"train"``, ``"val"`` (read whole, or carved when there is no val file) or ``"all"``.
        transform: ``(image, target) -> (image, target)``.
        annotation_file: The panoptic JSON, a pool from which ``"train"`` and ``"val"`` are carved
            (default: ``root/annotations/panoptic_{split}2017.json``).
        png_dir: The folder of the PNGs (default: the JSON's path without ``.json``).
        image_dir: The folder image ``file_name`` is relative to (default: ``root/NAME`` for
            ``panoptic_NAME.json``, e.g. ``val2017/``; ``root/images`` for other names).
        val_fraction, seed: The hold-out carved from a pool.
    """
    base = Path(root).expanduser() if root is not None else None
    if annotation_file is None or (base is None and (png_dir is None or image_dir is None)):
        base = require_root(root, dataset="coco (panoptic)", layout=_LAYOUT)
    if annotation_file is not None:
        path, pooled = _under(base, annotation_file), True
    else:
        assert base is not None
        folder = base / "annotations"
        pooled = split in (POOL, "train", "val") and not (folder / "panoptic_val2017.json").is_file()
        path = folder / f"panoptic_{'train' if pooled else split}2017.json"
        if not path.is_file():
            found = sorted(p.name for p in folder.glob("panoptic_*.json")) if folder.is_dir() else []
            raise PixelwiseError(f"COCO panoptic split {split!r} has no file {path}; found: {', '.join(found) or 'none'}")
    data = read_panoptic_json(path)
    pngs = _under(base, png_dir) if png_dir is not None else path.with_suffix("")
    if not pngs.is_dir():
        raise PixelwiseError(f"COCO panoptic PNG folder {pngs} not found; put the PNGs there or pass png_dir=PATH")
    stem = path.stem[len("panoptic_"):] if path.stem.startswith("panoptic_") else "images"
    images_folder = _under(base, image_dir) if image_dir is not None else (base if base is not None else path.parent.parent) / stem
    if not images_folder.is_dir():
        raise PixelwiseError(f"COCO image folder {images_folder} not found; put the images there or pass image_dir=PATH")
    images = _annotated_images(data, source=path)
    if pooled:
        chosen = set(holdout([e["file_name"] for e in images], split=split, pool=POOL, val_fraction=val_fraction, seed=seed))
        images = [e for e in images if e["file_name"] in chosen]
    return CocoPanoptic(data=data, images=images, source=path, png_dir=pngs, image_dir=images_folder, transform=transform)


def _annotated_images(data: dict[str, Any], *, source: Path) -> list[dict[str, Any]]:
    """The ``images`` entries, each checked to have an id, a size, a file name and an annotation."""
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise PixelwiseError(f"{source}: no 'images' list; a panoptic truth lists {{id, file_name, width, height}} per image")
    annotated = {a["image_id"] for a in data["annotations"]}
    for index, entry in enumerate(images):
        if not isinstance(entry, dict) or not all(key in entry for key in ("id", "file_name", "width", "height")):
            raise PixelwiseError(f"{source}: images entry {index} lacks id, file_name, width or height; give all four")
        if entry["id"] not in annotated:
            raise PixelwiseError(f"{source}: image {entry['id']} ({entry['file_name']}) has no annotation; add its "
                                 "segments_info and PNG, or remove the image")  # fmt: skip
    return images


def _is_colour(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in value)
