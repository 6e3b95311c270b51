"""The dataset registry: ``@register_dataset`` fills it, ``create_dataset`` reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pixelwise.data.base import PairTransform, SegmentationDataset
from pixelwise.registry import Registry

DatasetBuilder = Callable[..., SegmentationDataset]

DATASETS: Registry[DatasetBuilder] = Registry("dataset")


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register ``fn(*, root, split, transform=None, ...) -> SegmentationDataset`` under ``name``."""
    return DATASETS.register(name)


def list_datasets() -> list[str]:
    """Names of every registered dataset format, sorted."""
    import pixelwise.data  # noqa: F401  (registers every format)

    return DATASETS.names()


def create_dataset(
    name: str,
    *,
    root: str | None = None,
    split: str = "train",
    transform: PairTransform | None = None,
    **options: Any,
) -> SegmentationDataset:
    """Open a dataset by format name — the same words as the CLI's ``--dataset NAME --root PATH --split S``.

    Args:
        name: A name from :func:`list_datasets` (``"camvid"``, ``"pets"``, ``"shapes"``, ...).
        root: The dataset's folder (ignored by the synthetic ``shapes``).
        split: ``"train"``, ``"val"``, ``"test"``, ... as the format defines them.
        transform: Paired ``(image, mask) -> (image, mask)`` transform.
        **options: The format's own options (e.g. ``num_classes`` for CamVid, ``mode`` for Pet).
    """
    import pixelwise.data  # noqa: F401  (registers every format)

    return DATASETS.get(name)(root=root, split=split, transform=transform, **options)
