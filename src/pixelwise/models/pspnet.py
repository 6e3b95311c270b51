"""PSPNet: Pyramid Scene Parsing Network.

Zhao, Shi, Qi, Wang, Jia, CVPR 2017 — https://arxiv.org/abs/1612.01105

A dilated ResNet (output stride 8) gives a feature map with a large receptive field. The
pyramid pooling module average-pools it to 1x1, 2x2, 3x3 and 6x6 grids, reduces each pooled
map to 1/4 of the channels with a 1x1 convolution, upsamples them bilinearly back and
concatenates them with the feature map itself: global and sub-region context side by side. A
3x3 convolution and a 1x1 classifier follow. The auxiliary head on the stage-3 feature is the
paper's deep supervision (loss weight 0.4); ask for it with ``forward(x, return_aux=True)``.

The pooling is :func:`pixelwise.models.pooling.adaptive_avg_pool2d` (same numbers as
``nn.AdaptiveAvgPool2d``, but it exports to ONNX with any input size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.models.base import SegmentationModel
from pixelwise.models.blocks import AuxHead, ClassifierHead, ConvBNReLU
from pixelwise.models.encoders import create_encoder
from pixelwise.models.pooling import adaptive_avg_pool2d
from pixelwise.models.registry import register_model
from pixelwise.models.upsample import resize


class PyramidPoolingModule(nn.Module):
    """Pool to each bin size, 1x1 conv + BN + ReLU, upsample, concatenate with the input.

    Args:
        in_channels: Channels of the feature map.
        bins: Pooled grid sides (1, 2, 3, 6 in the paper).

    Shape:
        ``(N, C, h, w)`` -> ``(N, C + len(bins) * (C // len(bins)), h, w)``.
    """

    def __init__(self, in_channels: int, *, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = tuple(bins)
        reduced = max(in_channels // len(self.bins), 1)
        self.stages = nn.ModuleList(ConvBNReLU(in_channels, reduced, kernel_size=1) for _ in self.bins)
        self.out_channels = in_channels + reduced * len(self.bins)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pyramid = [x]
        for bins, stage in zip(self.bins, self.stages, strict=True):
            pooled = stage(adaptive_avg_pool2d(x, bins))  # (N, C/4, bins, bins)
            pyramid.append(resize(pooled, size))  # (N, C/4, h, w)
        return torch.cat(pyramid, dim=1)  # (N, 2C, h, w)


class PSPDecoder(nn.Module):
    """Pyramid pooling on the deepest feature, then a 3x3 conv + BN + ReLU to ``channels``.

    Shape:
        list of encoder features -> ``(N, channels, H/8, W/8)``.
    """

    def __init__(self, *, in_channels: int, channels: int, bins: Sequence[int]) -> None:
        super().__init__()
        self.ppm = PyramidPoolingModule(in_channels, bins=bins)
        self.bottleneck = ConvBNReLU(self.ppm.out_channels, channels, kernel_size=3)
        self.out_channels = channels

    def forward(self, features: list[Tensor]) -> Tensor:
        return self.bottleneck(self.ppm(features[-1]))


@register_model("pspnet")
def pspnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "resnet18",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    output_stride: int = 8,
    bins: Sequence[int] = (1, 2, 3, 6),
    channels: int = 512,
    aux: bool = True,
) -> SegmentationModel:
    """PSPNet on a dilated encoder.

    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: A dilatable encoder: ``"resnet18"`` (default, CPU-friendly), ``"resnet50"`` /
            ``"resnet101"`` (paper), MobileNets, EfficientNets, other timm names.
        pretrained: ``None``, ``"imagenet"`` or a weights file.
        freeze_encoder: Train only the head.
        encoder_options: Extra encoder options.
        output_stride: 8 (paper) or 16.
        bins: Pyramid grid sides.
        channels: Width of the 3x3 convolution after the pyramid (512 in the paper).
        aux: Build the auxiliary head on the second-deepest feature (``forward(x, return_aux=True)``).
    """
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        freeze=freeze_encoder, options=encoder_options,
    )
    decoder = PSPDecoder(in_channels=encoder_module.out_channels[-1], channels=channels, bins=bins)
    return SegmentationModel(
        encoder=encoder_module,
        decoder=decoder,
        head=ClassifierHead(channels, num_classes, dropout=0.1),
        aux_head=AuxHead(encoder_module.out_channels[-2], num_classes) if aux else None,
    )
