"""Any timm model as an encoder, through ``features_only=True``.

timm's ``feature_info`` says exactly what the decoder receives: the channels and the stride
of every feature map. Nothing here depends on the model's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder
from pixelwise.models.encoders.resnet import apply_multi_grid
from pixelwise.models.encoders.weights import create_timm_model

OUTPUT_STRIDES = (8, 16, 32)


def check_output_stride(output_stride: int | None) -> int:
    """``None`` -> 32; otherwise 8, 16 or 32, or a one-line error."""
    if output_stride is None:
        return 32
    if output_stride not in OUTPUT_STRIDES:
        raise PixelwiseError(f"output_stride must be one of {', '.join(map(str, OUTPUT_STRIDES))}, got {output_stride}")
    return output_stride


class TimmEncoder(Encoder):
    """A timm ``features_only`` model.

    Args:
        name: Any name from ``timm.list_models()`` that supports ``features_only``.
        in_channels: Input channels.
        pretrained: ``None``, ``"imagenet"`` or a local weights file (see :mod:`.weights`).
        output_stride: 32 (plain), 16 or 8: the last stages are dilated instead of strided.
        multi_grid: DeepLabv3 unit rates for the last stage (ResNets only), e.g. ``(1, 2, 4)``.
        **options: More ``timm.create_model`` options (``drop_path_rate``, ``out_indices``, ...).

    Shape:
        ``(N, in_channels, H, W)`` -> list of ``(N, out_channels[i], H / reductions[i], W / reductions[i])``.
    """

    def __init__(
        self,
        name: str,
        *,
        in_channels: int = 3,
        pretrained: str | None = None,
        output_stride: int | None = None,
        multi_grid: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        stride = check_output_stride(output_stride)
        if stride != 32:
            options["output_stride"] = stride
        self.model = create_timm_model(name, in_channels=in_channels, pretrained=pretrained, features_only=True, **options)
        self.out_channels = list(self.model.feature_info.channels())
        self.reductions = list(self.model.feature_info.reduction())
        if stride != 32 and max(self.reductions) != stride:
            raise PixelwiseError(
                f"encoder {name} does not support output_stride={stride} (its strides are {self.reductions}); "
                "use a ResNet, EfficientNet or MobileNet encoder"
            )
        if multi_grid:
            apply_multi_grid(self.model, multi_grid, output_stride=stride)

    def forward(self, x: Tensor) -> list[Tensor]:
        return list(self.model(x))  # list of (N, C_i, H/r_i, W/r_i)
