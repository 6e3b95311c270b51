"""Score two folders of single-channel label PNGs matched by file name (like nnU-Net's evaluate_folder).

Any tool's output can be scored this way. Every file is checked before it is counted; the
first problem raises a :class:`PixelwiseError` naming the file, what is wrong and the fix.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from pixelwise.checks import check_int
from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.decode import read_mask
from pixelwise.data.labels import check_labels
from pixelwise.errors import PixelwiseError
from pixelwise.metrics.confusion import ConfusionMatrix
from pixelwise.metrics.scores import SegmentationScores


def score_folders(
    *,
    pred_dir: str | Path,
    truth_dir: str | Path,
    num_classes: int,
    ignore_index: int | None = IGNORE_INDEX,
    class_names: list[str] | None = None,
) -> SegmentationScores:
    """Compare every label map in ``pred_dir`` with the one of the same stem in ``truth_dir``.

    Args:
        pred_dir: Folder of predicted label images (one class index per pixel).
        truth_dir: Folder of ground-truth label images.
        num_classes: Number of classes ``N``; labels must be ``0 .. N-1`` or ``ignore_index``.
        ignore_index: Truth value not counted (``None``: count every pixel).
        class_names: Names of the N classes for reports.

    Returns:
        The dataset-level :class:`SegmentationScores`.

    Raises:
        PixelwiseError: empty or missing folder, a file without its counterpart, a size mismatch,
            an out-of-range label, an unreadable, non-image or multi-channel file.
    """
    check_int("num_classes", num_classes, minimum=1)
    if class_names is not None and len(class_names) != num_classes:
        raise PixelwiseError(f"{len(class_names)} class names given for --num-classes {num_classes}; give one name per class")
    preds, truths = _label_files(Path(pred_dir), "prediction"), _label_files(Path(truth_dir), "truth")
    for stem in sorted(preds.keys() - truths.keys()):
        raise PixelwiseError(f"{preds[stem]}: no truth file named {stem}.* in {truth_dir}; add it or remove the prediction")
    for stem in sorted(truths.keys() - preds.keys()):
        raise PixelwiseError(f"{truths[stem]}: no prediction named {stem}.* in {pred_dir}; predict this image or remove it")
    confusion = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index)
    for stem in sorted(preds):
        pred, truth = _read_labels(preds[stem]), _read_labels(truths[stem])
        if pred.shape != truth.shape:
            raise PixelwiseError(
                f"{preds[stem]}: size {pred.shape[1]}x{pred.shape[0]} differs from its truth {truths[stem]} "
                f"({truth.shape[1]}x{truth.shape[0]}); predict at the truth's resolution"
            )
        unlabelled = "relabel those pixels, or pass the value that marks unlabelled pixels as --ignore-index"
        check_labels(truth, num_classes=num_classes, ignore_index=ignore_index, source=str(truths[stem]), fix=unlabelled)
        check_labels(pred, num_classes=num_classes, ignore_index=None, source=str(preds[stem]), fix="predict class indices only")
        confusion.update(pred, truth)
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


def _read_labels(path: Path) -> Tensor:
    """A label image's class indices ``(H, W)``; anything but one index per pixel is refused."""
    stored = read_mask(path)  # (C, H, W)
    if stored.shape[0] != 1:
        raise PixelwiseError(
            f"{path}: image has {stored.shape[0]} channels; expected a single-channel label PNG with one class index "
            "per pixel (save the indices, not colours)"
        )
    return stored[0].long()
