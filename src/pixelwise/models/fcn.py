"""FCN-32s, FCN-16s and FCN-8s: Fully Convolutional Networks for Semantic Segmentation.

Long, Shelhamer, Darrell, CVPR 2015 — https://arxiv.org/abs/1411.4038

On the course's VGG16 encoder: class scores come from 1x1 convolutions on pool5 (through the
fc6/fc7 layers recast as convolutions), pool4 and pool3. FCN-32s upsamples the pool5 scores
32x. FCN-16s upsamples them 2x with a transposed convolution, adds the pool4 scores, and
upsamples 16x. FCN-8s does that once more with pool3 and upsamples 8x.

As in the paper: fc6/fc7 start from VGG16's fully connected layers when the VGG16 weights have
them (``pretrained="imagenet"``, or a torchvision checkpoint); the transposed convolutions
start as bilinear interpolation, the 2x ones learned, the final one fixed; the pool4/pool3
score layers start at zero, so training starts from the coarser net's prediction. Unlike the
paper (which pads the input by 100 and crops), the input is zero-padded to a multiple of 32, so
no crop offsets are needed.

Two choices of what sits on pool5 (the ``head`` option): ``"paper"`` (fc6 = 7x7 conv to 4096
channels, fc7 = 1x1 conv to 4096, each with ReLU and dropout 0.5, then the 1x1 class scores;
134M parameters on VGG16) and ``"light"`` (the 1x1 class scores straight on pool5, as on pool4
and pool3; 15M parameters).
Any encoder with features at strides 8, 16 and 32 works (e.g. ``resnet34``).

Where decoder and head meet. FCN's skips fuse *class scores*, not features: FCN-8s scores pool3,
pool4 and fc7 (pool5 for the light head) separately and sums the score maps coarse to fine. To
keep that network exactly while no decoder computes class scores, the line is drawn after the
last layer that is independent of the classes: :class:`FCNDecoder` runs fc6/fc7 on pool5 and
returns the three maps the skips read (pool3, pool4, fc7: shallow to deep), and :class:`FCNHead`
holds every class-sized layer: the score layers, the learned 2x upsamplings between them and
the fixed final upsampling. Moving the fusion into the decoder would put class scores there;
fusing features instead of scores (upsample fc7, then classify) would be another network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import SegmentationModel, feature_index
from pixelwise.models.encoders import create_encoder
from pixelwise.models.encoders.vgg import VGG_ENCODERS, read_vgg_weights
from pixelwise.models.registry import register_model
from pixelwise.models.upsample import Upsample, check_upsampling

FCN_HEADS = ("paper", "light")


def fc_layers(in_channels: int, *, head: str, fc_channels: int) -> nn.Module:
    """fc6/fc7 as convolutions on pool5 (``"paper"``), or nothing (``"light"``: pool5 is scored directly)."""
    if head == "light":
        return nn.Identity()
    if head != "paper":
        raise PixelwiseError(f"unknown FCN head {head!r}; choose one of {', '.join(FCN_HEADS)}")
    return nn.Sequential(
        nn.Conv2d(in_channels, fc_channels, 7, padding=3),  # fc6
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Conv2d(fc_channels, fc_channels, 1),  # fc7
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
    )


def convolutionalize(fc: nn.Sequential, state_dict: dict[str, Tensor]) -> bool:
    """Start fc6/fc7 from VGG16's fully connected layers, reshaped into convolutions (the paper's init).

    torchvision's ``classifier.0`` (4096 x 512*7*7) becomes the 7x7 fc6 and ``classifier.3``
    (4096 x 4096) the 1x1 fc7. Returns ``False`` (``fc`` unchanged) when ``state_dict`` has no
    such layers or their shapes do not fit (e.g. ``fc_channels`` other than 4096).
    """
    fc6, fc7 = fc[0], fc[3]
    pairs = [(fc6, "classifier.0"), (fc7, "classifier.3")]
    if not all(
        f"{key}.weight" in state_dict and state_dict[f"{key}.weight"].numel() == conv.weight.numel()
        and state_dict[f"{key}.bias"].shape == conv.bias.shape
        for conv, key in pairs
    ):
        return False
    with torch.no_grad():
        for conv, key in pairs:
            conv.weight.copy_(state_dict[f"{key}.weight"].view_as(conv.weight))  # (out, in*k*k) -> (out, in, k, k)
            conv.bias.copy_(state_dict[f"{key}.bias"])
    return True


def _zero_init(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


SKIP_STRIDES = {32: (32,), 16: (16, 32), 8: (8, 16, 32)}
"""The encoder strides each variant scores (FCN-32s, -16s, -8s), shallow to deep."""


class FCNDecoder(nn.Module):
    """fc6/fc7 on pool5, and pool4/pool3 passed through: the maps whose scores the head fuses.

    Args:
        encoder_channels: Channels of every encoder feature.
        reductions: Stride of every encoder feature.
        stride: 32, 16 or 8: the variant (FCN-32s, -16s, -8s); its finest level.
        head: ``"paper"`` or ``"light"`` (see the module docstring).
        fc_channels: Width of fc6/fc7 in the paper head (4096).

    Attributes:
        out_channels: Channels of each returned map.

    Shape:
        list of encoder features -> ``[pool3 (N, C_3, H/8, W/8), pool4 (N, C_4, H/16, W/16),
        fc7 (N, fc_channels, H/32, W/32)]``, the levels of ``SKIP_STRIDES[stride]``.
    """

    def __init__(
        self, *, encoder_channels: Sequence[int], reductions: Sequence[int], stride: int, head: str, fc_channels: int
    ) -> None:
        super().__init__()
        self.indices = [feature_index(reductions, level) for level in SKIP_STRIDES[stride]]
        self.fc = fc_layers(encoder_channels[self.indices[-1]], head=head, fc_channels=fc_channels)
        deepest = fc_channels if head == "paper" else encoder_channels[self.indices[-1]]
        self.out_channels = [*(encoder_channels[index] for index in self.indices[:-1]), deepest]

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        *skips, pool5 = (features[index] for index in self.indices)
        return [*skips, self.fc(pool5)]  # shallow to deep; fc7: (N, fc_channels, H/32, W/32)


class FCNHead(nn.Module):
    """Class scores on every level, fused coarse to fine, upsampled to the input: FCN's skip architecture.

    ``score_fr`` scores the deepest map; each finer level adds its zero-initialised score
    (``score_pool4``, ``score_pool3``) to the running scores upsampled 2x (``upscore``, a learned
    transposed convolution starting bilinear); ``final`` upsamples ``stride``x, fixed bilinear.

    Args:
        in_channels: Channels of each decoder map, shallow to deep.
        num_classes: Output classes.
        stride: Stride of the finest map (32, 16, 8): the factor of the final upsampling.
        upsampling: ``"transpose"`` (paper) or ``"bilinear"``/``"nearest"``.

    Shape:
        the decoder's maps -> ``(N, num_classes, H, W)``.
    """

    def __init__(self, *, in_channels: Sequence[int], num_classes: int, stride: int, upsampling: str) -> None:
        super().__init__()
        self.score_fr = nn.Conv2d(in_channels[-1], num_classes, 1)
        self.skips = nn.ModuleList(  # (score_poolN, upscore) per finer level, coarse to fine
            nn.ModuleDict({
                "score": _zero_init(nn.Conv2d(channels, num_classes, 1)),
                "upscore": Upsample(
                    num_classes, num_classes, scale=2, mode=upsampling, kernel_size=4, bias=False, bilinear_init=True
                ),
            })
            for channels in in_channels[-2::-1]
        )
        self.final = Upsample(
            num_classes, num_classes, scale=stride, mode=upsampling, kernel_size=2 * stride, bias=False, bilinear_init=True
        )
        self.final.requires_grad_(False)  # the paper keeps the last upsampling fixed to bilinear interpolation

    def forward(self, levels: list[Tensor]) -> Tensor:
        scores = self.score_fr(levels[-1])  # (N, K, H/32, W/32)
        for level, skip in zip(levels[-2::-1], self.skips, strict=True):
            scores = skip["upscore"](scores) + skip["score"](level)  # (N, K, 2h, 2w)
        return self.final(scores)  # (N, K, H, W)


def fcn(
    *,
    stride: int,
    num_classes: int,
    in_channels: int,
    encoder: str,
    pretrained: str | None,
    freeze_encoder: bool,
    encoder_options: dict[str, Any] | None,
    head: str,
    fc_channels: int,
    upsampling: str,
) -> SegmentationModel:
    """Assemble FCN-``stride``s; the registered builders below document the options."""
    check_upsampling(upsampling)
    encoder_module = create_encoder(
        encoder, in_channels=in_channels, pretrained=pretrained, freeze=freeze_encoder, options=encoder_options
    )
    decoder = FCNDecoder(
        encoder_channels=encoder_module.out_channels, reductions=encoder_module.reductions,
        stride=stride, head=head, fc_channels=fc_channels,
    )
    if head == "paper" and pretrained is not None and encoder in VGG_ENCODERS:
        convolutionalize(decoder.fc, read_vgg_weights(encoder, pretrained)[0])
    return SegmentationModel(
        encoder=encoder_module,
        decoder=decoder,
        head=FCNHead(in_channels=decoder.out_channels, num_classes=num_classes, stride=stride, upsampling=upsampling),
    )


_OPTIONS_DOC = """
    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: ``"vgg16"`` (the course's, default) or any encoder with strides 8, 16 and 32
            (``"resnet34"``, ``"vgg16_bn"``, timm names).
        pretrained: ``None``, ``"imagenet"`` or a local weights file for the encoder.
        freeze_encoder: Train only the decoder.
        encoder_options: Extra encoder options, e.g. ``{"base_channels": 16}`` for a small VGG16.
        head: ``"paper"`` (fc6/fc7 as 7x7 and 1x1 convolutions of ``fc_channels``) or ``"light"``
            (1x1 class scores directly on pool5).
        fc_channels: Width of fc6/fc7 (4096 in the paper).
        upsampling: ``"transpose"`` (paper), ``"bilinear"`` or ``"nearest"``.
"""


@register_model("fcn32s")
def fcn32s(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "vgg16",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    head: str = "paper",
    fc_channels: int = 4096,
    upsampling: str = "transpose",
) -> SegmentationModel:
    return fcn(stride=32, **locals())  # locals() is exactly the arguments above


@register_model("fcn16s")
def fcn16s(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "vgg16",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    head: str = "paper",
    fc_channels: int = 4096,
    upsampling: str = "transpose",
) -> SegmentationModel:
    return fcn(stride=16, **locals())  # locals() is exactly the arguments above


@register_model("fcn8s")
def fcn8s(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "vgg16",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    head: str = "paper",
    fc_channels: int = 4096,
    upsampling: str = "transpose",
) -> SegmentationModel:
    return fcn(stride=8, **locals())  # locals() is exactly the arguments above


fcn32s.__doc__ = "FCN-32s: pool5 scores upsampled 32x.\n" + _OPTIONS_DOC
fcn16s.__doc__ = "FCN-16s: pool5 scores upsampled 2x, plus pool4 scores, upsampled 16x.\n" + _OPTIONS_DOC
fcn8s.__doc__ = "FCN-8s: FCN-16s's fused scores upsampled 2x, plus pool3 scores, upsampled 8x.\n" + _OPTIONS_DOC
