"""Pixel-wise cross-entropy with class weights, an ignore index and label smoothing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import (
    as_class_weights,
    check_class_weights,
    check_logits_and_target,
    upcast,
)


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Mean cross-entropy over the pixels that count, as ``F.cross_entropy(reduction="mean")``.

    With class weights ``w`` the mean is weighted: ``sum_i w[y_i] * l_i / sum_i w[y_i]`` over
    non-ignored pixels ``i`` (PyTorch's definition). The one difference from
    ``F.cross_entropy``: a batch whose pixels are all ignored gives 0 instead of NaN, so one
    all-void crop cannot poison training. (Counted pixels whose classes all have weight 0
    still give NaN, as in PyTorch.)

    Args:
        logits: Raw scores; computed in float32 (or float64) whatever their dtype.
        target: Class indices, or ``ignore_index``.
        weight: Optional per-class weights ``(C,)`` (e.g. :func:`median_frequency_weights`).
        ignore_index: Label of pixels left out of the loss and its gradient (``None``: none).
        label_smoothing: Mass in ``[0, 1)`` spread uniformly over all classes (Szegedy et al. 2016).

    Returns:
        A scalar tensor.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="cross_entropy")
    check_class_weights(weight, logits.shape[1], loss="cross_entropy")
    logits = upcast(logits)
    if weight is not None:
        weight = weight.to(device=logits.device, dtype=logits.dtype)
    loss = F.cross_entropy(
        logits,
        target,
        weight=weight,
        ignore_index=-100 if ignore_index is None else ignore_index,
        label_smoothing=label_smoothing,
    )
    if ignore_index is None:
        return loss
    # PyTorch's fused mean returns 0 / 0 = NaN when every pixel is ignored; select 0 then
    # (the gradient of that branch is already 0), without a host sync.
    counted = (target != ignore_index).any()
    return torch.where(counted, loss, torch.zeros_like(loss))


@register_loss("ce")
class CrossEntropyLoss(nn.Module):
    """Module form of :func:`cross_entropy`.

    Args:
        class_weights: Optional per-class weights ``(C,)``; moved with the module (a buffer).
        ignore_index: Label of pixels left out (``None``: none).
        label_smoothing: Mass in ``[0, 1)`` spread uniformly over all classes.
    """

    def __init__(
        self,
        *,
        class_weights: Tensor | Sequence[float] | None = None,
        ignore_index: int | None = IGNORE_INDEX,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.register_buffer("class_weights", as_class_weights(class_weights), persistent=False)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(
            logits,
            target,
            weight=self.class_weights,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )
