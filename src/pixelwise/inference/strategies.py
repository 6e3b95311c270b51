"""How a forward function is applied to an image: whole, resized, mirrored (test-time augmentation).

A strategy wraps any ``forward(x (N, C, h, w) normalised) -> logits (N, K, h, w)`` — an eager
PyTorch model, an ONNX Runtime session — and returns logits at the input's size, so every
original pixel is scored. Strategies are options of a predictor, not copies of it; sliding
windows and multi-scale averaging plug in here as further options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.errors import PixelwiseError

Forward = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Strategy:
    """Inference options shared by every backend.

    Attributes:
        scale: Run the network on the image resized by this factor; logits are upsampled back.
        short_side: Instead, resize so that the shorter side is this many pixels (``None``: use ``scale``).
        flip: Horizontal-flip test-time augmentation: the logits of the image and of its mirror image
            (mirrored back) are averaged, at twice the cost.
    """

    scale: float = 1.0
    short_side: int | None = None
    flip: bool = False

    def __post_init__(self) -> None:
        if not self.scale > 0 or (self.short_side is not None and self.short_side < 1):
            raise PixelwiseError(f"input scale {self.scale} / short side {self.short_side}: both must be positive")

    def __call__(self, forward: Forward, x: Tensor) -> Tensor:
        """Logits ``(N, K, H, W)`` for normalised images ``x`` ``(N, C, H, W)``."""
        return forward_at_scale(forward, x, scale=self.scale, short_side=self.short_side, flip=self.flip)


def forward_at_scale(
    forward: Forward, image: Tensor, *, scale: float = 1.0, short_side: int | None = None, flip: bool = False
) -> Tensor:
    """Logits at the input's size for a network run on the image resized by ``scale``
    (or resized so that its shorter side is ``short_side``).

    Shrinking the input (``scale < 1``) makes inference cheaper; the logits are upsampled
    bilinearly back, so scores still count every original pixel. ``flip`` averages the logits of
    the image and of its mirror image (mirrored back), at twice the cost.
    """
    if flip:
        both = forward_at_scale(forward, torch.cat([image, image.flip(-1)]), scale=scale, short_side=short_side)
        plain, mirrored = both.chunk(2)
        return (plain + mirrored.flip(-1)) / 2
    if short_side is not None:
        scale = short_side / min(image.shape[-2:])
    if scale == 1.0:
        return forward(image)
    height, width = image.shape[-2:]
    if int(height * scale) < 1 or int(width * scale) < 1:  # a sliver of an image: keep at least one pixel
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        small = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    else:
        small = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False, antialias=scale < 1)
    logits = forward(small)  # (N, K, sH, sW)
    return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)  # (N, K, H, W)

