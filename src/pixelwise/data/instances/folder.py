"""``folder``: your own instance data — images, instance-id masks and an optional class table.

Layout (``images`` and ``instances`` are the default folder names)::

    root/
      images/      a.jpg b.png ...         or  images/train/ images/val/ ...
      instances/   a.png b.png ...         one id per pixel: 0 = background, 1, 2, ... = instances
      classes.json optional: which class each instance is

``classes.json`` (the shape of the instance-id + table exports of labelling tools)::

    {
      "class_names": ["cat", "dog"],
      "instances": {"a": {"1": "cat", "2": "dog"}, "b": {"1": "dog"}}
    }

``instances`` maps an image's stem to its instance ids (as JSON strings) and each id to a class
name (or its label 1..K). Without ``classes.json`` every instance is class 1, ``"object"``.
Masks are 8- or 16-bit greyscale or palette PNGs of the image's size.

Splits are found as for the semantic ``folder``: sub-folders of ``images/``, list files
(``splits/train.txt``), else one pool ``"all"`` with a seeded ``"train"``/``"val"`` hold-out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pixelwise.data.folder as semantic
from pixelwise.data.instances.base import InstanceTransform
from pixelwise.data.instances.mask_files import BadAnnotations, ClassTable, InstanceMaskFiles, pool_ids
from pixelwise.data.instances.registry import register_instance_dataset, register_instance_splits
from pixelwise.errors import PixelwiseError

CLASSES_FILE = "classes.json"
DEFAULT_CLASS = "object"


@register_instance_splits("folder")
def folder_splits(*, root: Path | None, image_dir: str = "images") -> list[str]:
    return semantic.folder_splits(root=root, image_dir=image_dir)


@register_instance_dataset("folder")
def folder(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: InstanceTransform | None = None,
    image_dir: str = "images",
    instance_dir: str = "instances",
    class_names: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    bad_annotations: BadAnnotations = "error",
) -> InstanceMaskFiles:
    """Open a split of an instance folder.

    Args:
        root: The folder holding ``image_dir``, ``instance_dir`` and optionally ``classes.json``.
        split: A sub-folder or list-file name, or ``"all"`` / ``"train"`` / ``"val"`` for a flat folder.
        transform: ``(image, target) -> (image, target)``.
        image_dir, instance_dir: Names of the image and instance-mask folders under ``root``.
        class_names: Class names in label order (default: ``classes.json``'s, else ``["object"]``).
        val_fraction, seed: The hold-out carved from a flat folder's pool.
        bad_annotations: An image without an instance mask: ``"error"`` or ``"skip"``.
    """
    def open_split(name: str) -> Any:  # the semantic folder finds the files and the splits
        return semantic.folder(
            root=root, split=name, image_dir=image_dir, mask_dir=instance_dir, class_names=[DEFAULT_CLASS],
            val_fraction=val_fraction, seed=seed, missing_masks="ignore",
        )  # fmt: skip

    chosen = open_split(split)
    path = Path(str(root)).expanduser()
    pool = open_split(semantic.POOL).samples if folder_splits(root=path, image_dir=image_dir) == [semantic.POOL] else chosen.samples
    table_file = path / CLASSES_FILE
    names, table = read_classes(table_file, class_names=class_names) if table_file.is_file() else _no_table(class_names, path)
    return InstanceMaskFiles(
        samples=chosen.samples, image_ids=pool_ids(chosen.samples, pool), class_names=names, source=chosen.source,
        classes=table, classes_file=table_file, bad_annotations=bad_annotations, transform=transform,
    )  # fmt: skip


def read_classes(path: Path, *, class_names: Sequence[str] | None = None) -> tuple[tuple[str, ...], ClassTable | None]:
    """Read ``classes.json`` -> ``(class names, image -> instance id -> label)``; see the module docstring.

    Args:
        path: The file.
        class_names: Names that replace the file's ``class_names``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PixelwiseError(f"{path} cannot be read as JSON ({error}); fix its syntax") from None
    example = '{"class_names": ["cat"], "instances": {"IMAGE_STEM": {"1": "cat"}}}'
    shaped = isinstance(data, dict) and isinstance(data.get("class_names", []), list)
    if not shaped or not isinstance(data.get("instances", {}), dict):
        raise PixelwiseError(f"{path} must be an object like {example}")
    names = tuple(str(n) for n in (class_names if class_names is not None else data.get("class_names") or [DEFAULT_CLASS]))
    if "instances" not in data:
        return _no_table(names, path.parent)
    table: dict[str, dict[int, int]] = {}
    for image, entries in data["instances"].items():
        if not isinstance(entries, dict):
            raise PixelwiseError(f"{path}: instances of {image!r} must map instance ids to classes, like {example}")
        table[str(image)] = {_instance_id(path, image, key): _label(path, image, key, value, names) for key, value in entries.items()}
    return names, table


def _no_table(class_names: Sequence[str] | None, root: Path) -> tuple[tuple[str, ...], None]:
    names = tuple(class_names) if class_names is not None else (DEFAULT_CLASS,)
    if len(names) != 1:
        raise PixelwiseError(
            f"{len(names)} class names are given for {root} but no {CLASSES_FILE} 'instances' table says which "
            "instance is which class; add the table, or use one class"
        )
    return names, None


def _instance_id(path: Path, image: str, key: str) -> int:
    try:
        value = int(key)
    except ValueError:
        value = 0
    if value < 1:
        raise PixelwiseError(f"{path}: instance id {key!r} of {image!r} is not a positive whole number (0 is background)")
    return value


def _label(path: Path, image: str, key: str, value: object, names: tuple[str, ...]) -> int:
    if isinstance(value, str) and value in names:
        return names.index(value) + 1
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(names):
        return value
    raise PixelwiseError(
        f"{path}: instance {key} of {image!r} has class {value!r}, which is not one of {list(names)} "
        f"(or a label 1..{len(names)}); fix the entry or the class names"
    )
