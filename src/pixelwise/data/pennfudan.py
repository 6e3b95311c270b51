"""``pennfudan``: Penn-Fudan pedestrians as a semantic task, pedestrian vs background.

The original layout (https://www.cis.upenn.edu/~jshi/ped_html/): ``PNGImages/NAME.png`` (RGB) and
``PedMasks/NAME_mask.png`` (8-bit, 0 = background, k = pedestrian k). Every pedestrian id becomes
class 1 ("pedestrian"), 0 stays background; the instance ids are not kept here.

The images are one pool, ``"all"``; ``"train"`` and ``"val"`` are carved from it (``val_fraction``,
seeded, the same on every machine).
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, pair_by_stem, require_root
from pixelwise.data.labels import LabelMap
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import holdout

PENNFUDAN_INFO = DatasetInfo(class_names=("background", "pedestrian"), palette=((0, 0, 0), (220, 20, 60)))
POOL = "all"
_LAYOUT = "Penn-Fudan's PNGImages/ and PedMasks/ (NAME.png + NAME_mask.png)"


@register_splits("pennfudan")
def pennfudan_splits(*, root: Path | None) -> list[str]:
    require_root(root, dataset="pennfudan", layout=_LAYOUT)
    return [POOL]


@register_dataset("pennfudan")
def pennfudan(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open Penn-Fudan as pedestrian-vs-background masks.

    Args:
        root: The folder holding ``PNGImages/`` and ``PedMasks/``.
        split: ``"all"``, ``"train"`` or ``"val"`` (carved from all).
        transform: Paired transform.
        val_fraction: Share of the images held out as ``"val"``.
        seed: Seed of the hold-out.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = require_root(root, dataset="pennfudan", layout=_LAYOUT)
    samples = pair_by_stem(path / "PNGImages", path / "PedMasks", mask_suffix="_mask")
    chosen = set(holdout([s.name for s in samples], split=split, pool=POOL, val_fraction=val_fraction, seed=seed))
    return FileDataset(
        samples=[s for s in samples if s.name in chosen], info=PENNFUDAN_INFO, source=str(path / "PNGImages"),
        labels=LabelMap({0: 0, **{k: 1 for k in range(1, 256)}}), missing_masks=missing_masks,
        transform=transform, cache=cache,
    )  # fmt: skip
