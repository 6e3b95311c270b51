"""DeepLabv3+: Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation.

Chen, Zhu, Papandreou, Schroff, Adam, ECCV 2018 — https://arxiv.org/abs/1802.02611

DeepLabv3's encoder and ASPP (output stride 16) plus a simple decoder: the ASPP output is
upsampled 4x and concatenated with the stride-4 encoder feature reduced to 48 channels by a
1x1 convolution; two 3x3 convolutions (256 filters) refine the result before the classifier,
whose output is upsampled 4x. ASPP and decoder convolutions are depthwise-separable, as in the
paper's Xception model (``separable=False`` gives ordinary convolutions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.models.base import SegmentationModel, feature_index
from pixelwise.models.blocks import ConvBNReLU, SeparableConvBNReLU
from pixelwise.models.deeplabv3 import ASPP, atrous_rates
from pixelwise.models.encoders import create_encoder
from pixelwise.models.registry import register_model
from pixelwise.models.upsample import Upsample, check_upsampling


class DeepLabV3PlusDecoder(nn.Module):
    """ASPP on the deepest feature, upsampled to stride 4 and fused with the low-level feature.

    Args:
        encoder_channels: Channels of each encoder feature.
        reductions: Strides of each encoder feature (one must be 4).
        channels: ASPP and decoder filters (256).
        low_level_channels: Width of the reduced low-level feature (48).
        rates: ASPP atrous rates.
        separable: Depthwise-separable ASPP and decoder convolutions.
        upsampling: How the ASPP output reaches stride 4: ``"bilinear"`` (paper), ``"nearest"``
            or ``"transpose"`` (bilinear-initialised, learned).

    Shape:
        list of encoder features -> ``(N, channels, H/4, W/4)``.
    """

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        reductions: Sequence[int],
        channels: int,
        low_level_channels: int,
        rates: Sequence[int],
        separable: bool,
        upsampling: str,
    ) -> None:
        super().__init__()
        self.low_index = feature_index(reductions, 4)
        scale = reductions[-1] // reductions[self.low_index]
        self.aspp = ASPP(encoder_channels[-1], channels, rates=rates, separable=separable)
        self.up = Upsample(channels, channels, scale=scale, mode=upsampling, kernel_size=2 * scale, bilinear_init=True)
        self.low_level = ConvBNReLU(encoder_channels[self.low_index], low_level_channels, kernel_size=1)
        conv = SeparableConvBNReLU if separable else ConvBNReLU
        self.fuse = nn.Sequential(conv(channels + low_level_channels, channels), conv(channels, channels))
        self.out_channels = channels

    def forward(self, features: list[Tensor]) -> Tensor:
        x = self.up(self.aspp(features[-1]))  # (N, channels, H/4, W/4)
        low = self.low_level(features[self.low_index])  # (N, 48, H/4, W/4)
        return self.fuse(torch.cat([x, low], dim=1))  # (N, channels, H/4, W/4)


@register_model("deeplabv3plus")
def deeplabv3plus(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "resnet18",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    output_stride: int = 16,
    multi_grid: Sequence[int] | None = None,
    rates: Sequence[int] | None = None,
    channels: int = 256,
    low_level_channels: int = 48,
    separable: bool = True,
    upsampling: str = "bilinear",
) -> SegmentationModel:
    """DeepLabv3+ on a dilated encoder with a stride-4 feature.

    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: A dilatable encoder with a stride-4 feature: ``"resnet18"`` (default),
            ``"resnet50"``/``"resnet101"``, MobileNets, EfficientNets, other timm names.
        pretrained: ``None``, ``"imagenet"`` or a weights file.
        freeze_encoder: Train only the head.
        encoder_options: Extra encoder options.
        output_stride: 16 (paper) or 8.
        multi_grid: Unit rates of the last ResNet stage, e.g. ``(1, 2, 4)``; ``None`` = off.
        rates: ASPP atrous rates; default (6, 12, 18) at stride 16, (12, 24, 36) at 8.
        channels: ASPP and decoder filters (256).
        low_level_channels: Reduced low-level width (48).
        separable: Depthwise-separable convolutions in ASPP and decoder.
        upsampling: ``"bilinear"`` (paper), ``"nearest"`` or ``"transpose"`` for the 4x step in the decoder.
    """
    check_upsampling(upsampling)
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        multi_grid=multi_grid, freeze=freeze_encoder, options=encoder_options,
    )
    decoder = DeepLabV3PlusDecoder(
        encoder_channels=encoder_module.out_channels,
        reductions=encoder_module.reductions,
        channels=channels,
        low_level_channels=low_level_channels,
        rates=atrous_rates(output_stride, rates),
        separable=separable,
        upsampling=upsampling,
    )
    return SegmentationModel(
        encoder=encoder_module,
        decoder=decoder,
        head=nn.Conv2d(channels, num_classes, 1),
    )
