"""The TensorFlow tutorial's U-Net: a MobileNetV2 encoder and pix2pix upsample blocks.

TensorFlow image-segmentation tutorial — https://www.tensorflow.org/tutorials/images/segmentation
(upsample blocks from pix2pix: Isola et al., CVPR 2017 — https://arxiv.org/abs/1611.07004)

The encoder is MobileNetV2 tapped at ``block_1_expand_relu`` ... ``block_16_project``
(``mobilenetv2_tf``); the tutorial loads ImageNet weights and freezes it
(``pretrained="imagenet", freeze_encoder=True``). The decoder has no convolution after the
concatenation: each step is a 3x3 stride-2 transposed convolution + BatchNorm + ReLU (512, 256,
128, 64 filters) whose output is concatenated with the next shallower encoder feature. A last
3x3 stride-2 transposed convolution gives the class scores at full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import SegmentationModel
from pixelwise.models.encoders import create_encoder
from pixelwise.models.registry import register_model


def transposed_conv3x3(in_channels: int, out_channels: int, *, bias: bool) -> nn.ConvTranspose2d:
    """Keras ``Conv2DTranspose(filters, 3, strides=2, padding="same")``: exactly doubles H and W."""
    return nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=bias)


class Pix2PixUpsample(nn.Sequential):
    """pix2pix ``upsample``: transposed conv (no bias) + BatchNorm (+ dropout 0.5) + ReLU.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, 2H, 2W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, dropout: bool = False):
        layers: list[nn.Module] = [transposed_conv3x3(in_channels, out_channels, bias=False), nn.BatchNorm2d(out_channels)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Pix2PixDecoder(nn.Module):
    """Upsample the deepest feature, concatenate the next skip, repeat.

    Args:
        encoder_channels: Channels of each encoder feature, shallow to deep.
        reductions: Strides; consecutive features must differ by a factor 2.
        decoder_channels: Filters of each upsample block, deepest first (512, 256, 128, 64).

    Shape:
        list of encoder features -> ``(N, decoder_channels[-1] + encoder_channels[0], H/r_0, W/r_0)``.
    """

    def __init__(self, *, encoder_channels: Sequence[int], reductions: Sequence[int], decoder_channels: Sequence[int]):
        super().__init__()
        if any(b != 2 * a for a, b in zip(reductions, reductions[1:], strict=False)):
            raise PixelwiseError(f"unet_pix2pix needs encoder strides that double at each feature, got {list(reductions)}")
        skips = list(encoder_channels[:-1][::-1])
        if len(decoder_channels) != len(skips):
            raise PixelwiseError(f"decoder_channels needs {len(skips)} widths for this encoder, got {list(decoder_channels)}")
        inputs = [encoder_channels[-1]] + [width + skip for width, skip in zip(decoder_channels, skips, strict=True)][:-1]
        self.up_stack = nn.ModuleList(
            Pix2PixUpsample(i, o) for i, o in zip(inputs, decoder_channels, strict=True)
        )
        self.out_channels = decoder_channels[-1] + skips[-1]

    def forward(self, features: list[Tensor]) -> Tensor:
        x, skips = features[-1], features[:-1][::-1]
        for up, skip in zip(self.up_stack, skips, strict=True):
            x = torch.cat([up(x), skip], dim=1)  # (N, C_up + C_skip, 2h, 2w)
        return x


@register_model("unet_pix2pix")
def unet_pix2pix(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "mobilenetv2_tf",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    decoder_channels: Sequence[int] | None = None,
) -> SegmentationModel:
    """The TensorFlow tutorial's U-Net (MobileNetV2 + pix2pix upsampling).

    Args:
        num_classes: Output classes (the tutorial: 3 for the Pet trimaps).
        in_channels: Input channels.
        encoder: ``"mobilenetv2_tf"`` (the tutorial's taps) or any encoder whose strides double.
        pretrained: ``None``, ``"imagenet"`` (the tutorial) or a weights file.
        freeze_encoder: Freeze the encoder (the tutorial does, with ImageNet weights).
        encoder_options: Extra encoder options.
        decoder_channels: Upsample-block filters, deepest first; default 512, 256, 128, 64
            (halving, one per skip).
    """
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, freeze=freeze_encoder, options=encoder_options
    )
    skips = len(encoder_module.out_channels) - 1
    widths = decoder_channels if decoder_channels is not None else [max(512 // 2**i, 16) for i in range(skips)]
    decoder = Pix2PixDecoder(
        encoder_channels=encoder_module.out_channels, reductions=encoder_module.reductions, decoder_channels=widths
    )
    head = transposed_conv3x3(decoder.out_channels, num_classes, bias=True)  # the tutorial's last layer
    return SegmentationModel(encoder=encoder_module, decoder=decoder, head=head)
