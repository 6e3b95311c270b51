"""Lovász-softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018, https://arxiv.org/abs/1705.08790).

A convex surrogate of the per-class Jaccard loss ``1 - IoU``: the Lovász extension of the
Jaccard set function, evaluated at the vector of pixel errors ``m_i = |fg_i - p_i|``. When
the probabilities are hard (0/1) it equals ``1 - IoU`` exactly.

This is a port of the authors' reference ``lovasz_softmax`` / ``lovasz_grad``
(github.com/bermanmaxim/LovaszSoftmax, ``pytorch/lovasz_losses.py``), vectorised over
classes and images so that it needs no Python loop and no host synchronisation. Ignored
pixels are given error 0 and foreground 0: they sort after every pixel with a positive
error and so change neither the value nor the gradient, exactly as if they were removed.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import (
    check_logits_and_target,
    one_hot,
    upcast,
    valid_mask,
)


def lovasz_grad(fg_sorted: Tensor) -> Tensor:
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. the sorted errors.

    Algorithm 1 of the paper: with pixels sorted by decreasing error, entry ``i`` is
    ``J(i) - J(i-1)`` where ``J(i) = 1 - |fg ∩ rest_i| / |fg ∪ first_i|`` is the Jaccard loss
    when the first ``i`` pixels are the mistakes.

    Args:
        fg_sorted: 0/1 foreground indicators, sorted by decreasing error along the last axis.

    Returns:
        A tensor of the same shape.

    Shape:
        fg_sorted: ``(..., P)``.
    """
    gts = fg_sorted.sum(-1, keepdim=True)  # (..., 1)
    intersection = gts - fg_sorted.cumsum(-1)  # (..., P)
    union = gts + (1.0 - fg_sorted).cumsum(-1)  # (..., P), >= 1 everywhere
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)


def lovasz_softmax(
    logits: Tensor,
    target: Tensor,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    per_image: bool = False,
    classes: Literal["present", "all"] = "present",
) -> Tensor:
    """Multiclass Lovász-softmax loss on ``softmax(logits)``.

    Args:
        logits: Raw scores, ``C >= 2``; computed in float32 (or float64).
        target: Class indices, or ``ignore_index``.
        ignore_index: Label of pixels left out (``None``: none).
        per_image: Compute the loss per image and average the images (an image with no
            pixel that counts adds 0, as in the reference); otherwise treat the batch as
            one image.
        classes: ``"present"`` averages over the classes present in the target,
            ``"all"`` over every class.

    Returns:
        A scalar tensor.

    Shape:
        logits: ``(N, C, H, W)``; target: ``(N, H, W)`` int64.
    """
    check_logits_and_target(logits, target, loss="lovasz_softmax")
    if classes not in ("present", "all"):
        raise ValueError(f"lovasz_softmax: classes must be 'present' or 'all', got {classes!r}")
    n, c = logits.shape[:2]
    probs = upcast(logits).softmax(dim=1).reshape(n, c, -1)  # (N, C, P)
    valid = valid_mask(target, ignore_index=ignore_index).reshape(n, 1, -1)  # (N, 1, P)
    fg = one_hot(target.reshape(n, -1), num_classes=c) * valid  # (N, C, P)
    if not per_image:
        probs = probs.transpose(0, 1).reshape(1, c, -1)  # (1, C, N*P)
        fg = fg.transpose(0, 1).reshape(1, c, -1)  # (1, C, N*P)
        valid = valid.transpose(0, 1).reshape(1, 1, -1)  # (1, 1, N*P)
    errors = torch.where(valid, (fg - probs).abs(), torch.zeros_like(probs))  # (B, C, P)
    errors_sorted, order = errors.sort(dim=-1, descending=True)
    fg_sorted = fg.gather(-1, order)
    # The reference detaches the Lovász gradient (it depends on the sort only, not on p).
    losses = (errors_sorted * lovasz_grad(fg_sorted)).sum(-1)  # (B, C)
    if classes == "present":
        counted = fg.sum(-1) > 0  # (B, C)
    else:
        counted = torch.ones_like(losses, dtype=torch.bool)
    per_group = torch.where(counted, losses, torch.zeros_like(losses)).sum(-1) / counted.sum(-1).clamp_min(1)  # (B,)
    return per_group.mean()


@register_loss("lovasz")
class LovaszSoftmaxLoss(nn.Module):
    """Module form of :func:`lovasz_softmax`.

    Args:
        ignore_index: Label of pixels left out (``None``: none).
        per_image: Average per-image losses instead of one loss over the batch.
        classes: ``"present"`` or ``"all"``: which classes are averaged.
    """

    def __init__(
        self,
        *,
        ignore_index: int | None = IGNORE_INDEX,
        per_image: bool = False,
        classes: Literal["present", "all"] = "present",
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.per_image = per_image
        self.classes = classes

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return lovasz_softmax(
            logits, target, ignore_index=self.ignore_index, per_image=self.per_image, classes=self.classes
        )
