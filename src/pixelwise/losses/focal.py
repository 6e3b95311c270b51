"""Softmax focal loss (Lin et al. 2017, https://arxiv.org/abs/1708.02002) for segmentation.

``FL = -alpha[y] * (1 - p_y)^gamma * log(p_y)`` per pixel, where ``p_y`` is the softmax
probability of the true class. The factor ``(1 - p_y)^gamma`` shrinks the loss of pixels
already classified well, so training concentrates on the hard ones; ``gamma=0`` and no
``alpha`` give plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import (
    as_class_weights,
    check_class_weights,
    check_logits_and_target,
    masked_mean,
    safe_labels,
    upcast,
    valid_mask,
)


def focal_loss(
    logits: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Mean softmax focal loss over the pixels that count.

    The mean is a plain mean over pixels (not divided by the sum of ``alpha``, unlike
    weighted cross-entropy); a batch with no pixel that counts gives 0.

    Args:
        logits: Raw scores, ``C >= 2``; computed in float32 (or float64).
        target: Class indices, or ``ignore_index``.
        gamma: Focusing parameter ``>= 0`` (2 in the paper).
        alpha: Optional per-class factors ``(C,)``, e.g. class weights.
        ignore_index: Label of pixels left out (``None``: none).

    Returns:
        A scalar tensor.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="focal_loss")
    check_class_weights(alpha, logits.shape[1], loss="focal_loss")
    if gamma < 0:
        raise ValueError(f"focal_loss: gamma must be >= 0, got {gamma}")
    valid = valid_mask(target, ignore_index=ignore_index)  # (N, H, W)
    labels = safe_labels(target, valid)
    log_probs = F.log_softmax(upcast(logits), dim=1)  # (N, C, H, W)
    log_p_true = log_probs.gather(1, labels.unsqueeze(1)).squeeze(1)  # (N, H, W)
    # clamp: exp(log p) can round a hair above 1, and a negative base breaks a fractional gamma
    modulating = (1.0 - log_p_true.exp()).clamp_min(0.0).pow(gamma)
    per_pixel = -modulating * log_p_true
    if alpha is not None:
        per_pixel = per_pixel * alpha.to(per_pixel)[labels]
    return masked_mean(per_pixel, valid)


@register_loss("focal")
class FocalLoss(nn.Module):
    """Module form of :func:`focal_loss`.

    Args:
        gamma: Focusing parameter ``>= 0``.
        class_weights: Optional per-class factors ``alpha`` ``(C,)``; a buffer.
        ignore_index: Label of pixels left out (``None``: none).
    """

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        class_weights: Tensor | Sequence[float] | None = None,
        ignore_index: int | None = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("class_weights", as_class_weights(class_weights), persistent=False)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return focal_loss(logits, target, gamma=self.gamma, alpha=self.class_weights, ignore_index=self.ignore_index)

