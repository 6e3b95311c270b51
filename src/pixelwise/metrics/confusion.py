"""A dataset-level confusion matrix that adds across batches, images and processes.

Rows are the ground truth, columns the prediction. Pixels whose truth equals
``ignore_index`` (default :data:`~pixelwise.constants.IGNORE_INDEX`) are left out. The
counting is one ``bincount`` over integer tensors: no Python loop over pixels, images or classes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pixelwise.checks import check_int
from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.labels import check_labels


def confusion_matrix(
    pred: Tensor,
    target: Tensor,
    *,
    num_classes: int,
    ignore_index: int | None = IGNORE_INDEX,
    validate: bool = True,
) -> Tensor:
    """Count (truth, prediction) pairs.

    Args:
        pred: Predicted class indices, any integer dtype.
        target: Ground-truth class indices, same shape as ``pred``.
        num_classes: Number of classes ``C``; valid labels are ``0 .. C-1``.
        ignore_index: Truth value whose pixels are not counted (``None``: count every pixel).
        validate: Raise :class:`~pixelwise.data.labels.LabelError` (a ``ValueError``) on truth
            labels outside ``0 .. C-1`` other than the ignore index, and on predictions outside
            ``0 .. C-1`` at counted pixels, instead of silently dropping them.

    Returns:
        ``int64`` tensor of shape ``(C, C)``, rows = truth, columns = prediction.

    Shape:
        pred, target: any shape, e.g. ``(N, H, W)``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    if validate:
        check_labels(target, num_classes=num_classes, ignore_index=ignore_index, source="truth",
                     fix="check num_classes and ignore_index against the masks")
        # A prediction at an ignored pixel is never counted, so it may be anything.
        counted_pred = torch.where(valid, pred, torch.zeros_like(pred))
        check_labels(counted_pred, num_classes=num_classes, ignore_index=None, source="prediction",
                     fix="predict class indices (argmax over the C logit channels)")
    # Ignored pixels go to one extra bin past the C*C real ones, which is then dropped:
    # this keeps the whole count branch-free and avoids a boolean gather.
    sentinel = num_classes * num_classes
    index = torch.where(valid, target * num_classes + pred, sentinel)
    counts = torch.bincount(index, minlength=sentinel + 1)[:sentinel]
    return counts.reshape(num_classes, num_classes)


class ConfusionMatrix:
    """Accumulates a confusion matrix over a whole dataset.

    Args:
        num_classes: Number of classes.
        ignore_index: Truth value to leave out (default
            :data:`~pixelwise.constants.IGNORE_INDEX`; ``None``: count every pixel).
        device: Where the running matrix lives (keep it with the predictions).

    Example:
        >>> cm = ConfusionMatrix(num_classes=3)  # truth 255 (IGNORE_INDEX) is not counted
        >>> for logits, mask in batches:  # doctest: +SKIP
        ...     cm.update(logits.argmax(1), mask)
        >>> scores = cm.compute()  # doctest: +SKIP
    """

    def __init__(self, *, num_classes: int, ignore_index: int | None = IGNORE_INDEX, device: torch.device | str = "cpu"):
        check_int("num_classes", num_classes, minimum=1)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one batch of predicted and true label maps (same shape, integer)."""
        if pred.device != self.matrix.device:
            self.matrix = self.matrix.to(pred.device)
        self.matrix += confusion_matrix(
            pred, target, num_classes=self.num_classes, ignore_index=self.ignore_index
        )

    def reset(self) -> None:
        """Set every count back to zero."""
        self.matrix.zero_()

    def all_reduce(self) -> None:
        """Sum the matrix over every process of the default ``torch.distributed`` group."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(self.matrix, op=torch.distributed.ReduceOp.SUM)

    def compute(self, *, class_names: list[str] | None = None):  # -> SegmentationScores
        """Scores from the counts so far (see :func:`pixelwise.metrics.scores_from_confusion`)."""
        from pixelwise.metrics.scores import scores_from_confusion

        return scores_from_confusion(self.matrix, class_names=class_names)
