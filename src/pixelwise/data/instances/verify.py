"""Check an instance dataset on disk (``pixelwise data verify --task instance``).

Two passes. The source as a whole: each format lists what is wrong with its annotation file
(COCO: an annotation pointing at an unknown image or category, duplicate image or annotation
ids, a polygon of under 3 points, a box outside its image, a malformed segmentation) or its
folders (an image without an instance mask). Then every image: it must exist and decode, its
masks must match its size, and no instance may have an empty mask. Each problem names the file
and annotation and the fix; instances are counted per class.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from pixelwise.checks import check_int
from pixelwise.data.instances.base import Found, InstanceDataset
from pixelwise.data.instances.registry import INSTANCE_DATASETS, create_instance_dataset, list_instance_splits
from pixelwise.data.verify_report import Problem, SplitSummary, VerifyReport
from pixelwise.errors import PixelwiseError


def verify_instances(
    *,
    dataset: str,
    root: str | os.PathLike[str],
    split: str | None = None,
    workers: int = 0,
    **options: Any,
) -> VerifyReport:
    """Check every annotation and image of an instance dataset.

    Args:
        dataset: An instance format name (``"coco"``, ``"pennfudan"``, ``"folder"``).
        root: The dataset folder.
        split: One split to check; ``None`` checks every split found (a carved pool once, whole).
        workers: Processes that decode and check images in parallel (0: this process).
        **options: The format's own options, as for :func:`create_instance_dataset`.

    Returns:
        The report (``task="instance"``); ``report.ok`` is False when any problem is an error.
    """
    check_int("workers", workers, minimum=0)
    import pixelwise.data.instances  # noqa: F401  (registers every format)

    if "bad_annotations" not in inspect.signature(INSTANCE_DATASETS.get(dataset)).parameters:
        raise PixelwiseError(f"instance dataset {dataset!r} is not read from files, so there is nothing to verify")
    checked = [split] if split is not None else list_instance_splits(dataset, root=root, **options)
    opened: dict[str, InstanceDataset] = {}
    problems: list[Problem] = []
    failures: list[PixelwiseError] = []
    for name in checked:
        try:
            opened[name] = create_instance_dataset(dataset, root=root, split=name, **{**options, "bad_annotations": "skip"})
        except PixelwiseError as error:
            failures.append(error)
            problems.append(Problem("error", str(root), f"split {name!r} cannot be opened: {error}", "see the message", name))
    if not opened:  # nothing opens: the options or the root are wrong, not one file
        raise failures[0]
    info = next(iter(opened.values())).info
    report = VerifyReport(
        dataset=dataset, root=str(root), class_names=info.class_names, palette=info.palette,
        ignore_index=None, problems=problems, task="instance",
    )  # fmt: skip
    sources: set[str] = set()
    for name, data in opened.items():
        if data.name not in sources:  # splits carved from one file share its problems
            sources.add(data.name)
            report.problems.extend(Problem(*found, split=name) for found in data.source_problems())
        report.splits.append(_check_split(data, name, report.problems, workers=workers))
    return report


def check_image(data: InstanceDataset, index: int) -> tuple[list[Found], list[int], bool]:
    """Load image ``index`` with its annotations; return its problems, its instances per class and
    whether it could be read at all."""
    counts = [0] * data.info.num_classes
    path = None
    try:
        path = data.image_path(index)  # a file name that leads outside the dataset is refused here
        _, target = data.load(index)
    except PixelwiseError as error:
        if path is not None and not path.is_file():
            fix = "restore it, or delete the image and its annotations"
            return [("error", str(path), "image file is missing", fix)], counts, False
        return [("error", str(path or data.name), str(error), "see the message")], counts, False
    found: list[Found] = []
    empty = (target["masks"].flatten(1) == 0).all(dim=1).nonzero().flatten().tolist()
    if empty:
        names = data.instance_names(index, target)
        fix = "redraw the instance or delete its annotation"
        found += [("error", data.name, f"{names[k]}: mask is empty (no pixel inside the image)", fix) for k in empty]
    found += data.image_problems(index, target)
    counts = torch.bincount(target["labels"], minlength=data.info.num_classes).tolist()
    return found, counts, True


def _check_split(data: InstanceDataset, split: str, problems: list[Problem], *, workers: int) -> SplitSummary:
    summary = SplitSummary(name=split, images=len(data), class_instances=[0] * data.info.num_classes)
    checks = DataLoader(_Checks(data), batch_size=None, num_workers=workers, collate_fn=_as_is)
    for found, counts, readable in checks:
        summary.pairs += readable
        summary.class_instances = [a + b for a, b in zip(summary.class_instances, counts, strict=True)]
        problems.extend(Problem(severity, path, problem, fix, split) for severity, path, problem, fix in found)
    return summary


class _Checks(Dataset):
    """Item ``i`` is :func:`check_image` of image ``i`` (a Dataset so that DataLoader workers share the work)."""

    def __init__(self, data: InstanceDataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[list[Found], list[int], bool]:
        return check_image(self.data, index)


def _as_is(item: Any) -> Any:
    return item
