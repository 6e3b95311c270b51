"""BCE-with-logits + soft Dice: the two-loss training of binary (and one-vs-all) segmentation.

Binary cross-entropy gives every pixel a well-behaved gradient; Dice optimises the overlap
directly and does not drown a small foreground in background pixels. Their sum is the
usual recipe for foreground/background tasks such as pet or lesion segmentation.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.dice import binary_dice_loss
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import (
    check_logits_and_target,
    masked_mean,
    sigmoid_targets,
    upcast,
)


def binary_cross_entropy(logits: Tensor, target: Tensor, *, ignore_index: int | None = IGNORE_INDEX) -> Tensor:
    """Sigmoid BCE averaged over every (pixel, channel) that counts.

    With one channel, label 1 is the foreground; with ``C`` channels each channel is the
    one-vs-all problem of its class. A batch with no pixel that counts gives 0.

    Args:
        logits: Raw scores; computed in float32 (or float64).
        target: Class indices (0/1 for binary), or ``ignore_index``.
        ignore_index: Label of pixels left out (``None``: none).

    Returns:
        A scalar tensor.

    Shape:
        logits: ``(N, C, H, W)`` with ``C >= 1``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="binary_cross_entropy")
    targets, valid = sigmoid_targets(logits, target, ignore_index=ignore_index)
    per_element = F.binary_cross_entropy_with_logits(upcast(logits), targets, reduction="none")  # (N, C, H, W)
    return masked_mean(per_element, valid)


def bce_dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    smooth: float = 1.0,
) -> Tensor:
    """``bce_weight * BCE + dice_weight * (1 - Dice)``, both on ``sigmoid(logits)``.

    Args:
        logits: Raw scores, one channel (binary) or ``C`` channels (one-vs-all).
        target: Class indices (0/1 for binary), or ``ignore_index``.
        ignore_index: Label of pixels left out (``None``: none).
        bce_weight: Factor of :func:`binary_cross_entropy`.
        dice_weight: Factor of :func:`pixelwise.losses.dice.binary_dice_loss`.
        smooth: Dice smoothing term.

    Returns:
        A scalar tensor.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    bce = binary_cross_entropy(logits, target, ignore_index=ignore_index)
    dice = binary_dice_loss(logits, target, ignore_index=ignore_index, smooth=smooth)
    return bce_weight * bce + dice_weight * dice


@register_loss("bce_dice")
class BCEDiceLoss(nn.Module):
    """Module form of :func:`bce_dice_loss`.

    Args:
        ignore_index: Label of pixels left out (``None``: none).
        bce_weight: Factor of the BCE term.
        dice_weight: Factor of the Dice term.
        smooth: Dice smoothing term.
    """

    def __init__(
        self,
        *,
        ignore_index: int | None = IGNORE_INDEX,
        bce_weight: float = 1.0,
        dice_weight: float = 1.0,
        smooth: float = 1.0,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.bce_weight = bce_weight
        self.dice_weight = dice_weight
        self.smooth = smooth

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return bce_dice_loss(
            logits,
            target,
            ignore_index=self.ignore_index,
            bce_weight=self.bce_weight,
            dice_weight=self.dice_weight,
            smooth=self.smooth,
        )
