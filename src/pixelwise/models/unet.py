"""U-Net: Convolutional Networks for Biomedical Image Segmentation.

Ronneberger, Fischer, Brox, MICCAI 2015 — https://arxiv.org/abs/1505.04597

The course's version: an encoder of double-conv blocks 64-128-256-512 with 2x2 max-pooling,
a 1024-channel bottleneck, and a decoder of 2x2 transposed convolutions whose output is
concatenated with the matching encoder feature before another double-conv. Unlike the paper
the convolutions are padded (output size = input size) and use BatchNorm. With 3 input
channels and 1 class it has 31,043,521 parameters, as in the course's layer summary.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pixelwise.models.base import Encoder, SegmentationModel
from pixelwise.models.blocks import DoubleConv
from pixelwise.models.registry import register_model


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
    """Upsample 2x (transposed conv, or nearest/bilinear + 1x1 conv), concatenate the skip, double-conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, *, upsampling: str):
        super().__init__()
        if upsampling == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        elif upsampling in ("nearest", "bilinear"):
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode=upsampling, **({"align_corners": False} if upsampling == "bilinear" else {})),
                nn.Conv2d(in_channels, out_channels, kernel_size=1),
            )
        else:
            raise ValueError(f"unknown upsampling {upsampling!r}; choose 'transpose', 'nearest' or 'bilinear'")
        self.conv = DoubleConv(out_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)  # (N, C_out, 2H, 2W)
        return self.conv(torch.cat([skip, x], dim=1))  # (N, C_out, 2H, 2W)


class UNetDecoder(nn.Module):
    """Walks the encoder features from deepest to shallowest, one :class:`UpBlock` per skip."""

    def __init__(self, *, encoder_channels: list[int], decoder_channels: list[int], upsampling: str):
        super().__init__()
        skips = encoder_channels[:-1][::-1]
        inputs = [encoder_channels[-1], *decoder_channels[:-1]]
        self.blocks = nn.ModuleList(
            UpBlock(i, s, o, upsampling=upsampling) for i, s, o in zip(inputs, skips, decoder_channels, strict=True)
        )
        self.out_channels = decoder_channels[-1]

    def forward(self, features: list[Tensor]) -> Tensor:
        x, skips = features[-1], features[:-1][::-1]
        for block, skip in zip(self.blocks, skips, strict=True):
            x = block(x, skip)
        return x


@register_model("unet")
def unet(
    *,
    num_classes: int,
    in_channels: int = 3,
    base_channels: int = 64,
    depth: int = 4,
    upsampling: str = "transpose",
) -> SegmentationModel:
    """The classic U-Net of the course material.

    Args:
        num_classes: Output classes.
        in_channels: Input channels (3 for RGB, 1 for EM slices).
        base_channels: Width of the first block; each of the ``depth`` poolings doubles it
            (64 -> 1024 in the paper; 16 or 32 give small CPU models).
        depth: Number of 2x2 poolings (4 in the paper).
        upsampling: ``"transpose"`` (paper: 2x2 transposed conv), ``"nearest"`` or ``"bilinear"``.
    """
    widths = [base_channels * 2**i for i in range(depth + 1)]
    encoder = UNetEncoder(in_channels=in_channels, widths=widths)
    decoder = UNetDecoder(encoder_channels=widths, decoder_channels=widths[:-1][::-1], upsampling=upsampling)
    head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
    return SegmentationModel(encoder=encoder, decoder=decoder, head=head, size_divisor=2**depth)
