"""The course's VGG16 encoder (Simonyan & Zisserman, 2015 — https://arxiv.org/abs/1409.1556).

Five blocks of 2-2-3-3-3 3x3 convolutions with ReLU, each block closed by a 2x2 max-pool,
with the course's (Keras) layer names: ``block1_conv1``, ``block1_conv2``, ``block1_pool``, ...,
``block5_pool``. It returns the five pooled maps (strides 2 to 32): FCN reads pool3, pool4 and
pool5 from them. ``vgg16_bn`` adds BatchNorm after every convolution (``block1_bn1``, ...),
the encoder of SegNet, and :meth:`VGG16Encoder.forward_stage` hands out the max-pooling
indices that SegNet's decoder unpools with.

ImageNet weights come from torchvision's ``vgg16``/``vgg16_bn`` (same layers, in the same order).
"""

from __future__ import annotations

from collections.abc import Sequence

import timm.models
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder
from pixelwise.models.encoders.registry import register_encoder
from pixelwise.models.encoders.weights import IMAGENET, download_error, read_state_dict, weights_file

STAGE_DEPTHS = (2, 2, 3, 3, 3)
"""Convolutions per block of VGG16 ("configuration D")."""
VGG_ENCODERS = ("vgg16", "vgg16_bn")


class VGG16Encoder(Encoder):
    """VGG16's 13 convolutions and 5 max-pools, named as in the course.

    Args:
        in_channels: Input channels.
        base_channels: Width of block 1; blocks 2-5 have 2x, 4x, 8x, 8x (64 -> 512 in the paper).
        batch_norm: BatchNorm after each convolution (``vgg16_bn``, SegNet's encoder).

    Shape:
        ``(N, in_channels, H, W)`` -> five maps ``(N, C_i, H / 2^i, W / 2^i)``, i = 1..5
        (H and W multiples of 32).
    """

    stage_depths = STAGE_DEPTHS

    def __init__(self, *, in_channels: int = 3, base_channels: int = 64, batch_norm: bool = False) -> None:
        super().__init__()
        widths = [base_channels, 2 * base_channels, 4 * base_channels, 8 * base_channels, 8 * base_channels]
        self.batch_norm = batch_norm
        previous = in_channels
        for block, (depth, width) in enumerate(zip(STAGE_DEPTHS, widths, strict=True), start=1):
            for conv in range(1, depth + 1):
                self.add_module(f"block{block}_conv{conv}", nn.Conv2d(previous, width, 3, padding=1))
                if batch_norm:
                    self.add_module(f"block{block}_bn{conv}", nn.BatchNorm2d(width))
                previous = width
            self.add_module(f"block{block}_pool", nn.MaxPool2d(2, stride=2, return_indices=True))
        self.out_channels = widths
        self.reductions = [2, 4, 8, 16, 32]

    def forward_stage(self, x: Tensor, block: int) -> tuple[Tensor, Tensor]:
        """Run block ``block`` (1..5): its convolutions, then the max-pool.

        Returns:
            The pooled map ``(N, C, H/2, W/2)`` and the pooling indices (same shape, int64),
            each the flat position of the maximum within its ``H x W`` input plane.
        """
        for conv in range(1, STAGE_DEPTHS[block - 1] + 1):
            x = getattr(self, f"block{block}_conv{conv}")(x)
            if self.batch_norm:
                x = getattr(self, f"block{block}_bn{conv}")(x)
            x = F.relu(x, inplace=True)
        return getattr(self, f"block{block}_pool")(x)  # (N, C, H/2, W/2) twice

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for block in range(1, len(STAGE_DEPTHS) + 1):
            x, _ = self.forward_stage(x, block)
            features.append(x)  # block{block}_pool: (N, C_block, H/2^block, W/2^block)
        return features

    def load_vgg_weights(self, state_dict: dict[str, Tensor], *, source: str) -> None:
        """Load weights given either with this encoder's names or as torchvision's ``vgg16[_bn]``.

        torchvision numbers its layers (``features.0``, ``features.2``, ...); the convolutions and
        BatchNorms are matched to ``block1_conv1``, ``block1_bn1``, ... in order. 3-channel
        weights are adapted to other ``in_channels`` the way timm does it.
        """
        own = self.state_dict()
        if not any(key.startswith("features.") for key in state_dict):
            mapped = {key: value for key, value in state_dict.items() if key in own}
        else:
            mapped = _map_torchvision(state_dict, list(_layer_names(self)))
        first = "block1_conv1.weight"
        if first in mapped and mapped[first].shape[1] != own[first].shape[1]:
            mapped[first] = timm.models.adapt_input_conv(own[first].shape[1], mapped[first])
        missing = sorted(set(own) - set(mapped))
        wrong = [key for key in mapped if key in own and mapped[key].shape != own[key].shape]
        if missing or wrong:
            detail = f"missing {missing[:3]}" if missing else f"shape of {wrong[0]} is {tuple(mapped[wrong[0]].shape)}"
            raise PixelwiseError(
                f"weights {source} do not fit this VGG16 encoder ({detail}); "
                "give a torchvision vgg16/vgg16_bn checkpoint and the default base_channels=64"
            )
        self.load_state_dict(mapped)


def _layer_names(encoder: VGG16Encoder) -> list[str]:
    return [name for name, module in encoder.named_children() if isinstance(module, nn.Conv2d | nn.BatchNorm2d)]


def _map_torchvision(state_dict: dict[str, Tensor], names: list[str]) -> dict[str, Tensor]:
    """``features.<i>.<param>`` -> ``<our layer name>.<param>``, matching layers in order of ``i``."""
    indices = sorted({int(key.split(".")[1]) for key in state_dict if key.startswith("features.")})
    mapped = {}
    for name, index in zip(names, indices, strict=False):
        prefix = f"features.{index}."
        for key, value in state_dict.items():
            if key.startswith(prefix):
                mapped[f"{name}.{key[len(prefix):]}"] = value
    return mapped


def read_vgg_weights(name: str, pretrained: str) -> tuple[dict[str, Tensor], str]:
    """The state dict named by ``pretrained`` (``"imagenet"``: torchvision's, cached by torch.hub) and its source."""
    if pretrained == IMAGENET:
        weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
        try:
            return weights.get_state_dict(progress=False), f"torchvision {name} ImageNet"
        except OSError:
            raise download_error(name) from None
    path = weights_file(pretrained)
    return read_state_dict(path), str(path)


def _build_vgg16(
    *,
    batch_norm: bool,
    in_channels: int,
    pretrained: str | None,
    output_stride: int | None,
    multi_grid: Sequence[int] | None,
    base_channels: int = 64,
) -> VGG16Encoder:
    name = "vgg16_bn" if batch_norm else "vgg16"
    if output_stride not in (None, 32) or multi_grid:
        raise PixelwiseError(f"encoder {name} has no dilated form; drop output_stride/multi_grid or use a ResNet encoder")
    encoder = VGG16Encoder(in_channels=in_channels, base_channels=base_channels, batch_norm=batch_norm)
    if pretrained is not None:
        state_dict, source = read_vgg_weights(name, pretrained)
        encoder.load_vgg_weights(state_dict, source=source)
    return encoder


@register_encoder("vgg16")
def vgg16(
    *,
    in_channels: int = 3,
    pretrained: str | None = None,
    output_stride: int | None = None,
    multi_grid: Sequence[int] | None = None,
    base_channels: int = 64,
) -> VGG16Encoder:
    """The course's VGG16 (no BatchNorm); ``base_channels`` shrinks it for tests and tiny models."""
    return _build_vgg16(
        batch_norm=False, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        multi_grid=multi_grid, base_channels=base_channels,
    )


@register_encoder("vgg16_bn")
def vgg16_bn(
    *,
    in_channels: int = 3,
    pretrained: str | None = None,
    output_stride: int | None = None,
    multi_grid: Sequence[int] | None = None,
    base_channels: int = 64,
) -> VGG16Encoder:
    """VGG16 with BatchNorm after each convolution: SegNet's encoder."""
    return _build_vgg16(
        batch_norm=True, in_channels=in_channels, pretrained=pretrained, output_stride=output_stride,
        multi_grid=multi_grid, base_channels=base_channels,
    )
