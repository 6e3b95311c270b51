"""MobileNetV2 (Sandler et al., 2018 — https://arxiv.org/abs/1801.04381) and V3 (Howard et al., 2019 —
https://arxiv.org/abs/1905.02244) encoders, built by timm.

Plain MobileNets are timm names (``mobilenetv2_100``, ``mobilenetv3_large_100``,
``mobilenetv3_small_100``, ...) and go through ``TimmEncoder``, which returns the output of each
stage. ``mobilenetv2_tf`` returns instead the five layers that the TensorFlow image-segmentation
tutorial feeds to its U-Net: the ReLU6 after the expansion convolution of blocks 1, 3, 6 and 13
(taken *before* each stride-2 depthwise convolution, so they are wider than the stage outputs)
and the projection of block 16.
"""

from __future__ import annotations

from collections.abc import Sequence

from timm.models import create_feature_extractor
from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder
from pixelwise.models.encoders.registry import register_encoder
from pixelwise.models.encoders.weights import create_timm_model

MOBILENET_ENCODERS = ("mobilenetv2_100", "mobilenetv3_large_100", "mobilenetv3_small_100")

# Keras layer name in the TF tutorial -> the same tensor in timm's mobilenetv2_100 (channels, stride).
# Keras numbers the 17 inverted-residual blocks 0..16; timm groups them into stages blocks.0..6
# of 1, 2, 3, 4, 3, 3, 1 blocks, and its ``bn1`` applies BatchNorm and ReLU6 after the expansion.
TF_TUTORIAL_LAYERS = {
    "block_1_expand_relu": ("blocks.1.0.bn1", 96, 2),
    "block_3_expand_relu": ("blocks.2.0.bn1", 144, 4),
    "block_6_expand_relu": ("blocks.3.0.bn1", 192, 8),
    "block_13_expand_relu": ("blocks.5.0.bn1", 576, 16),
    "block_16_project": ("blocks.6.0.conv_pwl", 320, 32),
}


class MobileNetV2TFEncoder(Encoder):
    """MobileNetV2 tapped where the TensorFlow segmentation tutorial taps it.

    Args:
        in_channels: Input channels.
        pretrained: ``None``, ``"imagenet"`` or a local checkpoint of timm's ``mobilenetv2_100``.

    Shape:
        ``(N, in_channels, H, W)`` -> five maps with 96, 144, 192, 576 and 320 channels at
        strides 2, 4, 8, 16 and 32.
    """

    def __init__(self, *, in_channels: int = 3, pretrained: str | None = None) -> None:
        super().__init__()
        network = create_timm_model("mobilenetv2_100", in_channels=in_channels, pretrained=pretrained)
        nodes = {node: keras_name for keras_name, (node, _, _) in TF_TUTORIAL_LAYERS.items()}
        # Only the layers up to block 16 are kept: the classifier and the last 1x1 conv are dropped.
        self.model = create_feature_extractor(network, return_nodes=nodes)
        self.out_channels = [channels for _, channels, _ in TF_TUTORIAL_LAYERS.values()]
        self.reductions = [stride for _, _, stride in TF_TUTORIAL_LAYERS.values()]

    def forward(self, x: Tensor) -> list[Tensor]:
        features = self.model(x)  # {keras name: (N, C_i, H/r_i, W/r_i)}
        return [features[name] for name in TF_TUTORIAL_LAYERS]


@register_encoder("mobilenetv2_tf")
def mobilenetv2_tf(
    *,
    in_channels: int = 3,
    pretrained: str | None = None,
    output_stride: int | None = None,
    multi_grid: Sequence[int] | None = None,
) -> MobileNetV2TFEncoder:
    """MobileNetV2 with the TensorFlow tutorial's five U-Net taps."""
    if output_stride not in (None, 32) or multi_grid:
        raise PixelwiseError(
            "encoder mobilenetv2_tf has no dilated form; use mobilenetv2_100 for output_stride 8 or 16"
        )
    return MobileNetV2TFEncoder(in_channels=in_channels, pretrained=pretrained)
