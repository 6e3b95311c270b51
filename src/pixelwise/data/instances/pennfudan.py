"""``pennfudan``: Penn-Fudan pedestrians, one instance per pedestrian.

The original layout (https://www.cis.upenn.edu/~jshi/ped_html/): ``PNGImages/NAME.png`` and
``PedMasks/NAME_mask.png`` (0 = background, k = pedestrian k). One class, ``"pedestrian"``.

The files, the pool ``"all"`` and the seeded ``"train"``/``"val"`` hold-out are those of the
semantic :mod:`pixelwise.data.pennfudan` (its builder finds them), so both tasks hold out the
same images.
"""

from __future__ import annotations

from pathlib import Path

import pixelwise.data.pennfudan as semantic
from pixelwise.data.instances.base import InstanceTransform
from pixelwise.data.instances.mask_files import BadAnnotations, InstanceMaskFiles, pool_ids
from pixelwise.data.instances.registry import register_instance_dataset, register_instance_splits


@register_instance_splits("pennfudan")
def pennfudan_splits(*, root: Path | None) -> list[str]:
    return semantic.pennfudan_splits(root=root)


@register_instance_dataset("pennfudan")
def pennfudan(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: InstanceTransform | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    bad_annotations: BadAnnotations = "error",
) -> InstanceMaskFiles:
    """Open Penn-Fudan with one instance per pedestrian.

    Args:
        root: The folder holding ``PNGImages/`` and ``PedMasks/``.
        split: ``"all"``, ``"train"`` or ``"val"`` (carved from all, as in the semantic task).
        transform: ``(image, target) -> (image, target)``.
        val_fraction, seed: The hold-out, as in the semantic task.
        bad_annotations: An image without a mask: ``"error"`` or ``"skip"`` (see :class:`InstanceMaskFiles`).
    """
    chosen = semantic.pennfudan(root=root, split=split, val_fraction=val_fraction, seed=seed, missing_masks="ignore")
    pool = semantic.pennfudan(root=root, split=semantic.POOL, missing_masks="ignore")
    return InstanceMaskFiles(
        samples=chosen.samples, image_ids=pool_ids(chosen.samples, pool.samples), class_names=("pedestrian",),
        source=chosen.source, bad_annotations=bad_annotations, transform=transform,
    )  # fmt: skip
