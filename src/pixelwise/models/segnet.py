"""SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation.

Badrinarayanan, Kendall, Cipolla, TPAMI 2017 — https://arxiv.org/abs/1511.00561
Bayesian SegNet: Kendall, Badrinarayanan, Cipolla, BMVC 2017 — https://arxiv.org/abs/1511.02680

The encoder is VGG16's 13 convolutions with BatchNorm; each 2x2 max-pool keeps the positions
of its maxima. The decoder mirrors it: each stage *unpools* with those indices (the course's
unpooling slide: every value goes back to where its maximum came from, zeros elsewhere —
``nn.MaxUnpool2d``, not interpolation), then convolves the sparse map back to a dense one. The
decoder convolutions follow the authors' Caffe model: e.g. ``conv5_3_D .. conv5_1_D`` 512 -> 512,
``conv4_1_D`` 512 -> 256, ..., and ``conv1_1_D`` gives the class scores.

The indices travel beside the features, not among them: the encoder returns
:class:`PooledFeatures`, an ordinary list of the five pooled maps (what every encoder returns,
so ``SegmentationModel.forward`` and an auxiliary head read it as usual) whose ``indices``
attribute holds the five index maps the decoder unpools with.

Bayesian SegNet (``dropout=0.5``) adds dropout after encoder stages 3-5 and decoder stages 5-3
(the "central" placement); :func:`mc_dropout_predict` samples it at test time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder, SegmentationModel
from pixelwise.models.blocks import ConvBNReLU
from pixelwise.models.encoders import create_encoder
from pixelwise.models.registry import register_model

CENTRAL_STAGES = (3, 4, 5)
"""Stages that Bayesian SegNet's dropout follows, in the encoder and the decoder."""


class PooledFeatures(list[Tensor]):
    """The pooled map of every encoder stage, shallow to deep, with the positions of each pooling's maxima.

    A plain feature list for everything that indexes it; only SegNet's decoder reads ``indices``.
    Slicing or copying gives a plain ``list`` without them.

    Args:
        maps: Pooled maps ``(N, C_i, H_i, W_i)``, shallow to deep.
        indices: For each map, its max-pooling's indices: int64 of the same shape, each the flat
            position of the maximum within the ``2H_i x 2W_i`` input plane (``nn.MaxPool2d(return_indices=True)``).
    """

    def __init__(self, maps: Iterable[Tensor], indices: Iterable[Tensor]) -> None:
        super().__init__(maps)
        self.indices = list(indices)


class SegNetEncoder(Encoder):
    """Runs a VGG-style encoder stage by stage, keeping every max-pooling's indices.

    Args:
        encoder: An encoder with ``forward_stage(x, stage) -> (pooled, indices)`` and
            ``stage_depths`` (pixelwise's ``vgg16_bn`` and ``vgg16``).
        dropout: Bayesian SegNet's dropout after stages 3-5 (0 = plain SegNet).

    Shape:
        ``(N, C, H, W)`` -> :class:`PooledFeatures`: five maps ``(N, C_i, H / 2^i, W / 2^i)``, and
        their five index maps.
    """

    def __init__(self, encoder: nn.Module, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.out_channels = list(encoder.out_channels)
        self.reductions = list(encoder.reductions)
        self.stage_depths = tuple(encoder.stage_depths)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> PooledFeatures:
        pooled, indices = [], []
        for stage in range(1, len(self.stage_depths) + 1):
            x, index = self.encoder.forward_stage(x, stage)  # (N, C, H/2, W/2) twice
            if stage in CENTRAL_STAGES:
                x = self.dropout(x)
            pooled.append(x)
            indices.append(index)
        return PooledFeatures(pooled, indices)


class SegNetDecoder(nn.Module):
    """Unpool with the encoder's indices, then the mirrored convolutions, stage 5 to stage 1.

    Args:
        encoder_channels: Channels of the encoder stages (64, 128, 256, 512, 512).
        stage_depths: Convolutions per encoder stage (2, 2, 3, 3, 3).
        dropout: Bayesian SegNet's dropout after decoder stages 5-3.

    Shape:
        :class:`PooledFeatures` -> ``(N, encoder_channels[0], H, W)``.
    """

    def __init__(self, *, encoder_channels: Sequence[int], stage_depths: Sequence[int], dropout: float = 0.0) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        for stage in range(len(stage_depths), 0, -1):
            width = encoder_channels[stage - 1]
            out = encoder_channels[stage - 2] if stage > 1 else width
            # The last convolution of stage 1 is the classifier (conv1_1_D), built as the model's head.
            convs = stage_depths[stage - 1] - 1 if stage == 1 else stage_depths[stage - 1]
            layers = [ConvBNReLU(width, out if i == convs - 1 else width) for i in range(convs)]
            if dropout > 0 and stage in CENTRAL_STAGES:
                layers.append(nn.Dropout(dropout))
            self.stages.append(nn.Sequential(*layers))
        self.out_channels = encoder_channels[0]

    def forward(self, features: PooledFeatures) -> Tensor:
        x = features[-1]
        for stage, index in zip(self.stages, features.indices[::-1], strict=True):
            x = F.max_unpool2d(x, index, kernel_size=2, stride=2)  # (N, C, 2h, 2w), zeros off the maxima
            x = stage(x)
        return x


@register_model("segnet")
def segnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: str = "vgg16_bn",
    pretrained: str | None = None,
    freeze_encoder: bool = False,
    encoder_options: dict[str, Any] | None = None,
    dropout: float = 0.0,
) -> SegmentationModel:
    """SegNet (VGG16-BN encoder with pooling indices, unpooling decoder); Bayesian with ``dropout=0.5``.

    Args:
        num_classes: Output classes.
        in_channels: Input channels.
        encoder: ``"vgg16_bn"`` (paper) or ``"vgg16"``: an encoder that keeps its pooling indices.
        pretrained: ``None``, ``"imagenet"`` (torchvision's VGG16-BN) or a weights file.
        freeze_encoder: Train only the decoder.
        encoder_options: Extra encoder options, e.g. ``{"base_channels": 16}``.
        dropout: 0 for SegNet; 0.5 for Bayesian SegNet's central dropout.
    """
    base = create_encoder(encoder, in_channels=in_channels, pretrained=pretrained, options=encoder_options)
    if not hasattr(base, "forward_stage"):
        raise PixelwiseError(
            f"segnet needs an encoder that keeps its max-pooling indices (vgg16_bn, vgg16); {encoder!r} does not"
        )
    encoder_module = SegNetEncoder(base, dropout=dropout)
    if freeze_encoder:
        encoder_module.freeze()
    decoder = SegNetDecoder(encoder_channels=base.out_channels, stage_depths=base.stage_depths, dropout=dropout)
    head = nn.Conv2d(decoder.out_channels, num_classes, 3, padding=1)  # conv1_1_D
    return SegmentationModel(encoder=encoder_module, decoder=decoder, head=head)


@torch.no_grad()
def mc_dropout_predict(model: nn.Module, images: Tensor, *, samples: int = 8) -> tuple[Tensor, Tensor]:
    """Monte Carlo dropout (Bayesian SegNet): average softmax over ``samples`` passes with dropout on.

    BatchNorm stays in eval mode; only the dropout layers sample. The model's modes are restored.

    Args:
        model: A model with dropout (``segnet`` built with ``dropout=0.5``).
        images: Input batch.
        samples: Stochastic forward passes (the paper uses 50; 8-16 already rank well).

    Returns:
        Mean class probabilities and the per-pixel uncertainty (variance of the samples,
        averaged over classes).

    Shape:
        ``(N, C, H, W)`` -> ``(N, num_classes, H, W)`` and ``(N, H, W)``.
    """
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout | nn.Dropout2d)]
    if not dropouts:
        raise PixelwiseError("mc_dropout_predict needs a model with dropout, e.g. segnet built with dropout=0.5")
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    for module in dropouts:
        module.train()
    try:
        probabilities = torch.stack([model(images).softmax(dim=1) for _ in range(samples)])  # (S, N, K, H, W)
    finally:
        for module, training in was_training.items():
            module.train(training)
    return probabilities.mean(dim=0), probabilities.var(dim=0).mean(dim=1)
