"""The shape every pixelwise model shares: encoder -> decoder -> head -> back to the input size.

``forward`` is written once, here. An architecture file only assembles an encoder
(which reports ``out_channels`` and ``reductions`` for the features it returns), a
decoder that consumes that list of features, and a head that produces class scores.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class Encoder(nn.Module):
    """Contract for encoders: ``forward(x)`` returns a list of feature maps.

    Attributes:
        out_channels: Channels of each returned feature map.
        reductions: Stride of each feature map relative to the input (1, 2, 4, ...).
    """

    out_channels: list[int]
    reductions: list[int]


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Zero-pad ``x`` at the bottom and right so that H and W are multiples of ``multiple``."""
    height, width = x.shape[-2:]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h))


class SegmentationModel(nn.Module):
    """encoder -> decoder -> head, with padding for any input size.

    Args:
        encoder: Returns a list of features for an input padded to ``size_divisor``.
        decoder: Maps that list of features to one feature map.
        head: Maps the decoder output to class scores (any stride; resized here).
        size_divisor: The input is zero-padded to a multiple of this, then cropped back.
        aux_head: Optional auxiliary classifier on ``encoder`` features (PSPNet, DeepLab);
            returned only when ``forward(..., return_aux=True)``.
        aux_index: Which encoder feature the auxiliary head reads.

    Shape:
        input ``(N, C_in, H, W)`` -> logits ``(N, num_classes, H, W)``.
    """

    def __init__(
        self,
        *,
        encoder: nn.Module,
        decoder: nn.Module,
        head: nn.Module,
        size_divisor: int,
        aux_head: nn.Module | None = None,
        aux_index: int = -2,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.aux_head = aux_head
        self.size_divisor = size_divisor
        self.aux_index = aux_index

    def forward(self, x: Tensor, *, return_aux: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.size_divisor)  # (N, C_in, H', W')
        features = self.encoder(x)  # list of (N, C_i, H'/r_i, W'/r_i)
        logits = _to_input_size(self.head(self.decoder(features)), x.shape[-2:], height, width)
        if not return_aux:
            return logits
        if self.aux_head is None:
            raise ValueError(f"{type(self).__name__} has no auxiliary head; build it with aux=True")
        aux = _to_input_size(self.aux_head(features[self.aux_index]), x.shape[-2:], height, width)
        return logits, aux


def _to_input_size(logits: Tensor, padded_size: tuple[int, int], height: int, width: int) -> Tensor:
    if tuple(logits.shape[-2:]) != tuple(padded_size):
        logits = F.interpolate(logits, size=padded_size, mode="bilinear", align_corners=False)
    return logits[..., :height, :width]  # (N, num_classes, H, W)
