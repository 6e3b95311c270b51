"""ResNet encoders (He et al., 2016 — https://arxiv.org/abs/1512.03385), built by timm.

``resnet18``, ``resnet34``, ``resnet50`` and ``resnet101`` are timm model names, so they go
through :class:`~pixelwise.models.encoders.timm_encoder.TimmEncoder` like any timm model; timm
dilates the last stages for ``output_stride`` 16 or 8 (the "dilated ResNet" of PSPNet and
DeepLab). This file adds DeepLabv3's multi-grid on top.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pixelwise.errors import PixelwiseError

RESNET_ENCODERS = ("resnet18", "resnet34", "resnet50", "resnet101")
"""The ResNets of the papers; any other timm ResNet (``resnet10t``, ``resnet50d``, ...) works the same way."""


def apply_multi_grid(model: nn.Module, grid: Sequence[int], *, output_stride: int) -> None:
    """Give the 3x3 convolutions of the last stage DeepLabv3's multi-grid atrous rates.

    DeepLabv3 (https://arxiv.org/abs/1706.05587, Sec. 3.2) sets the rates of the three units
    of block4 to ``rate * grid[i]``, where ``rate`` is the dilation that block4 already has for
    the output stride (2 at stride 16, 4 at stride 8); ``grid=(1, 2, 4)`` at stride 16 gives
    rates 2, 4 and 8.

    Args:
        model: A timm ResNet (``features_only`` or not): it must have a ``layer4``.
        grid: Unit rates, repeated if the stage has more blocks than entries.
        output_stride: The encoder's output stride (32, 16 or 8).

    Raises:
        PixelwiseError: The model has no ResNet ``layer4``.
    """
    stage = getattr(model, "layer4", None)
    if not isinstance(stage, nn.Sequential):
        raise PixelwiseError("multi_grid needs a ResNet encoder (one with a 'layer4' stage); pass multi_grid=None")
    rate = 32 // output_stride
    for index, block in enumerate(stage):
        dilation = rate * grid[index % len(grid)]
        for name, conv in block.named_modules():
            if isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and not name.startswith("downsample"):
                conv.dilation = (dilation, dilation)
                conv.padding = (dilation, dilation)  # keeps the size of a 3x3 convolution
