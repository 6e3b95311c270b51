"""Paired image + instance-target transforms on ``torchvision.transforms.v2``.

The image is wrapped as ``tv_tensors.Image`` and the target already holds ``BoundingBoxes`` and
``Mask`` tv_tensors, so v2 moves image, boxes and masks together (masks resized with
nearest-neighbour sampling); no box arithmetic is written here. After the geometry,
``SanitizeBoundingBoxes`` drops degenerate or cropped-away boxes together with their labels,
crowd flags, areas and masks, an instance whose mask became empty is dropped too, and areas are
recounted from the masks.

Both builders return ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w) in [0, 1], target)``;
Mask R-CNN normalises the image itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from pixelwise.data.instances.base import PER_INSTANCE, Target, mask_areas


class InstancePipeline:
    """Run a v2 pipeline on ``(image, target)``, then drop empty instances and recount areas.

    Args:
        pipeline: A v2 transform that accepts ``(Image, target dict)``.
        drop_empty: Drop instances whose mask has no pixel left (training: a crop can cut a mask
            away while a sliver of its box remains). Evaluation keeps every ground-truth instance.
        recount_area: Set ``area`` to the mask pixel counts (after a geometric change).
    """

    def __init__(self, pipeline: v2.Transform, *, drop_empty: bool, recount_area: bool) -> None:
        self.pipeline = pipeline
        self.drop_empty = drop_empty
        self.recount_area = recount_area

    def __call__(self, image: Tensor, target: Target) -> tuple[Tensor, Target]:
        image, target = self.pipeline(tv_tensors.Image(image), dict(target))
        target = dict(target)
        if self.drop_empty:
            target = select_instances(target, (target["masks"].flatten(1) != 0).any(dim=1))
        if self.recount_area:
            target["area"] = mask_areas(target["masks"])
        return image, target

    def __repr__(self) -> str:
        return f"InstancePipeline({self.pipeline}, drop_empty={self.drop_empty}, recount_area={self.recount_area})"


def select_instances(target: Target, keep: Tensor) -> Target:
    """The target with only the instances where ``keep`` (bool (N,)) is true, tv_tensor types kept."""
    out = dict(target)
    for key in PER_INSTANCE:
        if key in out:
            value = out[key]
            out[key] = tv_tensors.wrap(value[keep], like=value) if isinstance(value, tv_tensors.TVTensor) else value[keep]
    return out


def per_instance_labels(inputs: Any) -> tuple[Tensor, ...]:
    """``SanitizeBoundingBoxes``' ``labels_getter``: every per-instance tensor of the target but boxes and masks.

    Its default getter finds only ``"labels"`` (torchvision 0.29), which would leave ``iscrowd``
    and ``area`` unfiltered and out of step with the boxes; masks it filters by itself.
    """
    target = inputs[1]
    return tuple(target[key] for key in PER_INSTANCE if key not in ("boxes", "masks") and key in target)


class RandomScale(v2.Transform):
    """Resize by a factor drawn from ``scale_range``, of the stored size or of the size whose
    shorter side is ``short_side``; boxes and masks follow through v2.

    Args:
        scale_range: ``(low, high)``, ``0 < low <= high``.
        short_side: Factors are relative to the image resized to this shorter side (``None``: as stored).
    """

    def __init__(self, *, scale_range: tuple[float, float], short_side: int | None = None) -> None:
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        if short_side is not None and short_side < 1:
            raise ValueError(f"short_side must be a positive number of pixels, got {short_side}")
        self.scale_range = (float(low), float(high))
        self.short_side = short_side

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = next(x for x in flat_inputs if isinstance(x, tv_tensors.Image)).shape[-2:]
        low, high = self.scale_range
        factor = low + (high - low) * float(torch.rand(()))  # torch's RNG, like every v2 transform
        if self.short_side is not None:
            factor *= self.short_side / min(height, width)
        return {"size": [max(1, round(height * factor)), max(1, round(width * factor))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.Mask):
            # Pixel centres map to pixel centres, as box corners scale: plain NEAREST shifts masks by up
            # to a source pixel towards the top left, off their boxes.
            return F.resize(inpt, size=params["size"], interpolation=v2.InterpolationMode.NEAREST_EXACT)
        if not isinstance(inpt, tv_tensors.Image | tv_tensors.BoundingBoxes):
            return inpt
        return F.resize(inpt, size=params["size"], antialias=True)

    # torchvision < 0.21 calls the private names.
    _get_params = make_params
    _transform = transform


def instance_train_transform(
    *,
    scale_range: tuple[float, float] = (0.75, 1.25),
    hflip: bool = True,
    color_jitter: float = 0.0,
    crop_size: int | tuple[int, int] | None = None,
    short_side: int | None = None,
) -> InstancePipeline:
    """The training augmentation for instance segmentation.

    Random rescale, horizontal flip, optional colour jitter, optional random crop (padded with
    0 where the image is smaller), conversion to float, then sanitising: boxes under 1 px or
    cropped away go with every per-instance entry, instances whose mask is empty go too, and
    ``area`` is recounted from the masks.

    Args:
        scale_range: Random rescale factors (``(1.0, 1.0)``: no rescale).
        hflip: Mirror left-right with probability 0.5.
        color_jitter: Strength of random brightness, contrast and saturation changes (0: off).
        crop_size: Side of a random crop, or ``(height, width)`` (``None``: whole images).
        short_side: Scale factors are relative to the image resized to this shorter side
            (``None``: relative to the stored size).

    Returns:
        ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w), target)``.
    """
    steps = train_steps(scale_range=scale_range, hflip=hflip, color_jitter=color_jitter, crop_size=crop_size,
                        short_side=short_side)
    steps.append(v2.SanitizeBoundingBoxes(labels_getter=per_instance_labels))
    return InstancePipeline(v2.Compose(steps), drop_empty=True, recount_area=True)


def train_steps(
    *,
    scale_range: tuple[float, float],
    hflip: bool,
    color_jitter: float,
    crop_size: int | tuple[int, int] | None,
    short_side: int | None = None,
) -> list[Any]:
    """The v2 steps of a training augmentation (instance and panoptic alike): optional rescale, flip, colour
    jitter, crop (padded with 0), then conversion of the image to float in [0, 1]."""
    steps: list[Any] = []
    if tuple(scale_range) != (1.0, 1.0) or short_side is not None:
        steps.append(RandomScale(scale_range=scale_range, short_side=short_side))
    if hflip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if color_jitter > 0:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    if crop_size is not None:
        size = [crop_size, crop_size] if isinstance(crop_size, int) else list(crop_size)
        steps.append(v2.RandomCrop(size, pad_if_needed=True, fill=0))
    steps.append(to_float())
    return steps


def eval_steps(*, short_side: int | None, scale: float) -> list[Any]:
    """The v2 steps of an evaluation transform: an optional deterministic resize, then conversion to float."""
    resize = short_side is not None or scale != 1.0
    steps: list[Any] = [RandomScale(scale_range=(scale, scale), short_side=short_side)] if resize else []
    steps.append(to_float())
    return steps


def instance_eval_transform(*, short_side: int | None = None, scale: float = 1.0) -> InstancePipeline:
    """The deterministic evaluation transform: optional resize, then conversion to float.

    Every ground-truth instance is kept (also one whose mask a downscale empties), so scores
    count them all.

    Args:
        short_side: Resize so that the shorter side has this many pixels (``None``: keep the size).
        scale: A further resize factor.

    Returns:
        ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w), target)``.
    """
    resize = short_side is not None or scale != 1.0
    return InstancePipeline(v2.Compose(eval_steps(short_side=short_side, scale=scale)), drop_empty=False,
                            recount_area=resize)


def to_float() -> v2.Transform:
    """The image to float32 in [0, 1]; masks, boxes and ids untouched."""
    return v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)
