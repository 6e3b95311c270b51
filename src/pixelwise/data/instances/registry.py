"""The instance dataset registry: ``@register_instance_dataset`` fills it, ``create_instance_dataset`` reads it.

It is separate from the semantic :data:`pixelwise.data.DATASETS` because one name can mean two
readings of the same files: ``pennfudan`` is pedestrian-vs-background there and one instance
per pedestrian here.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pixelwise.data.instances.base import InstanceDataset, InstanceTransform
from pixelwise.data.registry import DATASETS, check_options
from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry, UnknownNameError

InstanceBuilder = Callable[..., InstanceDataset]
SplitFinder = Callable[..., list[str]]

INSTANCE_DATASETS: Registry[InstanceBuilder] = Registry("instance dataset")
INSTANCE_SPLITS: Registry[SplitFinder] = Registry("instance dataset split finder")


def register_instance_dataset(name: str) -> Callable[[InstanceBuilder], InstanceBuilder]:
    """Register ``fn(*, root, split, transform=None, ...) -> InstanceDataset`` under ``name``."""
    return INSTANCE_DATASETS.register(name)


def register_instance_splits(name: str) -> Callable[[SplitFinder], SplitFinder]:
    """Register ``fn(*, root: Path, ...) -> list[str]``: the splits of instance dataset ``name`` on disk."""
    return INSTANCE_SPLITS.register(name)


def list_instance_datasets() -> list[str]:
    """Names of every registered instance dataset format, sorted."""
    import pixelwise.data.instances  # noqa: F401  (registers every format)

    return INSTANCE_DATASETS.names()


def create_instance_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    transform: InstanceTransform | None = None,
    **options: Any,
) -> InstanceDataset:
    """Open an instance dataset by format name (``--dataset NAME --root PATH --split S``).

    Args:
        name: A name from :func:`list_instance_datasets` (``"coco"``, ``"pennfudan"``, ``"folder"``, ``"shapes"``).
        root: The dataset's folder (ignored by the synthetic ``shapes``).
        split: ``"train"``, ``"val"``, ... as the format defines them.
        transform: ``(image, target) -> (image, target)``, e.g. :func:`instance_train_transform`;
            ``None`` gives the raw ``uint8`` image and target.
        **options: The format's own options (an unknown one raises, listing the valid ones).
    """
    import pixelwise.data.instances  # noqa: F401  (registers every format)

    check_options(name, options, builders=INSTANCE_DATASETS)
    return INSTANCE_DATASETS.get(name)(root=root, split=split, transform=transform, **options)


def list_instance_splits(name: str, *, root: str | os.PathLike[str] | None, **options: Any) -> list[str]:
    """The splits of an instance dataset on disk, each file counted once (a carved pool is listed as the pool)."""
    import pixelwise.data.instances  # noqa: F401  (registers every format)

    check_options(name, options, builders=INSTANCE_DATASETS)
    if name not in INSTANCE_SPLITS:
        return ["train"]
    finder = INSTANCE_SPLITS.get(name)
    wanted = {key: value for key, value in options.items() if key in inspect.signature(finder).parameters}
    return finder(root=None if root is None else Path(root), **wanted)


DataTask = Literal["semantic", "instance"]
TASKS: tuple[DataTask, ...] = ("semantic", "instance")


def resolve_task(name: str, task: str | None = None) -> DataTask:
    """Which registry a dataset name is read from: ``task`` when given (checked), else ``"semantic"``
    when ``name`` is a semantic format and ``"instance"`` when it is only an instance format (``coco``).

    Raises:
        PixelwiseError: ``task`` is neither, or no registry of that task has ``name`` (listing the valid names).
    """
    import pixelwise.data  # noqa: F401  (registers every semantic format)
    import pixelwise.data.instances  # noqa: F401  (registers every instance format)

    if task is not None and task not in TASKS:
        raise PixelwiseError(f"task {task!r} is not a data task; choose {' or '.join(TASKS)}")
    if task is None and name not in DATASETS and name not in INSTANCE_DATASETS:
        raise UnknownNameError(
            f"unknown dataset {name!r}; semantic formats: {', '.join(DATASETS.names())}; "
            f"instance formats: {', '.join(INSTANCE_DATASETS.names())}"
        )
    if task is None:
        task = "semantic" if name in DATASETS else "instance"
    (DATASETS if task == "semantic" else INSTANCE_DATASETS).get(name)  # an unknown name lists the valid ones
    return "semantic" if task == "semantic" else "instance"
