"""``ade20k``: the ADE20K scene-parsing benchmark, ``ADEChallengeData2016`` (MIT Scene Parsing).

``root`` is ``ADEChallengeData2016/`` (or its parent): ``images/{training,validation}/*.jpg``
and ``annotations/{training,validation}/*.png``. Masks store 0 for "other" (not scored) and
1..150 for the classes: 0 becomes the ignore index 255 and ``k`` becomes ``k - 1``, giving
150 classes, as the benchmark scores them. Splits are named ``"train"`` and ``"val"``.
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, pair_by_stem, require_root
from pixelwise.data.labels import LabelMap, voc_palette
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.errors import PixelwiseError

# objectInfo150.txt's first names, in label order.
ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
    "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
    "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
# The palette skips VOC's black entry 0 so that no class is drawn black.
ADE20K_INFO = DatasetInfo(class_names=ADE20K_CLASSES, palette=voc_palette(len(ADE20K_CLASSES) + 1)[1:])
_FOLDERS = {"train": "training", "val": "validation"}
_LAYOUT = "ADEChallengeData2016 (images/training/, annotations/training/, .../validation/)"


def ade20k_root(root: str | Path | None) -> Path:
    """``root`` itself or its ``ADEChallengeData2016/`` sub-folder, whichever holds ``images/``."""
    path = require_root(root, dataset="ade20k", layout=_LAYOUT)
    nested = path / "ADEChallengeData2016"
    return nested if not (path / "images").is_dir() and nested.is_dir() else path


@register_splits("ade20k")
def ade20k_splits(*, root: Path | None) -> list[str]:
    path = ade20k_root(root)
    return [s for s, folder in _FOLDERS.items() if (path / "images" / folder).is_dir()]


@register_dataset("ade20k")
def ade20k(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open an ADE20K (SceneParsing 150) split.

    Args:
        root: ``ADEChallengeData2016/`` or its parent.
        split: ``"train"`` (20,210 images) or ``"val"`` (2,000).
        transform: Paired transform.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = ade20k_root(root)
    if split not in _FOLDERS:
        raise PixelwiseError(f"ade20k has no split {split!r}; choose train or val")
    image_dir = path / "images" / _FOLDERS[split]
    if not image_dir.is_dir():
        raise PixelwiseError(f"ade20k split {split!r} not found: {image_dir} is missing; point --root at {_LAYOUT}")
    labels = LabelMap({0: IGNORE_INDEX, **{k: k - 1 for k in range(1, len(ADE20K_CLASSES) + 1)}})
    return FileDataset(
        samples=pair_by_stem(image_dir, path / "annotations" / _FOLDERS[split]), info=ADE20K_INFO,
        source=str(image_dir), labels=labels, missing_masks=missing_masks, transform=transform, cache=cache,
    )  # fmt: skip
