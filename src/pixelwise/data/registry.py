"""The dataset registry: ``@register_dataset`` fills it, ``create_dataset`` reads it."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelwise.data.base import PairTransform, SegmentationDataset
from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry

DatasetBuilder = Callable[..., SegmentationDataset]
SplitFinder = Callable[..., list[str]]

DATASETS: Registry[DatasetBuilder] = Registry("dataset")
SPLITS: Registry[SplitFinder] = Registry("dataset split finder")


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register ``fn(*, root, split, transform=None, ...) -> SegmentationDataset`` under ``name``."""
    return DATASETS.register(name)


def register_splits(name: str) -> Callable[[SplitFinder], SplitFinder]:
    """Register ``fn(*, root: Path) -> list[str]``: the splits of dataset ``name`` found under ``root``."""
    return SPLITS.register(name)


def list_splits(name: str, *, root: str | os.PathLike[str] | None, **options: Any) -> list[str]:
    """The splits of a dataset that exist on disk (what ``pixelwise data verify`` checks by default).

    Pools with a carved hold-out are listed once under the pool's name (e.g. Pet's
    ``"trainval"``), so no file is counted twice.

    Args:
        name: A dataset format name.
        root: The dataset folder.
        **options: The format's options; those its split finder declares (e.g. ``image_dir``
            for ``folder``) are passed on, the rest are not needed to find splits.
    """
    import pixelwise.data  # noqa: F401  (registers every format)

    check_options(name, options)  # an unknown name lists the valid ones, an unknown option the format's options
    if name not in SPLITS:
        return ["train"]
    finder = SPLITS.get(name)
    wanted = {key: value for key, value in options.items() if key in inspect.signature(finder).parameters}
    return finder(root=None if root is None else Path(root), **wanted)


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

    check_options(name, options)
    return DATASETS.get(name)(root=root, split=split, transform=transform, **options)


def check_options(name: str, options: dict[str, Any], *, builders: Registry[Callable[..., Any]] | None = None) -> None:
    """Refuse an option the format does not take, listing the ones it does.

    Args:
        name: A format name (an unknown one raises, listing the valid ones).
        options: The options given.
        builders: The registry to look ``name`` up in (default :data:`DATASETS`; instance formats
            pass :data:`pixelwise.data.instances.INSTANCE_DATASETS`).
    """
    builder = (DATASETS if builders is None else builders).get(name)
    parameters = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    valid = [key for key in parameters if key not in ("root", "split", "transform")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise PixelwiseError(
            f"dataset {name!r} has no option {', '.join(unknown)}; its options are: {', '.join(valid) or 'none'}"
        )
