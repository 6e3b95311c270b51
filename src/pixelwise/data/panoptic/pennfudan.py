"""``pennfudan``: Penn-Fudan as panoptic — pedestrians as things, everything else one stuff class.

Classes ``background`` (stuff, 0) and ``pedestrian`` (thing, 1). The files, the pool ``"all"`` and
the seeded ``"train"``/``"val"`` hold-out are the instance reading's (:mod:`pixelwise.data.instances.pennfudan`,
itself the semantic one's), so the three tasks hold out the same images with the same image ids.
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.data.instances.mask_files import BadAnnotations
from pixelwise.data.instances.pennfudan import pennfudan as pennfudan_instances
from pixelwise.data.panoptic.base import PanopticTransform
from pixelwise.data.panoptic.from_instances import InstancesAsPanoptic
from pixelwise.data.panoptic.registry import register_panoptic_dataset

PALETTE = ((128, 128, 128), (220, 20, 60))


@register_panoptic_dataset("pennfudan")
def pennfudan(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PanopticTransform | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    bad_annotations: BadAnnotations = "error",
) -> InstancesAsPanoptic:
    """Open Penn-Fudan with a background stuff segment and one thing segment per pedestrian.

    Args:
        root: The folder holding ``PNGImages/`` and ``PedMasks/``.
        split: ``"all"``, ``"train"`` or ``"val"`` (carved from all, as in the other tasks).
        transform: ``(image, target) -> (image, target)``.
        val_fraction, seed: The hold-out, as in the other tasks.
        bad_annotations: An image without a mask: ``"error"`` or ``"skip"``.
    """
    instances = pennfudan_instances(root=root, split=split, val_fraction=val_fraction, seed=seed,
                                    bad_annotations=bad_annotations)  # fmt: skip
    return InstancesAsPanoptic(instances=instances, stuff_name="background", palette=PALETTE, transform=transform)
