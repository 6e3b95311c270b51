"""U-Net: Convolutional Networks for Biomedical Image Segmentation.

Ronneberger, Fischer, Brox, MICCAI 2015 — https://arxiv.org/abs/1505.04597

The course's version: an encoder of double-conv blocks 64-128-256-512 with 2x2 max-pooling,
a 1024-channel bottleneck, and a decoder of 2x2 transposed convolutions whose output is
concatenated with the matching encoder feature before another double-conv. Unlike the paper
the convolutions are padded (output size = input size) and use BatchNorm. With 3 input
channels and 1 class it has 31,043,521 parameters, as in the course's layer summary.

With ``encoder=NAME`` the same decoder runs on any encoder (ResNet, MobileNet, any timm model):
one up-block per skip connection, then up-blocks without a skip until stride 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder, SegmentationModel
from pixelwise.models.blocks import DoubleConv
from pixelwise.models.encoders import create_encoder
from pixelwise.models.registry import register_model
from pixelwise.models.upsample import Upsample, check_upsampling

ENCODER_DECODER_CHANNELS = (256, 128, 64, 32, 16)
"""Decoder widths on a named encoder, deepest first (cut or extended to the number of blocks)."""


class UNetEncoder(Encoder):
    """Double-conv blocks with 2x2 max-pooling between them; returns every block's output.

    Args:
        in_channels: Input image channels.
        widths: Channels of each block, the last being the bottleneck (paper: 64..1024).
    """

    def __init__(self, *, in_channels: int, widths: list[int]):
        super().__init__()
        self.blocks = nn.ModuleList()
        previous = in_channels
        for width in widths:
            self.blocks.append(DoubleConv(previous, width))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.out_channels = list(widths)
        self.reductions = [2**i for i in range(len(widths))]

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for index, block in enumerate(self.blocks):
            if index > 0:
                x = self.pool(x)  # (N, C, H/2, W/2)
            x = block(x)
            features.append(x)
        return features


class UpBlock(nn.Module):
    """Upsample (transposed conv, or nearest/bilinear + 1x1 conv), concatenate the skip if any, double-conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, *, upsampling: str, scale: int = 2):
        super().__init__()
        self.up = Upsample(in_channels, out_channels, scale=scale, mode=upsampling)
        self.conv = DoubleConv(out_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        x = self.up(x)  # (N, C_out, s*H, s*W)
        if skip is not None:
            x = torch.cat([skip, x], dim=1)  # (N, C_skip + C_out, s*H, s*W)
        return self.conv(x)  # (N, C_out, s*H, s*W)


def decoder_depth(reductions: Sequence[int]) -> int:
    """Up-blocks needed: one per skip, then one per factor 2 left from the shallowest feature to stride 1."""
    return len(reductions) - 1 + int(math.log2(reductions[0]))


class UNetDecoder(nn.Module):
    """Walks the encoder features from deepest to shallowest, one :class:`UpBlock` per skip.

    Args:
        encoder_channels: Channels of each encoder feature, shallow to deep.
        reductions: Stride of each encoder feature (each a power of 2, strictly increasing).
        decoder_channels: Output channels of each up-block, deepest first; at most
            ``decoder_depth(reductions)`` entries. Fewer stop the decoder early: with ``k`` fewer, its
            output is at stride ``2**k`` and the model upsamples the logits bilinearly (a cheap
            decoder for CPUs: the full-resolution blocks cost the most and add least).
        upsampling: ``"transpose"``, ``"nearest"`` or ``"bilinear"``.

    Shape:
        list of encoder features -> ``(N, decoder_channels[-1], H, W)``.
    """

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        reductions: Sequence[int],
        decoder_channels: Sequence[int],
        upsampling: str,
    ):
        super().__init__()
        if any(b <= a or b % a for a, b in zip(reductions, reductions[1:], strict=False)) or reductions[0] & (reductions[0] - 1):
            raise PixelwiseError(f"U-Net needs encoder strides that grow by powers of 2, got {list(reductions)}")
        if not 1 <= len(decoder_channels) <= decoder_depth(reductions):
            raise PixelwiseError(
                f"decoder_channels takes 1 to {decoder_depth(reductions)} widths for encoder strides {list(reductions)}, "
                f"got {list(decoder_channels)}"
            )
        skips = list(encoder_channels[:-1][::-1]) + [0] * (len(decoder_channels) - len(encoder_channels) + 1)
        scales = [b // a for a, b in zip(reductions, reductions[1:], strict=False)][::-1]
        scales += [2] * (len(decoder_channels) - len(scales))
        inputs = [encoder_channels[-1], *decoder_channels[:-1]]
        blocks = len(decoder_channels)  # fewer than decoder_depth: the decoder stops early
        self.blocks = nn.ModuleList(
            UpBlock(i, s, o, upsampling=upsampling, scale=k)
            for i, s, o, k in zip(inputs, skips[:blocks], decoder_channels, scales[:blocks], strict=True)
        )
        self.out_channels = decoder_channels[-1]

    def forward(self, features: list[Tensor]) -> Tensor:
        x, skips = features[-1], features[:-1][::-1]
        for index, block in enumerate(self.blocks):
            x = block(x, skips[index] if index < len(skips) else None)
        return x


@register_model("unet")
def unet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str | None = None,
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    base_channels: int = 64,
    depth: int = 4,
    decoder_channels: Sequence[int] | None = None,
    upsampling: str = "transpose",
) -> SegmentationModel:
    """The classic U-Net of the course material, or the U-Net decoder on a named encoder.

    Args:
        num_classes: Output classes.
        in_channels: Input channels (3 for RGB, 1 for EM slices).
        encoder: ``None`` for the paper's encoder; otherwise any encoder name (``"resnet34"``,
            ``"mobilenetv2_100"``, ``"vgg16_bn"``, timm names).
        pretrained: ``None``, ``"imagenet"`` or a weights file (named encoders only).
        freeze_encoder: Train only the decoder.
        encoder_options: Extra options for a named encoder.
        base_channels: Width of the paper encoder's first block; each of the ``depth`` poolings
            doubles it (64 -> 1024 in the paper; 16 or 32 give small CPU models).
        depth: Number of 2x2 poolings of the paper encoder (4 in the paper).
        decoder_channels: Up-block widths, deepest first. Default: the paper encoder's widths
            mirrored, or 256, 128, 64, 32, 16 on a named encoder.
        upsampling: ``"transpose"`` (paper: 2x2 transposed conv), ``"nearest"`` or ``"bilinear"``.
    """
    check_upsampling(upsampling)
    if encoder is None:
        if pretrained is not None:
            raise PixelwiseError("the paper's U-Net encoder has no pretrained weights; pass encoder='resnet34' (say)")
        widths = [base_channels * 2**i for i in range(depth + 1)]
        encoder_module: Encoder = UNetEncoder(in_channels=in_channels, widths=widths)
        if freeze_encoder:
            encoder_module.freeze()
        default_widths: Sequence[int] = widths[:-1][::-1]
    else:
        encoder_module = create_encoder(
            encoder, in_channels=in_channels, pretrained=pretrained, freeze=freeze_encoder, options=encoder_options
        )
        blocks = decoder_depth(encoder_module.reductions)
        default_widths = [*ENCODER_DECODER_CHANNELS, *[16] * blocks][:blocks]
    decoder = UNetDecoder(
        encoder_channels=encoder_module.out_channels,
        reductions=encoder_module.reductions,
        decoder_channels=default_widths if decoder_channels is None else decoder_channels,
        upsampling=upsampling,
    )
    head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
    return SegmentationModel(encoder=encoder_module, decoder=decoder, head=head)
