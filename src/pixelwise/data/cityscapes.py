"""``cityscapes``: Cityscapes fine annotations (https://www.cityscapes-dataset.com).

``root`` holds ``leftImg8bit/{train,val,test}/CITY/NAME_leftImg8bit.png`` and
``gtFine/{split}/CITY/NAME_gtFine_labelIds.png``. The 34 stored label ids are mapped to the
19 training ids of the benchmark (cityscapesScripts' ``labels.py``); every other id (ego
vehicle, rectification border, parking, guard rail, ...) becomes the ignore index 255.
The dataset needs a login to download, so :mod:`pixelwise.data.download` cannot fetch it.
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, Sample, require_root
from pixelwise.data.labels import LabelMap
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.errors import PixelwiseError

# (label id, train id name, colour) for the 19 evaluated classes, in train id order.
_TRAIN_CLASSES = (
    (7, "road", (128, 64, 128)), (8, "sidewalk", (244, 35, 232)), (11, "building", (70, 70, 70)),
    (12, "wall", (102, 102, 156)), (13, "fence", (190, 153, 153)), (17, "pole", (153, 153, 153)),
    (19, "traffic light", (250, 170, 30)), (20, "traffic sign", (220, 220, 0)), (21, "vegetation", (107, 142, 35)),
    (22, "terrain", (152, 251, 152)), (23, "sky", (70, 130, 180)), (24, "person", (220, 20, 60)),
    (25, "rider", (255, 0, 0)), (26, "car", (0, 0, 142)), (27, "truck", (0, 0, 70)), (28, "bus", (0, 60, 100)),
    (31, "train", (0, 80, 100)), (32, "motorcycle", (0, 0, 230)), (33, "bicycle", (119, 11, 32)),
)  # fmt: skip
NUM_LABEL_IDS = 34  # ids 0..33; the licence plate's id -1 is stored as 255
CITYSCAPES_INFO = DatasetInfo(class_names=tuple(n for _, n, _ in _TRAIN_CLASSES), palette=tuple(c for _, _, c in _TRAIN_CLASSES))
LABEL_TO_TRAIN_ID = {
    **{label_id: IGNORE_INDEX for label_id in range(NUM_LABEL_IDS)},
    **{label_id: train_id for train_id, (label_id, _, _) in enumerate(_TRAIN_CLASSES)},
    255: IGNORE_INDEX,
}
_IMAGE_END, _MASK_END = "_leftImg8bit", "_gtFine_labelIds"
# gtFine ships these beside each labelIds mask; only the labelIds are read.
_COMPANIONS = ("*_gtFine_color.png", "*_gtFine_instanceIds.png", "*_gtFine_labelTrainIds.png", "*_gtFine_polygons.json")
_LAYOUT = "leftImg8bit/ and gtFine/ with train/ val/ test/ city folders"


@register_splits("cityscapes")
def cityscapes_splits(*, root: Path | None) -> list[str]:
    root = require_root(root, dataset="cityscapes", layout=_LAYOUT)
    return [s for s in ("train", "val", "test") if (root / "leftImg8bit" / s).is_dir()]


@register_dataset("cityscapes")
def cityscapes(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open a Cityscapes split with the 19 training classes.

    Args:
        root: The folder holding ``leftImg8bit/`` and ``gtFine/``.
        split: ``"train"``, ``"val"`` or ``"test"`` (test masks are all ignored: labels are not public).
        transform: Paired transform.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = require_root(root, dataset="cityscapes", layout=_LAYOUT)
    image_dir = path / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise PixelwiseError(f"cityscapes split {split!r} not found: {image_dir} is missing; choose train, val or test")
    samples = []
    for image in sorted(image_dir.glob(f"*/*{_IMAGE_END}.png")):
        name = image.name[: -len(f"{_IMAGE_END}.png")]
        mask = path / "gtFine" / split / image.parent.name / f"{name}{_MASK_END}.png"
        samples.append(Sample(name=name, image=image, mask=mask if mask.is_file() else None))
    return FileDataset(
        samples=samples, info=CITYSCAPES_INFO, source=str(image_dir), labels=LabelMap(LABEL_TO_TRAIN_ID),
        missing_masks=missing_masks, transform=transform, cache=cache, expected_extras=_COMPANIONS,
    )  # fmt: skip
