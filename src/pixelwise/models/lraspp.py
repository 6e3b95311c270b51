"""LR-ASPP on MobileNetV3: the real-time CPU model of the zoo.

Howard et al., Searching for MobileNetV3, ICCV 2019 — https://arxiv.org/abs/1905.02244 (Sec. 6.4)

Lite Reduced ASPP: on the stride-16 MobileNetV3 feature (last block dilated), a 1x1 conv + BN +
ReLU to 128 channels is multiplied by a squeeze-and-excitation-like gate (global average pool,
1x1 conv, sigmoid); the result is upsampled to stride 8, classified by a 1x1 conv and added to a
1x1 classifier on the stride-8 feature. As in torchvision, the gate pools globally (the paper
uses a 49x49 pooling window with stride (16, 20) tuned to 1024x2048 Cityscapes crops).

Like FCN's skips, the two branches are classified separately and their scores summed, so the
decoder returns both stride-8 maps (the low-level feature and the gated high-level branch) and
the head holds the two classifiers. One classifier on their concatenation would be the same
function with one bias fewer (another parameter count); summing scores is the paper's layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from pixelwise.models.base import SegmentationModel, feature_index
from pixelwise.models.blocks import ConvBNReLU
from pixelwise.models.encoders import create_encoder
from pixelwise.models.pooling import global_avg_pool2d
from pixelwise.models.registry import register_model
from pixelwise.models.upsample import resize


class LRASPPDecoder(nn.Module):
    """The gated high-level branch, upsampled to stride 8, beside the stride-8 encoder feature.

    Args:
        encoder_channels: Channels of each encoder feature.
        reductions: Strides of each encoder feature (one must be 8).
        channels: Width of the high-level branch (128).

    Attributes:
        out_channels: Channels of the two returned maps (low-level, high-level).

    Shape:
        list of encoder features -> ``[(N, C_low, H/8, W/8), (N, channels, H/8, W/8)]``.
    """

    def __init__(self, *, encoder_channels: Sequence[int], reductions: Sequence[int], channels: int) -> None:
        super().__init__()
        self.low_index = feature_index(reductions, 8)
        high = encoder_channels[-1]
        self.cbr = ConvBNReLU(high, channels, kernel_size=1)
        self.gate = nn.Sequential(nn.Conv2d(high, channels, 1, bias=False), nn.Sigmoid())
        self.out_channels = [encoder_channels[self.low_index], channels]

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        high, low = features[-1], features[self.low_index]
        x = self.cbr(high) * self.gate(global_avg_pool2d(high))  # (N, channels, H/16, W/16)
        return [low, resize(x, low.shape[-2:])]  # (N, C_low, H/8, W/8), (N, channels, H/8, W/8)


class LRASPPHead(nn.Module):
    """A 1x1 classifier on each of the decoder's two maps; the scores are summed.

    Shape:
        ``[(N, C_low, h, w), (N, C_high, h, w)]`` -> ``(N, num_classes, h, w)``.
    """

    def __init__(self, *, in_channels: Sequence[int], num_classes: int) -> None:
        super().__init__()
        low, high = in_channels
        self.low_classifier = nn.Conv2d(low, num_classes, 1)
        self.high_classifier = nn.Conv2d(high, num_classes, 1)

    def forward(self, levels: list[Tensor]) -> Tensor:
        low, high = levels
        return self.low_classifier(low) + self.high_classifier(high)  # (N, num_classes, H/8, W/8)


@register_model("lraspp")
def lraspp(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "mobilenetv3_large_100",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    output_stride: int = 16,
    channels: int = 128,
) -> SegmentationModel:
    """LR-ASPP, by default on MobileNetV3-Large with its last block dilated (stride 16).

    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: ``"mobilenetv3_large_100"`` (paper), ``"mobilenetv3_small_100"``, or any encoder
            with a stride-8 feature.
        pretrained: ``None``, ``"imagenet"`` or a weights file.
        freeze_encoder: Train only the head.
        encoder_options: Extra encoder options.
        output_stride: 16 (paper) or 32 (cheaper; no dilation).
        channels: Width of the high-level branch (128).
    """
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        freeze=freeze_encoder, options=encoder_options,
    )
    decoder = LRASPPDecoder(
        encoder_channels=encoder_module.out_channels, reductions=encoder_module.reductions, channels=channels
    )
    head = LRASPPHead(in_channels=decoder.out_channels, num_classes=num_classes)
    return SegmentationModel(encoder=encoder_module, decoder=decoder, head=head)
