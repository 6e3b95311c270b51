"""DeepLabv3: Rethinking Atrous Convolution for Semantic Image Segmentation.

Chen, Papandreou, Schroff, Adam, 2017 — https://arxiv.org/abs/1706.05587

A ResNet whose last stages are dilated (output stride 16, or 8 for finer maps), optionally with
multi-grid rates in the last stage, then Atrous Spatial Pyramid Pooling: a 1x1 convolution,
three 3x3 convolutions with atrous rates 6, 12, 18 (doubled at output stride 8) and image
pooling (global average -> 1x1 conv -> broadcast), all with 256 filters and BatchNorm,
concatenated and fused by another 1x1 convolution, then the 1x1 classifier. Logits are
upsampled bilinearly to the input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.models.base import SegmentationModel
from pixelwise.models.blocks import AuxHead, ClassifierHead, ConvBNReLU, SeparableConvBNReLU
from pixelwise.models.encoders import create_encoder
from pixelwise.models.pooling import global_avg_pool2d
from pixelwise.models.registry import register_model


def atrous_rates(output_stride: int, rates: Sequence[int] | None) -> tuple[int, ...]:
    """The paper's ASPP rates (6, 12, 18) at output stride 16, doubled at 8; ``rates`` overrides."""
    if rates is not None:
        return tuple(rates)
    return (6, 12, 18) if output_stride >= 16 else (12, 24, 36)


class ImagePooling(nn.Module):
    """ASPP's image-level branch: global average pool, 1x1 conv + BN + ReLU, broadcast back.

    Shape:
        ``(N, C, h, w)`` -> ``(N, out_channels, h, w)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.conv(global_avg_pool2d(x))  # (N, C_out, 1, 1)
        return pooled.expand(-1, -1, x.shape[-2], x.shape[-1])  # (N, C_out, h, w)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling.

    Args:
        in_channels: Channels of the encoder's deepest feature.
        out_channels: Filters of every branch and of the fusing 1x1 conv (256).
        rates: Atrous rates of the 3x3 branches.
        separable: Depthwise-separable 3x3 branches (DeepLabv3+).

    Shape:
        ``(N, in_channels, h, w)`` -> ``(N, out_channels, h, w)``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, rates: Sequence[int], separable: bool = False) -> None:
        super().__init__()
        atrous = SeparableConvBNReLU if separable else ConvBNReLU
        self.branches = nn.ModuleList([
            ConvBNReLU(in_channels, out_channels, kernel_size=1),
            *(atrous(in_channels, out_channels, kernel_size=3, dilation=rate) for rate in rates),
            ImagePooling(in_channels, out_channels),
        ])
        self.project = ConvBNReLU(out_channels * len(self.branches), out_channels, kernel_size=1)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))  # (N, C_out, h, w)


class DeepLabV3Decoder(nn.Module):
    """ASPP on the deepest encoder feature."""

    def __init__(self, *, in_channels: int, channels: int, rates: Sequence[int]) -> None:
        super().__init__()
        self.aspp = ASPP(in_channels, channels, rates=rates)
        self.out_channels = channels

    def forward(self, features: list[Tensor]) -> Tensor:
        return self.aspp(features[-1])  # (N, channels, H/os, W/os)


@register_model("deeplabv3")
def deeplabv3(
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
    aux: bool = False,
) -> SegmentationModel:
    """DeepLabv3 on a dilated encoder.

    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: A dilatable encoder: ``"resnet18"`` (default, CPU-friendly), ``"resnet50"`` /
            ``"resnet101"`` (paper), MobileNets, other timm names.
        pretrained: ``None``, ``"imagenet"`` or a weights file.
        freeze_encoder: Train only the head.
        encoder_options: Extra encoder options.
        output_stride: 16 (paper's training setting) or 8 (its evaluation setting; 4x the cost).
        multi_grid: Unit rates of the last ResNet stage, e.g. ``(1, 2, 4)`` (paper's best); ``None`` = off.
        rates: ASPP atrous rates; default (6, 12, 18) at stride 16, (12, 24, 36) at 8.
        channels: ASPP filters (256).
        aux: Add an auxiliary FCN head on the second-deepest feature (as torchvision does).
    """
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        multi_grid=multi_grid, freeze=freeze_encoder, options=encoder_options,
    )
    decoder = DeepLabV3Decoder(
        in_channels=encoder_module.out_channels[-1], channels=channels, rates=atrous_rates(output_stride, rates)
    )
    return SegmentationModel(
        encoder=encoder_module,
        decoder=decoder,
        head=ClassifierHead(channels, num_classes, dropout=0.1),
        aux_head=AuxHead(encoder_module.out_channels[-2], num_classes) if aux else None,
    )
