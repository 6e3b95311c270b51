"""The shape every pixelwise model shares: encoder -> decoder -> head -> back to the input size.

``forward`` is written once, here. An architecture file only assembles three parts, each with
one job:

- the **encoder** returns a list of feature maps, shallow to deep, and reports ``out_channels``
  and ``reductions`` for them (SegNet's list also carries its pooling indices, ``segnet.py``);
- the **decoder** turns that list into the features the head reads: one feature map, or for the
  two architectures that classify at several strides and sum the scores (FCN's skips, LR-ASPP's
  two branches) the list of those maps, shallow to deep. A decoder computes no class scores;
- the **head**, and only the head, maps them to class scores. Every layer whose shape depends on
  ``num_classes`` lives in the head (or the auxiliary head), so a new head retargets a model.
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

    The input is zero-padded to a multiple of ``size_divisor``, the encoder's deepest stride, and
    the logits cropped back. Every stride-2 step then halves its input exactly, so each feature is
    exactly ``1 / reduction`` of the padded input: U-Net's concatenations, FCN's score sums and
    SegNet's unpooling line up without crops. Padding to the deepest stride is enough for every
    model here; the dilated encoders of PSPNet and DeepLab report their output stride (8 or 16)
    as their deepest reduction, so they pad less.

    Args:
        encoder: Returns a list of features, shallow to deep; its ``reductions`` set ``size_divisor``.
        decoder: Maps that list to the features the head reads (see the module docstring).
        head: Maps the decoder output to class scores (any stride; resized here).
        aux_head: Optional auxiliary classifier on ``encoder`` features (PSPNet, DeepLab);
            returned only when ``forward(..., return_aux=True)``.
        aux_index: Which encoder feature the auxiliary head reads.

    Attributes:
        size_divisor: ``max(encoder.reductions)``: H and W are padded to a multiple of it.

    Shape:
        input ``(N, C_in, H, W)`` -> logits ``(N, num_classes, H, W)``.
    """

    def __init__(
        self,
        *,
        encoder: Encoder,
        decoder: nn.Module,
        head: nn.Module,
        aux_head: nn.Module | None = None,
        aux_index: int = -2,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.aux_head = aux_head
        self.size_divisor = max(encoder.reductions)
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
