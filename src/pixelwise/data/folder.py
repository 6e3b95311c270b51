"""``folder``: any folder of images and masks matched by file stem — the format for your own data.

Layout (``images`` and ``masks`` are the default folder names)::

    root/
      images/   a.jpg b.png ...            or  images/train/ images/val/ ...
      masks/    a.png b.png ...            or  masks/train/  masks/val/  ...
      classes.txt        optional: one class name per line, in label order
      colors.yaml        optional: colour table for RGB colour masks (or colors.yml / colors.json)
      splits/train.txt   optional: list files of image stems (or train.txt next to images/)

Masks are either index masks (one class index per pixel: 8- or 16-bit greyscale or palette
PNGs) or RGB colour masks with a colour table::

    classes:                 # name: [R, G, B], in label order
      background: [0, 0, 0]
      road: [128, 64, 128]
    ignore: [[255, 255, 255]]  # optional: colours that are not scored

Splits come from sub-folders of ``images/`` when there are any, else from list files, else
the folder is one pool called ``"all"`` from which ``"train"`` and ``"val"`` are carved
(``val_fraction``, seeded: the same on every machine).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, Sample, pair_by_stem, require_root
from pixelwise.data.labels import RGB, ColorTable, voc_palette
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import holdout, read_list
from pixelwise.errors import PixelwiseError

POOL = "all"
COLOR_TABLE_NAMES = ("colors.yaml", "colors.yml", "colors.json")
_LIST_SPLITS = ("train", "val", "test", "trainval")
_LAYOUT = "images/ and masks/ matched by stem"


@register_splits("folder")
def folder_splits(*, root: Path | None, image_dir: str = "images") -> list[str]:
    root = require_root(root, dataset="folder", layout=_LAYOUT)
    subfolders = _subfolders(root / image_dir)
    if subfolders:
        return subfolders
    listed = sorted(p.stem for p in (root / "splits").glob("*.txt")) if (root / "splits").is_dir() else []
    return listed or [s for s in _LIST_SPLITS if (root / f"{s}.txt").is_file()] or [POOL]


@register_dataset("folder")
def folder(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    image_dir: str = "images",
    mask_dir: str = "masks",
    mask_suffix: str = "",
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    colors: str | Path | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    channels: int = 3,
    val_fraction: float = 0.1,
    seed: int = 0,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open a split of a folder of images and masks.

    Args:
        root: The folder holding ``image_dir`` and ``mask_dir``.
        split: A sub-folder or list-file name, or ``"all"`` / ``"train"`` / ``"val"`` for a flat folder.
        transform: Paired transform.
        image_dir, mask_dir: Names of the image and mask folders under ``root``.
        mask_suffix: Text after the image stem in mask names (``"_mask"`` for ``a.jpg`` + ``a_mask.png``).
        num_classes: Number of classes when neither ``class_names``, ``classes.txt`` nor a colour table names them.
        class_names: Class names in label order (default: ``root/classes.txt``).
        colors: Colour table file for RGB colour masks (default: ``root/colors.yaml``/``.yml``/``.json`` if present).
        ignore_index: Mask value that is not scored (``None``: none).
        channels: 3 (images converted to RGB) or 1 (greyscale).
        val_fraction, seed: The hold-out carved from a flat folder's pool.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = require_root(root, dataset="folder", layout=_LAYOUT)
    if channels not in (1, 3):
        raise PixelwiseError(f"folder channels={channels} is not valid; choose 3 (RGB) or 1 (greyscale)")
    table_file = Path(colors) if colors is not None else next((path / n for n in COLOR_TABLE_NAMES if (path / n).is_file()), None)
    table_names, table = load_color_table(table_file, ignore_index=ignore_index) if table_file is not None else ((), None)
    names = _class_names(path, table_names=table_names, class_names=class_names, num_classes=num_classes)
    palette = tuple(table.colors) if table is not None else voc_palette(len(names))
    info = DatasetInfo(class_names=names, palette=palette, ignore_index=ignore_index, image_channels=channels)
    samples, source = _find_samples(path, split, image_dir, mask_dir, mask_suffix, val_fraction, seed)
    return FileDataset(
        samples=samples, info=info, source=source, colors=table,
        missing_masks=missing_masks, transform=transform, cache=cache,
    )  # fmt: skip


def load_color_table(path: Path, *, ignore_index: int | None = IGNORE_INDEX) -> tuple[tuple[str, ...], ColorTable]:
    """Read a colour table file (YAML or JSON; see the module docstring) -> ``(class names, table)``."""
    if not path.is_file():
        raise PixelwiseError(f"colour table {path} not found; check the colors= path")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise PixelwiseError(f"colour table {path} cannot be parsed ({error}); fix its syntax") from error
    example = "classes: {background: [0, 0, 0], road: [128, 64, 128]}"
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict) or not data["classes"]:
        raise PixelwiseError(f"colour table {path} needs a 'classes' mapping of name -> [R, G, B], e.g. {example}")
    try:
        colors: list[RGB] = [_rgb(v) for v in data["classes"].values()]
        ignore = [_rgb(v) for v in data.get("ignore") or []]
    except (TypeError, ValueError) as error:
        raise PixelwiseError(f"colour table {path}: every colour must be [R, G, B] with 0..255 values ({error})") from error
    if ignore and ignore_index is None:
        raise PixelwiseError(f"colour table {path} lists ignore colours but ignore_index is None; set an ignore index")
    table = ColorTable(colors, ignore_colors=ignore, ignore_index=IGNORE_INDEX if ignore_index is None else ignore_index)
    return tuple(str(name) for name in data["classes"]), table


def _rgb(value: object) -> RGB:
    r, g, b = (int(v) for v in value)  # type: ignore[union-attr]
    return (r, g, b)


def _class_names(
    path: Path, *, table_names: tuple[str, ...], class_names: Sequence[str] | None, num_classes: int | None
) -> tuple[str, ...]:
    if table_names:
        names = table_names
    elif class_names is not None:
        names = tuple(class_names)
    elif (path / "classes.txt").is_file():
        names = tuple(read_list(path / "classes.txt"))
    elif num_classes is not None:
        names = tuple(f"class_{i}" for i in range(num_classes))
    else:
        raise PixelwiseError(
            f"folder dataset {path} does not say its classes: add classes.txt (one name per line), "
            "a colour table colors.yaml, or pass num_classes"
        )
    if num_classes is not None and num_classes != len(names):
        raise PixelwiseError(f"num_classes={num_classes} but {len(names)} class names are given for {path}; make them agree")
    if not names:
        raise PixelwiseError(f"the class list of {path} is empty; name at least one class")
    return names


def _subfolders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _find_samples(
    root: Path, split: str, image_dir: str, mask_dir: str, mask_suffix: str, val_fraction: float, seed: int
) -> tuple[list[Sample], str]:
    images = root / image_dir
    if not images.is_dir():
        raise PixelwiseError(f"folder dataset {root} has no {image_dir}/ folder; put the images in {images}")
    subfolders = _subfolders(images)
    if subfolders:
        if split not in subfolders:
            raise PixelwiseError(f"split {split!r} not found in {images}; choose one of {', '.join(subfolders)}")
        return pair_by_stem(images / split, root / mask_dir / split, mask_suffix=mask_suffix), str(images / split)
    pool = pair_by_stem(images, root / mask_dir, mask_suffix=mask_suffix)
    listed = next((p for p in (root / "splits" / f"{split}.txt", root / f"{split}.txt") if p.is_file()), None)
    if listed is not None:
        by_name = {s.name: s for s in pool} | {s.image.name: s for s in pool}
        wanted = read_list(listed)
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            raise PixelwiseError(f"{listed} names {len(unknown)} image(s) not in {images}, e.g. {unknown[0]!r}; fix the list")
        return [by_name[name] for name in wanted], str(listed)
    chosen = set(holdout([s.name for s in pool], split=split, pool=POOL, val_fraction=val_fraction, seed=seed))
    return [s for s in pool if s.name in chosen], str(images)
