"""Soft Dice loss: multiclass (softmax) and binary or one-vs-all (sigmoid).

Dice = ``2 |P ∩ T| / (|P| + |T|)`` with the hard sets replaced by probabilities
(Milletari et al. 2016, V-Net, https://arxiv.org/abs/1606.04797). Sums run over the whole
batch (every image and pixel that counts), then the per-class scores are averaged.

The ``smooth`` term is added to numerator and denominator:
``dice_c = (2 * intersection_c + smooth) / (|P_c| + |T_c| + smooth)``. It keeps a class
absent from both prediction and truth at dice 1 (loss 0) instead of 0/0, and softens the
gradient of tiny classes; with thousands of pixels per batch its effect on present classes
is negligible. With ``smooth=0`` an empty class scores 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import (
    check_logits_and_target,
    safe_labels,
    sigmoid_targets,
    upcast,
    valid_mask,
)


def soft_dice_scores(probs: Tensor, targets: Tensor, valid: Tensor, *, smooth: float = 1.0) -> Tensor:
    """Per-class soft Dice over the whole batch.

    Args:
        probs: Probabilities in ``[0, 1]``.
        targets: 0/1 (or soft) targets, same shape as ``probs``.
        valid: Bool mask of the pixels that count, broadcastable to ``probs``.
        smooth: Added to numerator and denominator (see the module docstring).

    Returns:
        ``(C,)`` Dice scores.

    Shape:
        probs, targets: ``(N, C, *S)``; valid: ``(N, 1, *S)``.
    """
    probs = torch.where(valid, probs, torch.zeros_like(probs))  # ignored pixels: no mass, no gradient
    targets = torch.where(valid, targets, torch.zeros_like(targets))
    dims = [0, *range(2, probs.ndim)]  # everything but the class axis
    intersection = (probs * targets).sum(dims)  # (C,)
    cardinality = probs.sum(dims) + targets.sum(dims)  # (C,)
    return (2.0 * intersection + smooth) / (cardinality + smooth).clamp_min(1e-7)


def dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    smooth: float = 1.0,
) -> Tensor:
    """Multiclass soft Dice loss: ``1 - mean`` of the per-class Dice of ``softmax(logits)``.

    The mean runs over the classes present in the batch's (non-ignored) target: a class
    absent from the truth has no region to overlap and would only add a constant. A batch
    with no pixel that counts gives 0.

    Args:
        logits: Raw scores, ``C >= 2``; computed in float32 (or float64).
        target: Class indices, or ``ignore_index``.
        ignore_index: Label of pixels left out (``None``: none).
        smooth: See the module docstring.

    Returns:
        A scalar tensor in ``[0, 1]``.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="dice_loss")
    if logits.shape[1] < 2:
        raise ValueError("dice_loss needs C >= 2 logit channels (softmax); use binary_dice_loss for one channel")
    probs = upcast(logits).softmax(dim=1)  # (N, C, H, W)
    valid = valid_mask(target, ignore_index=ignore_index)  # (N, H, W)
    scores, present = _softmax_dice_scores(probs, target, valid, smooth=smooth)  # (C,), (C,)
    losses = torch.where(present, 1.0 - scores, torch.zeros_like(scores))
    return losses.sum() / present.sum().clamp_min(1)


def _softmax_dice_scores(probs: Tensor, target: Tensor, valid: Tensor, *, smooth: float) -> tuple[Tensor, Tensor]:
    """:func:`soft_dice_scores` against class indices, and which classes the truth holds.

    The same sums without a one-hot tensor: the intersection of class ``c`` is the sum of the
    true-class probabilities of the pixels labelled ``c``, a scatter-add; the truth's size a count.
    Half the memory traffic of the one-hot form, which matters at ``(8, 11, 256, 256)``.

    Shape:
        probs: ``(N, C, *S)``; target, valid: ``(N, *S)``. Returns ``(C,)`` scores and ``(C,)`` bools.
    """
    num_classes = probs.shape[1]
    labels = safe_labels(target, valid)
    bins = torch.where(valid, target, torch.full_like(target, num_classes)).flatten()  # ignored pixels: an extra bin
    true_probs = probs.gather(1, labels.unsqueeze(1)).flatten()  # (N * prod(S),)
    intersection = probs.new_zeros(num_classes + 1).scatter_add_(0, bins, true_probs)[:num_classes]  # (C,)
    truth = probs.new_zeros(num_classes + 1).scatter_add_(0, bins, torch.ones_like(true_probs))[:num_classes]  # (C,)
    dims = [0, *range(2, probs.ndim)]
    predicted = (probs * valid.unsqueeze(1)).sum(dims)  # (C,) probability mass on the pixels that count
    return (2.0 * intersection + smooth) / (predicted + truth + smooth).clamp_min(1e-7), truth > 0


def binary_dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    smooth: float = 1.0,
) -> Tensor:
    """Sigmoid soft Dice loss: binary (one channel) or one-vs-all (``C`` channels).

    With one channel, label 1 is the foreground and every other label background; with
    ``C`` channels each is its own binary problem against the one-hot target, and the loss
    is ``1 - mean`` over all channels (an empty channel is rewarded for predicting nothing,
    through ``smooth``).

    Args:
        logits: Raw scores; computed in float32 (or float64).
        target: Class indices (0/1 for binary), or ``ignore_index``.
        ignore_index: Label of pixels left out (``None``: none).
        smooth: See the module docstring.

    Returns:
        A scalar tensor in ``[0, 1]``.

    Shape:
        logits: ``(N, C, H, W)`` with ``C >= 1``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="binary_dice_loss")
    targets, valid = sigmoid_targets(logits, target, ignore_index=ignore_index)
    scores = soft_dice_scores(upcast(logits).sigmoid(), targets, valid, smooth=smooth)  # (C,)
    return 1.0 - scores.mean()


@register_loss("dice")
class DiceLoss(nn.Module):
    """Soft Dice loss: :func:`dice_loss` (softmax) for ``C >= 2`` logit channels,
    :func:`binary_dice_loss` (sigmoid) for one channel.

    Args:
        ignore_index: Label of pixels left out (``None``: none).
        smooth: Added to numerator and denominator of each class's Dice.
    """

    def __init__(self, *, ignore_index: int | None = IGNORE_INDEX, smooth: float = 1.0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.smooth = smooth

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        loss = binary_dice_loss if logits.shape[1] == 1 else dice_loss
        return loss(logits, target, ignore_index=self.ignore_index, smooth=self.smooth)
