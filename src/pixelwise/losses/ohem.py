"""Cross-entropy with online hard example mining (OHEM) over pixels.

Shrivastava et al. 2016 (https://arxiv.org/abs/1604.03540) mined hard regions for detection;
the real-time segmentation networks (BiSeNet, STDC, DDRNet, PIDNet) mine hard *pixels*: only the
pixels whose true class has a probability below ``threshold`` count, and at least a ``min_kept``
fraction of the batch's pixels, the hardest first. Road and sky pixels that are already right
then stop diluting the gradient of the thin structures (poles, signs) and the boundaries.
"""

from __future__ import annotations

import math
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
    safe_labels,
    upcast,
    valid_mask,
)


def ohem_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    threshold: float = 0.7,
    min_kept: float = 1 / 16,
    weight: Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Mean cross-entropy over the hard pixels.

    A pixel is hard when the softmax probability of its true class is below ``threshold``
    (its loss above ``-log(threshold)``). When fewer than ``min_kept * N*H*W`` pixels are hard,
    the ``min_kept * N*H*W`` pixels of highest loss are kept instead. Hardness is judged on the
    unweighted loss; the kept pixels are averaged with the class weights, as
    :func:`~pixelwise.losses.cross_entropy.cross_entropy` averages.

    The selection uses ``topk`` and comparisons only: no host synchronisation, no
    data-dependent shapes.

    Args:
        logits: Raw scores; computed in float32 (or float64) whatever their dtype.
        target: Class indices, or ``ignore_index``.
        threshold: True-class probability under which a pixel is hard, in ``(0, 1]``.
        min_kept: Least fraction of the batch's pixels to keep, in ``(0, 1]``.
        weight: Optional per-class weights ``(C,)``.
        ignore_index: Label of pixels left out (``None``: none).

    Returns:
        A scalar tensor; 0 for a batch whose pixels are all ignored.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="ohem_cross_entropy")
    check_class_weights(weight, logits.shape[1], loss="ohem_cross_entropy")
    if not 0.0 < threshold <= 1.0 or not 0.0 < min_kept <= 1.0:
        raise ValueError(f"ohem_cross_entropy: threshold and min_kept must be in (0, 1], got {threshold} and {min_kept}")
    valid = valid_mask(target, ignore_index=ignore_index)  # (N, H, W)
    labels = safe_labels(target, valid)
    pixel = F.cross_entropy(upcast(logits), labels, reduction="none")  # (N, H, W)
    pixel = torch.where(valid, pixel, torch.zeros_like(pixel))  # ignored pixels: never hard
    kept_count = max(1, min(pixel.numel(), math.ceil(min_kept * pixel.numel())))
    kth_highest = pixel.detach().flatten().topk(kept_count, sorted=False).values.min()
    cut = torch.minimum(kth_highest, pixel.new_tensor(-math.log(threshold)))
    kept = valid & (pixel >= cut)  # (N, H, W)
    pixel_weight = kept.to(pixel.dtype)
    if weight is not None:
        pixel_weight = pixel_weight * weight.to(device=pixel.device, dtype=pixel.dtype)[labels]
    return (pixel * pixel_weight).sum() / pixel_weight.sum().clamp_min(1e-12)


@register_loss("ohem_ce")
class OhemCrossEntropyLoss(nn.Module):
    """Module form of :func:`ohem_cross_entropy`.

    Args:
        class_weights: Optional per-class weights ``(C,)``.
        ignore_index: Label of pixels left out (``None``: none).
        threshold: True-class probability under which a pixel is hard (BiSeNet, STDC: 0.7).
        min_kept: Least fraction of the batch's pixels kept (BiSeNet: 1/16).
    """

    def __init__(
        self,
        *,
        class_weights: Tensor | Sequence[float] | None = None,
        ignore_index: int | None = IGNORE_INDEX,
        threshold: float = 0.7,
        min_kept: float = 1 / 16,
    ) -> None:
        super().__init__()
        self.register_buffer("class_weights", as_class_weights(class_weights), persistent=False)
        self.ignore_index = ignore_index
        self.threshold = threshold
        self.min_kept = min_kept

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return ohem_cross_entropy(
            logits, target, threshold=self.threshold, min_kept=self.min_kept,
            weight=self.class_weights, ignore_index=self.ignore_index,
        )
