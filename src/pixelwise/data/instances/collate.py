"""Batching for instance data: lists, not stacked tensors (torchvision's detection convention)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from pixelwise.data.instances.base import Target


def collate_instances(samples: Sequence[tuple[Tensor, Target]]) -> tuple[list[Tensor], list[Target]]:
    """``[(image, target), ...] -> ([image, ...], [target, ...])``: images may differ in size and
    targets in instance count, so nothing is stacked; detection models take the two lists as is.

    Use as ``DataLoader(dataset, collate_fn=collate_instances)``.
    """
    images = [image for image, _ in samples]
    targets = [target for _, target in samples]
    return images, targets
