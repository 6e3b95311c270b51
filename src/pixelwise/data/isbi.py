"""``isbi2012-em``: the ISBI 2012 EM segmentation challenge, the data the U-Net paper was built for.

``root`` holds ``image/N.png`` (512x512 greyscale serial-section electron microscopy slices)
and ``label/N.png`` (0 = membrane, 255 = cell interior), paired by stem; ``images/`` and
``labels/`` are accepted too. Labels become 0 membrane, 1 cell; any other grey value is an
error (a JPEG-compressed or resized label).

Images are returned **replicated to 3 channels** by default (``channels=3``), so the default
ImageNet normalisation and any RGB encoder work unchanged; ``channels=1`` gives the single grey
channel of the paper (build the model with ``in_channels=1``; ``info.image_channels`` says which).

The 30 training slices are one pool, ``"all"``; ``"train"`` and ``"val"`` are carved from it
(``val_fraction``, seeded, the same on every machine).
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, pair_by_stem, require_root
from pixelwise.data.labels import LabelMap
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import holdout
from pixelwise.errors import PixelwiseError

ISBI_CLASSES = ("membrane", "cell")
ISBI_PALETTE = ((0, 0, 0), (255, 255, 255))
POOL = "all"
_LAYOUT = "ISBI 2012 slices as image/N.png and label/N.png"


def _folders(root: Path) -> tuple[Path, Path]:
    for image_dir, mask_dir in (("image", "label"), ("images", "labels")):
        if (root / image_dir).is_dir():
            return root / image_dir, root / mask_dir
    raise PixelwiseError(f"{root} holds no image/ folder; point --root at {_LAYOUT}")


@register_splits("isbi2012-em")
def isbi_splits(*, root: Path | None) -> list[str]:
    _folders(require_root(root, dataset="isbi2012-em", layout=_LAYOUT))
    return [POOL]


@register_dataset("isbi2012-em")
def isbi2012_em(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    channels: int = 3,
    val_fraction: float = 0.1,
    seed: int = 0,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open the ISBI 2012 EM slices.

    Args:
        root: The folder holding ``image/`` and ``label/``.
        split: ``"all"`` (every slice), ``"train"`` or ``"val"`` (carved from all).
        transform: Paired transform.
        channels: 3 (grey replicated, the default) or 1 (the grey channel alone).
        val_fraction: Share of the slices held out as ``"val"`` (0.1: 3 of 30).
        seed: Seed of the hold-out.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    if channels not in (1, 3):
        raise PixelwiseError(f"isbi2012-em channels={channels} is not valid; choose 1 (grey) or 3 (grey replicated)")
    image_dir, mask_dir = _folders(require_root(root, dataset="isbi2012-em", layout=_LAYOUT))
    samples = pair_by_stem(image_dir, mask_dir)
    chosen = set(holdout([s.name for s in samples], split=split, pool=POOL, val_fraction=val_fraction, seed=seed))
    info = DatasetInfo(class_names=ISBI_CLASSES, palette=ISBI_PALETTE, image_channels=channels)
    return FileDataset(
        samples=[s for s in samples if s.name in chosen], info=info, source=str(image_dir),
        labels=LabelMap({0: 0, 255: 1}), missing_masks=missing_masks, transform=transform, cache=cache,
    )  # fmt: skip
