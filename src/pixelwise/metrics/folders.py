"""Score two folders of single-channel label PNGs matched by file name (like nnU-Net's evaluate_folder).

Any tool's output can be scored this way. Every file is checked before it is counted; the
first problem raises a :class:`PixelwiseError` naming the file, what is wrong and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pixelwise.errors import PixelwiseError
from pixelwise.metrics.confusion import ConfusionMatrix
from pixelwise.metrics.scores import SegmentationScores

_LABEL_MODES = {"L", "P", "I", "I;16", "I;16B", "I;16L", "1"}


def score_folders(
    *,
    pred_dir: str | Path,
    truth_dir: str | Path,
    num_classes: int,
    ignore_index: int | None = None,
    class_names: list[str] | None = None,
) -> SegmentationScores:
    """Compare every label map in ``pred_dir`` with the one of the same stem in ``truth_dir``.

    Args:
        pred_dir: Folder of predicted label images (one class index per pixel).
        truth_dir: Folder of ground-truth label images.
        num_classes: Number of classes ``N``; labels must be ``0 .. N-1`` or ``ignore_index``.
        ignore_index: Truth value not counted (e.g. 255).
        class_names: Names of the N classes for reports.

    Returns:
        The dataset-level :class:`SegmentationScores`.

    Raises:
        PixelwiseError: empty or missing folder, a file without its counterpart, a size mismatch,
            an out-of-range label, an unreadable, non-image or multi-channel file.
    """
    if class_names is not None and len(class_names) != num_classes:
        raise PixelwiseError(f"{len(class_names)} class names given for --num-classes {num_classes}; give one name per class")
    preds, truths = _label_files(Path(pred_dir), "prediction"), _label_files(Path(truth_dir), "truth")
    for stem in sorted(preds.keys() - truths.keys()):
        raise PixelwiseError(f"{preds[stem]}: no truth file named {stem}.* in {truth_dir}; add it or remove the prediction")
    for stem in sorted(truths.keys() - preds.keys()):
        raise PixelwiseError(f"{truths[stem]}: no prediction named {stem}.* in {pred_dir}; predict this image or remove it")
    confusion = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index)
    for stem in sorted(preds):
        pred = _read_labels(preds[stem])
        truth = _read_labels(truths[stem])
        if pred.shape != truth.shape:
            raise PixelwiseError(
                f"{preds[stem]}: size {pred.shape[1]}x{pred.shape[0]} differs from its truth {truths[stem]} "
                f"({truth.shape[1]}x{truth.shape[0]}); predict at the truth's resolution"
            )
        _check_range(truths[stem], truth, num_classes, ignore_index)
        _check_range(preds[stem], pred, num_classes, None)
        confusion.update(torch.from_numpy(pred), torch.from_numpy(truth))
    return confusion.compute(class_names=class_names)


def _label_files(folder: Path, role: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise PixelwiseError(f"{folder}: {role} folder does not exist; pass a folder of label PNGs")
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.stem in files:
            raise PixelwiseError(f"{path}: two files share the name {path.stem!r} ({files[path.stem].name}); keep one")
        files[path.stem] = path
    if not files:
        raise PixelwiseError(f"{folder}: {role} folder is empty; it should hold one label PNG per image")
    return files


def _read_labels(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode not in _LABEL_MODES:
                raise PixelwiseError(
                    f"{path}: image has mode {mode} ({len(image.getbands())} channels); "
                    "expected a single-channel label PNG with one class index per pixel"
                )
            return np.asarray(image).astype(np.int64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise PixelwiseError(f"{path}: not a readable image ({error}); replace it with a label PNG") from None


def _check_range(path: Path, labels: np.ndarray, num_classes: int, ignore_index: int | None) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bad.any():
        values = sorted(set(np.unique(labels[bad])[:5].tolist()))
        hint = f" or the ignore index {ignore_index}" if ignore_index is not None else "; pass --ignore-index if it marks unlabelled pixels"
        raise PixelwiseError(f"{path}: label value(s) {values} outside 0..{num_classes - 1}{hint}")
