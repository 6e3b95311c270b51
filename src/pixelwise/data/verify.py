"""Check a dataset on disk before training on it (``pixelwise data verify``).

Like keras-segmentation's ``verify_dataset`` and nnU-Net's integrity check: every image is
paired with its mask, every file decodes, image and mask sizes match, every label is a class
or the ignore index, and files that belong to no split are listed. Each problem names the
file and the fix; counts per split and each class's pixel share come with it. Instance data
(COCO files, instance-id masks) is checked by :mod:`pixelwise.data.instances.verify`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from pixelwise.checks import check_int
from pixelwise.data.decode import IMAGE_SUFFIXES, is_jpeg, read_image
from pixelwise.data.files import FileDataset, Sample, size_mismatch
from pixelwise.data.instances.registry import resolve_task
from pixelwise.data.instances.verify import verify_instances
from pixelwise.data.labels import allowed_labels, describe_invalid, invalid_labels
from pixelwise.data.registry import create_dataset, list_splits
from pixelwise.data.verify_report import Problem, Severity, SplitSummary, VerifyReport
from pixelwise.errors import PixelwiseError

Found = tuple[Severity, str, str, str]  # (severity, file, problem, fix)


def verify_dataset(
    *,
    dataset: str,
    root: str | os.PathLike[str],
    split: str | None = None,
    workers: int = 0,
    task: str | None = None,
    **options: Any,
) -> VerifyReport:
    """Check every file of a dataset and report what is wrong.

    Args:
        dataset: A format name (``"camvid"``, ``"pets"``, ``"folder"``, ``"coco"``, ...).
        root: The dataset folder.
        split: One split to check; ``None`` checks every split found on disk (a pool with a
            carved hold-out, like Pet's ``trainval``, is checked once as a whole).
        workers: Processes that decode and check files in parallel (0: this process). Each
            worker runs single-threaded, which is also much faster than two intra-op threads
            on a busy machine.
        task: ``"semantic"`` or ``"instance"``: which reading of the files to check (default:
            semantic for a semantic format name, instance for an instance-only one such as ``coco``).
        **options: The format's own options (``num_classes``, ``mode``, ``colors``, ...), as
            for :func:`pixelwise.create_dataset`.

    Returns:
        The report; ``report.ok`` is False when any problem is an error.
    """
    check_int("workers", workers, minimum=0)
    if resolve_task(dataset, task) == "instance":
        return verify_instances(dataset=dataset, root=root, split=split, workers=workers, **options)
    found = list_splits(dataset, root=root, **options)
    checked = [split] if split is not None else found
    opened: dict[str, FileDataset] = {}
    problems: list[Problem] = []
    failures: list[PixelwiseError] = []
    for name in dict.fromkeys(checked + found):  # every split, so that stray files are judged against all
        try:
            opened[name] = _open(dataset, root, name, options)
        except PixelwiseError as error:
            failures.append(error)
            if name in checked:
                problem = f"split {name!r} cannot be opened: {error}"
                problems.append(Problem("error", str(root), problem, "see the message", name))
    if not opened:  # nothing opens: the options or the root are wrong, not one file
        if failures:
            raise failures[0]
        raise PixelwiseError(f"no split of {dataset!r} found under {root}; check --dataset and --root")
    info = next(iter(opened.values())).info
    report = VerifyReport(
        dataset=dataset,
        root=str(root),
        class_names=info.class_names,
        palette=info.palette,
        ignore_index=info.ignore_index,
        problems=problems,
    )
    for name in checked:
        if name in opened:
            report.splits.append(_check_split(opened[name], name, report.problems, workers=workers))
    report.problems.extend(_strays(list(opened.values())))
    return report


def _open(dataset: str, root: str | os.PathLike[str], split: str, options: dict[str, Any]) -> FileDataset:
    opened = create_dataset(dataset, root=str(root), split=split, missing_masks="ignore", **options)
    if not isinstance(opened, FileDataset):
        raise PixelwiseError(f"dataset {dataset!r} is not read from files, so there is nothing to verify")
    return opened


def _check_split(data: FileDataset, split: str, problems: list[Problem], *, workers: int) -> SplitSummary:
    summary = SplitSummary(name=split, images=len(data.samples), class_pixels=[0] * data.info.num_classes)
    checks = DataLoader(_Checks(data), batch_size=None, num_workers=workers, collate_fn=_as_is)
    for sample, (found, class_pixels, ignored) in zip(data.samples, checks, strict=True):
        summary.pairs += sample.mask is not None
        summary.class_pixels = [a + b for a, b in zip(summary.class_pixels, class_pixels, strict=True)]
        summary.ignored_pixels += ignored
        problems.extend(Problem(severity, path, problem, fix, split) for severity, path, problem, fix in found)
    return summary


class _Checks(Dataset):
    """Item ``i`` is :func:`_check_sample` of sample ``i`` (a Dataset so that DataLoader workers can share the work)."""

    def __init__(self, data: FileDataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data.samples)

    def __getitem__(self, index: int) -> tuple[list[Found], list[int], int]:
        return _check_sample(self.data, self.data.samples[index])


def _as_is(item: Any) -> Any:
    return item


def _check_sample(data: FileDataset, sample: Sample) -> tuple[list[Found], list[int], int]:
    """Decode one pair; return its problems, its pixels per class and its ignored pixels."""
    found: list[Found] = []
    nothing = [0] * data.info.num_classes
    image = _decode(lambda: read_image(sample.image, channels=data.info.image_channels), sample.image, "image", found)
    if sample.mask is None:
        fix = f"add the mask of {sample.name!r}, or remove the image"
        found.append(("error", str(sample.image), "image has no mask", fix))
        return found, nothing, 0
    stored = _decode(lambda: data.read_mask(sample.mask), sample.mask, "mask", found)
    if stored is None:
        return found, nothing, 0
    if sample.mask.suffix.lower() in (".jpg", ".jpeg") or is_jpeg(sample.mask):
        problem = "mask is JPEG: lossy compression changes label values at edges"
        found.append(("warning", str(sample.mask), problem, "save masks as PNG"))
    try:
        labels = data.mask_to_labels(stored, path=sample.mask)
    except PixelwiseError as error:
        found.append(("error", str(sample.mask), str(error), "see the message"))
        return found, nothing, 0
    mismatch = size_mismatch(image=image, mask=labels, sample=sample) if image is not None else None
    if mismatch is not None:
        found.append(("error", str(sample.mask), *mismatch))
    info = data.info
    bad = invalid_labels(labels, num_classes=info.num_classes, ignore_index=info.ignore_index)
    if bad.any():
        allowed = allowed_labels(num_classes=info.num_classes, ignore_index=info.ignore_index)
        found.append((
            "error", str(sample.mask), f"{int(bad.sum())} pixels have {describe_invalid(stored, bad)}, not a class ({allowed})",
            "relabel those pixels, or fix the dataset options (num_classes, mode, colour table)",
        ))  # fmt: skip
    valid = labels[~bad]
    ignored = valid == info.ignore_index if info.ignore_index is not None else torch.zeros_like(valid, dtype=torch.bool)
    counts = torch.bincount(valid[~ignored], minlength=info.num_classes).tolist()
    return found, counts, int(ignored.sum())


def _decode(read: Callable[[], Tensor], path: Path, what: str, found: list[Found]) -> Tensor | None:
    if not path.is_file():
        found.append(("error", str(path), f"{what} file is missing", "restore it, or remove it from the split list"))
        return None
    try:
        return read()
    except PixelwiseError as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        fix = "re-export it as PNG/JPEG, or remove it and its pair"
        found.append(("error", str(path), f"{what} cannot be decoded ({cause})", fix))
        return None


def _strays(opened: list[FileDataset]) -> list[Problem]:
    """Files in the image and mask folders that belong to no split."""
    images = {s.image.resolve() for data in opened for s in data.samples}
    masks = {s.mask.resolve() for data in opened for s in data.samples if s.mask is not None}
    extras = {pattern for data in opened for pattern in data.expected_extras}
    image_folders = {p.parent for p in images}
    problems = []
    for folder in sorted(image_folders | {p.parent for p in masks}):
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.resolve() in images or path.resolve() in masks:
                continue
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in extras):
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                problem, fix = "not an image file (never read)", "move it out of the dataset folder, or leave it"
            elif folder in image_folders:
                problem, fix = "image belongs to no split", "add it (and its mask) to a split, or remove it"
            else:
                problem, fix = "file in the mask folder matches no image", "add its image, or remove it"
            problems.append(Problem("warning", str(path), problem, fix))
    return problems
