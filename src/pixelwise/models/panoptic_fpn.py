"""Panoptic FPN (Kirillov et al., 2019 — https://arxiv.org/abs/1901.02446): one network for stuff and things.

A Mask R-CNN (``maskrcnn_r18``: ResNet-18 FPN with GroupNorm) finds the things; a semantic branch on
the same FPN features labels every pixel. The semantic branch is the paper's: each of P2-P5 goes
through 3x3 conv + GroupNorm + ReLU stages, upsampled by 2 after each until it reaches 1/4 scale;
the four are summed and a 1x1 convolution gives the class logits, upsampled to the image. It
predicts every panoptic class (stuff and things); the fusion (:mod:`pixelwise.inference.panoptic_fusion`)
takes stuff from it and things from the instances.

Classes: one list for the panoptic task, ``things`` the indices that are countable objects. The
detector sees the things only, as labels ``1..T`` (0 is its background); :meth:`PanopticFPN.forward`
maps both ways, so callers only ever see panoptic class indices.

``forward(images, targets)`` in training returns Mask R-CNN's loss dict plus ``loss_semantic``
(weighted by ``semantic_weight``: the paper's λs = 0.5); in eval mode, one dict per image with the
detections (``labels`` in panoptic class indices) and ``semantic`` logits ``(K, H, W)`` at the input's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.models.maskrcnn import maskrcnn_r18
from pixelwise.models.registry import register_model


class SemanticFPNHead(nn.Module):
    """Panoptic FPN's semantic branch: P2-P5 -> 1/4 scale, summed, 1x1 conv to ``num_classes`` logits."""

    def __init__(self, *, in_channels: int, channels: int, num_classes: int, levels: int = 4) -> None:
        super().__init__()

        def stage(cin: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, channels, 3, padding=1, bias=False),
                                 nn.GroupNorm(min(32, channels), channels), nn.ReLU(inplace=True))

        # level i (stride 4 * 2**i) needs max(1, i) stages; each stage but the last of a level upsamples by 2
        self.levels = nn.ModuleList(
            nn.ModuleList([stage(in_channels if k == 0 else channels) for k in range(max(1, i))]) for i in range(levels)
        )
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        size = features[0].shape[-2:]
        total = None
        for index, (stages, x) in enumerate(zip(self.levels, features, strict=False)):
            for stage in stages:
                x = stage(x)
                if index > 0:
                    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            if x.shape[-2:] != size:  # odd sizes: FPN levels are ceil-divided
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            total = x if total is None else total + x
        return self.classifier(total)


class PanopticFPN(nn.Module):
    """Mask R-CNN + a semantic FPN branch on one backbone; see the module docstring.

    Args:
        detector: A torchvision Mask R-CNN with ``1 + len(things)`` classes.
        num_classes: Panoptic classes (stuff and things).
        things: Panoptic class index of each thing, in detector label order (detector label ``t`` is ``things[t - 1]``).
        semantic_channels: Width of the semantic branch.
        semantic_weight: Weight of the semantic loss.
    """

    def __init__(self, *, detector: nn.Module, num_classes: int, things: Sequence[int], semantic_channels: int = 64,
                 semantic_weight: float = 0.5) -> None:
        super().__init__()
        self.detector = detector
        self.things = [int(t) for t in things]
        self.num_classes = num_classes
        self.semantic_weight = semantic_weight
        self.semantic_head = SemanticFPNHead(in_channels=detector.backbone.out_channels, channels=semantic_channels,
                                             num_classes=num_classes)
        to_detector = torch.zeros(num_classes, dtype=torch.int64)  # panoptic class -> detector label (0: not a thing)
        to_detector[torch.tensor(self.things, dtype=torch.int64)] = torch.arange(1, len(self.things) + 1)
        self.register_buffer("to_detector", to_detector, persistent=False)
        self.register_buffer("to_panoptic", torch.tensor([0, *self.things], dtype=torch.int64), persistent=False)

    def forward(self, images: list[Tensor], targets: list[dict[str, Any]] | None = None):
        detector = self.detector
        original_sizes = [tuple(image.shape[-2:]) for image in images]
        semantic_targets = None
        if self.training:
            if targets is None:
                raise PixelwiseError("PanopticFPN needs targets in training mode")
            semantic_targets = [t["semantic"] for t in targets]
            targets = [{**t, "labels": self.to_detector[t["labels"]]} for t in targets]
        batch, targets = detector.transform(images, targets)
        features = detector.backbone(batch.tensors)
        proposals, proposal_losses = detector.rpn(batch, features, targets)
        detections, detector_losses = detector.roi_heads(features, proposals, batch.image_sizes, targets)
        logits = self.semantic_head([features[key] for key in ("0", "1", "2", "3")])
        logits = F.interpolate(logits, size=batch.tensors.shape[-2:], mode="bilinear", align_corners=False)
        if self.training:
            loss = sum(self._semantic_loss(logits[i, :, :h, :w], truth)
                       for i, ((h, w), truth) in enumerate(zip(batch.image_sizes, semantic_targets, strict=True)))
            return {**detector_losses, **proposal_losses, "loss_semantic": self.semantic_weight * loss / len(images)}
        detections = detector.transform.postprocess(detections, batch.image_sizes, original_sizes)
        outputs = []
        for i, (detection, (h, w), size) in enumerate(zip(detections, batch.image_sizes, original_sizes, strict=True)):
            semantic = F.interpolate(logits[i : i + 1, :, :h, :w], size=size, mode="bilinear", align_corners=False)[0]
            outputs.append({**detection, "labels": self.to_panoptic[detection["labels"]], "semantic": semantic})
        return outputs

    @staticmethod
    def _semantic_loss(logits: Tensor, truth: Tensor) -> Tensor:
        """Cross-entropy at the resized image's size (the truth resized by nearest neighbour)."""
        truth = F.interpolate(truth[None, None].float(), size=logits.shape[-2:], mode="nearest")[0, 0].long()
        return F.cross_entropy(logits[None].float(), truth[None], ignore_index=IGNORE_INDEX)


@register_model("panoptic_fpn", task="panoptic")
def panoptic_fpn(
    *,
    num_classes: int,
    in_channels: int = 3,
    things: Sequence[int] = (),
    semantic_channels: int = 64,
    semantic_weight: float = 0.5,
    backbone: str = "resnet18",
    fpn_channels: int = 128,
    mask_head_convs: int = 2,
    min_size: int | Sequence[int] = 320,
    max_size: int = 640,
    box_batch_size_per_image: int = 64,
    rpn_post_nms_top_n_train: int = 500,
    box_detections_per_img: int = 100,
    box_score_thresh: float = 0.05,
) -> PanopticFPN:
    """Panoptic FPN on ``maskrcnn_r18`` (GroupNorm ResNet-18/34 FPN).

    Args:
        num_classes: Panoptic classes, stuff and things.
        in_channels: Must be 3.
        things: The class indices that are things (the engine fills them from the dataset).
        semantic_channels: Width of the semantic branch (the paper: 128).
        semantic_weight: Weight of the semantic loss (the paper's λs = 0.5).
        backbone, fpn_channels, mask_head_convs, min_size, max_size, box_batch_size_per_image,
        rpn_post_nms_top_n_train, box_detections_per_img, box_score_thresh: As for ``maskrcnn_r18``.
    """
    things = [int(t) for t in things]
    if not things or any(not 0 <= t < num_classes for t in things) or len(set(things)) != len(things):
        raise PixelwiseError(f"panoptic_fpn needs things: distinct class indices in 0..{num_classes - 1}, got {things}; "
                             "pass --model-option things=[...] (the engine fills it from the dataset)")
    detector = maskrcnn_r18(
        num_classes=1 + len(things), in_channels=in_channels, backbone=backbone, fpn_channels=fpn_channels,
        mask_head_convs=mask_head_convs, min_size=min_size, max_size=max_size,
        box_batch_size_per_image=box_batch_size_per_image, rpn_post_nms_top_n_train=rpn_post_nms_top_n_train,
        box_detections_per_img=box_detections_per_img, box_score_thresh=box_score_thresh,
    )
    return PanopticFPN(detector=detector, num_classes=num_classes, things=things,
                       semantic_channels=semantic_channels, semantic_weight=semantic_weight)
