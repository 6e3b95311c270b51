"""The shape every pixelwise model shares: encoder -> decoder -> head -> back to the input size.

``forward`` is written once, here. An architecture file only assembles an encoder
(which reports ``out_channels`` and ``reductions`` for the features it returns), a
decoder that consumes that list of features, and a head that produces class scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError


class Encoder(nn.Module):
    """Contract for encoders: ``forward(x)`` returns a list of feature maps, shallow to deep.

    Decoders read only these attributes, never the encoder's name or class.

    Attributes:
        out_channels: Channels of each returned feature map.
        reductions: Stride of each feature map relative to the input (1, 2, 4, ...).
        frozen: Set by :meth:`freeze`; a frozen encoder stays in eval mode (BatchNorm keeps its
            statistics) and its parameters get no gradient.
    """

    out_channels: list[int]
    reductions: list[int]
    frozen: bool = False

    def freeze(self) -> None:
        """Stop training the encoder: no gradients, BatchNorm statistics fixed (like Keras ``trainable=False``)."""
        self.frozen = True
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Encoder:
        # A frozen encoder ignores model.train(): updating BatchNorm statistics would change it.
        return super().train(mode and not self.frozen)


def feature_index(reductions: Sequence[int], stride: int) -> int:
    """Index of the deepest encoder feature at ``stride``; a one-line error when there is none.

    Decoders pick their inputs this way (FCN: strides 8, 16, 32; DeepLabv3+: 4), so any encoder
    that has features at those strides fits.
    """
    for index in reversed(range(len(reductions))):
        if reductions[index] == stride:
            return index
    raise PixelwiseError(
        f"this architecture needs an encoder feature at stride {stride}, but the encoder gives strides "
        f"{list(reductions)}; choose another encoder"
    )


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Zero-pad ``x`` at the bottom and right so that H and W are multiples of ``multiple``."""
    height, width = x.shape[-2:]
    # Written as ceil(H / m) * m - H: an exporter tracing symbolic sizes then sees every deeper
    # size as a plain multiple of ceil(H / m), which keeps its shape reasoning simple and fast.
    # No early return for pad 0: a branch on the size would be frozen into an exported graph.
    pad_h = (height + multiple - 1) // multiple * multiple - height
    pad_w = (width + multiple - 1) // multiple * multiple - width
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
            raise PixelwiseError("this model has no auxiliary head; build it with aux=True (PSPNet, DeepLabv3)")
        aux = _to_input_size(self.aux_head(features[self.aux_index]), x.shape[-2:], height, width)
        return logits, aux


def _to_input_size(logits: Tensor, padded_size: tuple[int, int], height: int, width: int) -> Tensor:
    if tuple(logits.shape[-2:]) != tuple(padded_size):
        logits = F.interpolate(logits, size=padded_size, mode="bilinear", align_corners=False)
    return logits[..., :height, :width]  # (N, num_classes, H, W)
