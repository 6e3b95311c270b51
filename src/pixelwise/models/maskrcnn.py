"""Mask R-CNN (He et al., 2017 — https://arxiv.org/abs/1703.06870): Faster R-CNN's box head plus a mask head.

Two builders, both torchvision's :class:`~torchvision.models.detection.MaskRCNN` underneath:

- ``maskrcnn``: torchvision's own ResNet-50-FPN models — ``version=1`` (the paper's, FrozenBatchNorm)
  or ``version=2`` (Li et al. 2021's improved recipe: BatchNorm in the FPN and 4-conv heads).
  Nothing downloads by default. ``pretrained="coco"`` loads torchvision's COCO weights through its
  weights enum (online); ``pretrained=PATH`` loads a state dict of such a model offline. Either way
  the box and mask predictors are then replaced for ``num_classes`` (the torchvision tutorial's
  fine-tuning recipe), unless the file already has that many classes.
- ``maskrcnn_r18``: a CPU-sized variant trainable from scratch: a ResNet-18 (or -34) with an FPN,
  GroupNorm everywhere (batches of 2-4 images make BatchNorm statistics noise, and a from-scratch
  network has no ImageNet statistics to freeze; He et al. 2019, "Rethinking ImageNet
  Pre-training", train detectors from scratch with GN), 128 FPN channels and a 2-layer mask head.
  ``backbone`` may also be any pixelwise encoder (a timm name, ``backbone_options`` for its own options):
  its stride-4 to stride-32 maps feed the same FPN (:class:`EncoderFPN`).

Defaults for small datasets (what this file chose, and why):

- anchors: torchvision's 32, 64, 128, 256 and 512 px on FPN levels P2-P6, whatever the image size, with
  aspect ratios 0.5, 1, 2 (height / width). Scaling them with the image (``32 * 2**level * min_size / 800``)
  was tried and is worse where objects are a large part of a small image: on 128 px instance shapes
  (objects 29-64 px) one epoch reached mask AP 0.07 with scaled anchors (5-82 px: the objects land on
  the coarse P5/P6 maps) and 0.17 with these. ``anchor_sizes`` sets them;
- ``box_batch_size_per_image`` 128 RoIs (torchvision: 512) and 1000 RPN proposals per training image
  (torchvision: 2000), 64 and 500 for ``maskrcnn_r18``: a few objects per image need fewer samples, and on a
  CPU the RoI heads (the box head's 1024-wide layers, RoIAlign's backward) cost as much as the backbone;
- ``box_score_thresh`` 0.05 and 100 detections per image, as COCO evaluation expects.

Class 0 is the background; ``num_classes`` counts it. The model reads a list of float images in
``[0, 1]`` and normalises and resizes them itself (short side ``min_size``, a tuple picks one at
random per training batch — multi-scale training — and the last one at test time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection import mask_rcnn as tv_mask_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder, feature_index
from pixelwise.models.encoders.registry import create_encoder
from pixelwise.models.encoders.weights import read_state_dict, weights_file
from pixelwise.models.registry import register_model

COCO = "coco"
IMAGENET = "imagenet"
SMALL_BACKBONES = ("resnet18", "resnet34")
DEFAULT_ANCHOR_SIZES = (32, 64, 128, 256, 512)
"""torchvision's (and Detectron2's) anchor side per FPN level P2-P6."""

_TORCHVISION = {
    1: (tv_mask_rcnn.maskrcnn_resnet50_fpn, tv_mask_rcnn.MaskRCNN_ResNet50_FPN_Weights),
    2: (tv_mask_rcnn.maskrcnn_resnet50_fpn_v2, tv_mask_rcnn.MaskRCNN_ResNet50_FPN_V2_Weights),
}


def anchor_generator(*, anchor_sizes: Sequence[int] | None, aspect_ratios: Sequence[float]) -> AnchorGenerator:
    """One anchor size per FPN level (P2-P6): ``anchor_sizes``, or torchvision's 32-512 px."""
    if anchor_sizes is None:
        anchor_sizes = DEFAULT_ANCHOR_SIZES
    if len(anchor_sizes) != 5:
        raise PixelwiseError(f"anchor_sizes needs one size per FPN level (5), got {list(anchor_sizes)}")
    return AnchorGenerator(sizes=tuple((int(s),) for s in anchor_sizes), aspect_ratios=(tuple(aspect_ratios),) * 5)


def replace_predictors(model: MaskRCNN, *, num_classes: int) -> MaskRCNN:
    """New box and mask predictors for ``num_classes`` (background included), keeping everything else."""
    heads = model.roi_heads
    if heads.box_predictor.cls_score.out_features != num_classes:
        heads.box_predictor = FastRCNNPredictor(heads.box_predictor.cls_score.in_features, num_classes)
    if heads.mask_predictor.mask_fcn_logits.out_channels != num_classes:
        heads.mask_predictor = MaskRCNNPredictor(heads.mask_predictor.conv5_mask.in_channels,
                                                 heads.mask_predictor.conv5_mask.out_channels, num_classes)
    return model


def _check_channels(name: str, in_channels: int) -> None:
    if in_channels != 3:
        raise PixelwiseError(f"{name} reads RGB images (in_channels=3), got in_channels={in_channels}; "
                             "convert greyscale images to RGB (Mask R-CNN normalises with RGB statistics)")


@register_model("maskrcnn", task="instance")
def maskrcnn(
    *,
    num_classes: int,
    in_channels: int = 3,
    version: int = 1,
    pretrained: str | None = None,
    pretrained_backbone: str | None = None,
    trainable_layers: int | None = None,
    min_size: int | Sequence[int] = 800,
    max_size: int = 1333,
    anchor_sizes: Sequence[int] | None = None,
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    box_batch_size_per_image: int = 128,
    rpn_pre_nms_top_n_train: int = 2000,
    rpn_post_nms_top_n_train: int = 1000,
    rpn_pre_nms_top_n_test: int = 1000,
    rpn_post_nms_top_n_test: int = 1000,
    box_detections_per_img: int = 100,
    box_score_thresh: float = 0.05,
) -> MaskRCNN:
    """torchvision's Mask R-CNN with a ResNet-50-FPN, its predictors sized for ``num_classes``.

    Args:
        num_classes: Classes including the background (class 0).
        in_channels: Must be 3.
        version: 1 (``maskrcnn_resnet50_fpn``) or 2 (``maskrcnn_resnet50_fpn_v2``).
        pretrained: ``None`` (random), ``"coco"`` (torchvision's COCO weights, downloaded by torchvision)
            or the path of a state dict of the same torchvision model, read offline.
        pretrained_backbone: ``None``, ``"imagenet"`` (torchvision's ResNet-50 weights) or a path to them.
        trainable_layers: ResNet stages trained (0-5; torchvision's default: 3 with pretrained weights, else 5).
        min_size, max_size: The short side images are resized to (a tuple: one at random per training
            batch) and the cap on the long side.
        anchor_sizes: Anchor side per FPN level P2-P6 (default: 32, 64, 128, 256, 512; see the module docstring).
        aspect_ratios: Anchor height/width ratios.
        box_batch_size_per_image: RoIs sampled per training image for the box head.
        rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train, rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test:
            RPN proposals kept per FPN level before NMS and per image after it, in training and at test time
            (torchvision: 2000 / 2000 / 1000 / 1000). A few objects per image need far fewer: the RoI heads
            run on every test proposal, so ``rpn_post_nms_top_n_test`` sets most of inference's cost.
        box_detections_per_img, box_score_thresh: What inference keeps.
    """
    _check_channels("maskrcnn", in_channels)
    if version not in _TORCHVISION:
        raise PixelwiseError(f"maskrcnn version {version!r} does not exist; choose 1 or 2")
    builder, weights_enum = _TORCHVISION[version]
    options: dict[str, Any] = dict(  # torchvision's MaskRCNN keywords, under its own names
        min_size=min_size, max_size=max_size, box_batch_size_per_image=box_batch_size_per_image,
        rpn_pre_nms_top_n_train=rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train=rpn_post_nms_top_n_train,
        rpn_pre_nms_top_n_test=rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test=rpn_post_nms_top_n_test,
        box_detections_per_img=box_detections_per_img, box_score_thresh=box_score_thresh,
    )
    options["rpn_anchor_generator"] = anchor_generator(anchor_sizes=anchor_sizes, aspect_ratios=aspect_ratios)
    file_state = None
    weights = None
    if pretrained == COCO:
        weights = weights_enum.DEFAULT
    elif pretrained is not None:
        file_state = read_state_dict(weights_file(pretrained))
    backbone_weights = None
    if pretrained_backbone == IMAGENET:
        backbone_weights = resnet.ResNet50_Weights.IMAGENET1K_V1
    try:
        model = builder(weights=weights, weights_backbone=backbone_weights, trainable_backbone_layers=trainable_layers,
                        num_classes=91 if weights is not None else _classes_in(file_state, num_classes), **options)
    except (OSError, RuntimeError) as error:  # urllib's URLError is an OSError
        raise PixelwiseError(
            f"could not download torchvision's {'COCO' if weights else 'ImageNet'} weights ({str(error).splitlines()[0]}); "
            "pass pretrained=PATH (or pretrained_backbone=PATH) to a local file of them"
        ) from None
    if file_state is not None:
        _load(model, file_state, what=str(pretrained))
    if pretrained_backbone not in (None, IMAGENET):
        _load(model.backbone.body, read_state_dict(weights_file(pretrained_backbone)), what=pretrained_backbone, strict=False)
    return replace_predictors(model, num_classes=num_classes)


@register_model("maskrcnn_r18", task="instance")
def maskrcnn_r18(
    *,
    num_classes: int,
    in_channels: int = 3,
    backbone: str = "resnet18",
    backbone_options: dict[str, Any] | None = None,
    pretrained: str | None = None,
    fpn_channels: int = 128,
    mask_head_convs: int = 2,
    box_head_size: int = 1024,
    norm: str = "group",
    min_size: int | Sequence[int] = 320,
    max_size: int = 640,
    anchor_sizes: Sequence[int] | None = None,
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    box_batch_size_per_image: int = 64,
    rpn_pre_nms_top_n_train: int = 2000,
    rpn_post_nms_top_n_train: int = 500,
    rpn_pre_nms_top_n_test: int = 1000,
    rpn_post_nms_top_n_test: int = 1000,
    box_detections_per_img: int = 100,
    box_score_thresh: float = 0.05,
) -> MaskRCNN:
    """A CPU-sized Mask R-CNN: ResNet-18/34 + FPN with GroupNorm, trainable from scratch.

    Args:
        num_classes: Classes including the background (class 0).
        in_channels: Must be 3.
        backbone: ``"resnet18"`` or ``"resnet34"``: torchvision's ResNet. Any other encoder name (a timm model
            with stride-4 to stride-32 features, e.g. ``"resnet10t"``), or one of those two with
            ``backbone_options``, is built by :func:`~pixelwise.models.encoders.create_encoder` (timm).
        backbone_options: The encoder's own options, e.g. ``{"channels": [32, 64, 128, 256], "stem_width": 32}``:
            a half-width ResNet, about 1.8x the training images/s of the full one on 128 px images.
        pretrained: ``None`` or the path of a state dict of this same model (e.g. another run's weights).
        fpn_channels: Width of the FPN and of the heads.
        mask_head_convs: 3x3 convolutions in the mask head before its upsampling (the paper: 4).
        box_head_size: Width of the box head's two fully connected layers (the paper and torchvision: 1024;
            on 128 px images they cost more than the backbone, and 256 learns as fast).
        norm: ``"group"`` (GroupNorm, 32 groups or fewer) or ``"batch"`` (BatchNorm) in the backbone, FPN and mask head.
        min_size, max_size, anchor_sizes, aspect_ratios, box_batch_size_per_image, rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n_train, rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test, box_detections_per_img,
        box_score_thresh: As for ``maskrcnn`` (but 64 RoIs and 500 proposals per
            training image by default).
    """
    _check_channels("maskrcnn_r18", in_channels)
    norm_layer = _norm(norm)
    if backbone in SMALL_BACKBONES and not backbone_options:
        body = getattr(resnet, backbone)(weights=None, norm_layer=norm_layer)
        features = BackboneWithFPN(
            body, return_layers={f"layer{i + 1}": str(i) for i in range(4)}, in_channels_list=[64, 128, 256, 512],
            out_channels=fpn_channels, extra_blocks=LastLevelMaxPool(), norm_layer=norm_layer,
        )
    else:
        options = dict(backbone_options or {})
        if norm == "group":
            options.setdefault("norm_layer", norm_layer)
        features = EncoderFPN(create_encoder(backbone, options=options), out_channels=fpn_channels,
                              norm_layer=norm_layer)
    anchors = anchor_generator(anchor_sizes=anchor_sizes, aspect_ratios=aspect_ratios)
    model = MaskRCNN(
        features,
        rpn_anchor_generator=anchors,
        rpn_head=RPNHead(fpn_channels, anchors.num_anchors_per_location()[0]),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, box_head_size),
        box_predictor=FastRCNNPredictor(box_head_size, num_classes),
        mask_head=MaskRCNNHeads(fpn_channels, [fpn_channels] * mask_head_convs, 1, norm_layer=norm_layer),
        mask_predictor=MaskRCNNPredictor(fpn_channels, fpn_channels, num_classes),
        min_size=min_size, max_size=max_size, box_batch_size_per_image=box_batch_size_per_image,
        rpn_pre_nms_top_n_train=rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train=rpn_post_nms_top_n_train,
        rpn_pre_nms_top_n_test=rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test=rpn_post_nms_top_n_test,
        box_detections_per_img=box_detections_per_img, box_score_thresh=box_score_thresh,
    )
    if pretrained is not None:
        _load(model, read_state_dict(weights_file(pretrained)), what=pretrained)
    return model


class EncoderFPN(nn.Module):
    """A pixelwise encoder's stride-4 to stride-32 maps through a feature pyramid (P2-P5, plus P6 by max
    pooling): the ``OrderedDict`` of maps and ``out_channels`` torchvision's detectors read.

    Args:
        encoder: Any :class:`~pixelwise.models.base.Encoder` with features at strides 4, 8, 16 and 32.
        out_channels: Channels of every pyramid level.
        norm_layer: Normalisation after the pyramid's convolutions (``None``: none).
    """

    def __init__(self, encoder: Encoder, *, out_channels: int, norm_layer=None) -> None:
        super().__init__()
        self.encoder = encoder
        self.levels = [feature_index(encoder.reductions, stride) for stride in (4, 8, 16, 32)]
        self.fpn = FeaturePyramidNetwork([encoder.out_channels[i] for i in self.levels], out_channels,
                                         extra_blocks=LastLevelMaxPool(), norm_layer=norm_layer)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.encoder(x)
        return self.fpn(OrderedDict((str(level), features[i]) for level, i in enumerate(self.levels)))


def _norm(name: str):
    if name == "group":
        return lambda channels, **factory: nn.GroupNorm(min(32, channels), channels, **factory)  # timm: device, dtype
    if name == "batch":
        return nn.BatchNorm2d
    raise PixelwiseError(f"norm {name!r} is not available; choose 'group' or 'batch'")


def _classes_in(state: dict[str, torch.Tensor] | None, default: int) -> int:
    """The class count of a Mask R-CNN state dict (its box classifier's rows), or ``default``."""
    weight = None if state is None else state.get("roi_heads.box_predictor.cls_score.weight")
    return default if weight is None else int(weight.shape[0])


def _load(module: nn.Module, state: dict[str, torch.Tensor], *, what: str, strict: bool = True) -> None:
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as error:
        raise PixelwiseError(
            f"the weights in {what} do not fit this network ({str(error).splitlines()[0]}); "
            "give a state dict of the same torchvision Mask R-CNN (same version / backbone)"
        ) from None

