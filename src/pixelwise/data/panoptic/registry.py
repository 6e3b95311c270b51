"""The panoptic dataset registry: ``@register_panoptic_dataset`` fills it, ``create_panoptic_dataset`` reads it.

Separate from the semantic and instance registries because one name is a different reading of the
same files: ``pennfudan`` is pedestrian-vs-background (semantic), one instance per pedestrian
(instance), and background stuff plus pedestrian things here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pixelwise.data.panoptic.base import PanopticDataset, PanopticTransform
from pixelwise.data.registry import check_options
from pixelwise.registry import Registry

PanopticBuilder = Callable[..., PanopticDataset]

PANOPTIC_DATASETS: Registry[PanopticBuilder] = Registry("panoptic dataset")


def register_panoptic_dataset(name: str) -> Callable[[PanopticBuilder], PanopticBuilder]:
    """Register ``fn(*, root, split, transform=None, ...) -> PanopticDataset`` under ``name``."""
    return PANOPTIC_DATASETS.register(name)


def list_panoptic_datasets() -> list[str]:
    """Names of every registered panoptic dataset format, sorted."""
    import pixelwise.data.panoptic  # noqa: F401  (registers every format)

    return PANOPTIC_DATASETS.names()


def create_panoptic_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    transform: PanopticTransform | None = None,
    **options: Any,
) -> PanopticDataset:
    """Open a panoptic dataset by format name (``--dataset NAME --root PATH --split S``).

    Args:
        name: A name from :func:`list_panoptic_datasets` (``"coco"``, ``"pennfudan"``, ``"shapes"``).
        root: The dataset's folder (ignored by the synthetic ``shapes``).
        split: ``"train"``, ``"val"``, ... as the format defines them.
        transform: ``(image, target) -> (image, target)``, e.g. :func:`panoptic_train_transform`;
            ``None`` gives the raw ``uint8`` image and target.
        **options: The format's own options (an unknown one raises, listing the valid ones).
    """
    import pixelwise.data.panoptic  # noqa: F401  (registers every format)

    check_options(name, options, builders=PANOPTIC_DATASETS)
    return PANOPTIC_DATASETS.get(name)(root=root, split=split, transform=transform, **options)
