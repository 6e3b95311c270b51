"""Test-time augmentation: a mirror image within a scale, several scales averaged.

Two rules, each the established one:

- **flip** (within one scale): the logits of the image and of its mirror image, mirrored back, are
  averaged. This is what ``--flip`` has always done here, kept bit for bit so that the flip scores
  recorded in ``docs/recipes`` stay reproducible; with logits this also commutes with the linear
  blending of sliding windows, so a windowed flip needs no second accumulator.
- **scales** (across scales): each scale's logits, resized to the image, go through a softmax and the
  probabilities are averaged, as MMSegmentation's ``aug_test`` does. Logits of different scales are not
  on a common footing (a network is more confident at its training scale); probabilities are.

A single scale returns its logits unchanged; several return the log of the mean probability, so the
result is still a score whose argmax is the prediction and whose softmax is the probability.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Forward = Callable[[Tensor], Tensor]


def mirrored_mean(forward: Forward, x: Tensor) -> Tensor:
    """The mean of the logits of ``x`` and of its mirror image (mirrored back), from one forward of twice the batch.

    Shape:
        x: ``(N, C, H, W)`` -> ``(N, K, H, W)``.
    """
    plain, mirrored = forward(torch.cat([x, x.flip(-1)])).chunk(2)  # (N, K, H, W) each
    return (plain + mirrored.flip(-1)) / 2


def average_scales(scores: list[Tensor], *, dim: int) -> Tensor:
    """One scale's logits as they are; several scales' logits -> ``log`` of their mean softmax over ``dim``.

    Shape:
        every entry of ``scores``: the same shape, classes along ``dim`` -> that shape.
    """
    if len(scores) == 1:
        return scores[0]
    total = torch.softmax(scores[0].float(), dim=dim)
    for score in scores[1:]:
        total += torch.softmax(score.float(), dim=dim)
    return (total / len(scores)).log()
