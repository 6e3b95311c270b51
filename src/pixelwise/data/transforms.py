"""Paired image + mask transforms on ``torchvision.transforms.v2``.

The image is wrapped as ``tv_tensors.Image`` and the mask as ``tv_tensors.Mask``, so every v2
transform treats each correctly: geometry moves both the same way, masks are resized with
nearest-neighbour sampling (labels are never blended), colour changes touch only the image,
and padding fills the mask with the ignore index (the image with 0).

:func:`train_transform` and :func:`eval_transform` return callables
``(image uint8 (C, H, W), mask int64 (H, W)) -> (image float32 (C, H, W) normalised, mask int64 (H, W))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from pixelwise.constants import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PairedTransform:
    """Run a v2 pipeline on an ``(image, mask)`` pair of plain tensors.

    Args:
        pipeline: A v2 transform (usually ``v2.Compose``) that accepts ``(Image, Mask)``.
    """

    def __init__(self, pipeline: v2.Transform) -> None:
        self.pipeline = pipeline

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        image, mask = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return image.as_subclass(Tensor), mask.as_subclass(Tensor)

    def __repr__(self) -> str:
        return f"PairedTransform({self.pipeline})"


class RandomScaleCrop(v2.Transform):
    """Rescale by a random factor, then take a random crop of a fixed size, padding what is missing.

    Equivalent to "resize by ``s``, pad to at least ``size``, random crop" (the torchvision
    segmentation reference), but resizes only the window that is kept, so scale 2 costs no
    more than scale 1. Padding goes at the bottom and right: 0 in the image, ``ignore_index``
    in the mask, so padded pixels are never scored.

    Args:
        size: Output ``(height, width)``.
        scale_range: Factors drawn uniformly from ``[low, high]``.
        ignore_index: Fill value of padded mask pixels.
        short_side: If given, factors are relative to the image resized so that its shorter side is
            this many pixels (for datasets whose images vary in size, such as Oxford-IIIT Pet).
    """

    def __init__(
        self,
        *,
        size: tuple[int, int],
        scale_range: tuple[float, float],
        ignore_index: int = IGNORE_INDEX,
        short_side: int | None = None,
    ) -> None:
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        self.size = size
        self.scale_range = (float(low), float(high))
        self.ignore_index = ignore_index
        self.short_side = short_side

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = next(x for x in flat_inputs if isinstance(x, tv_tensors.Image | tv_tensors.Mask)).shape[-2:]
        low, high = self.scale_range
        scale = low + (high - low) * float(torch.rand(()))  # torch's RNG, like every v2 transform
        if self.short_side is not None:
            scale *= self.short_side / min(height, width)
        crop_h, crop_w = self.size
        # Output pixels that come from the image; the rest of the crop is padding.
        out_h, out_w = min(crop_h, round(height * scale)), min(crop_w, round(width * scale))
        out_h, out_w = max(out_h, 1), max(out_w, 1)
        # The same window in source pixels.
        win_h, win_w = min(height, max(1, round(out_h / scale))), min(width, max(1, round(out_w / scale)))
        top = int(torch.randint(0, height - win_h + 1, ()))
        left = int(torch.randint(0, width - win_w + 1, ()))
        return {"window": (top, left, win_h, win_w), "out": [out_h, out_w], "pad": [0, 0, crop_w - out_w, crop_h - out_h]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image | tv_tensors.Mask):
            return inpt
        top, left, win_h, win_w = params["window"]
        out = F.resized_crop(inpt, top, left, win_h, win_w, size=params["out"], antialias=True)
        if any(params["pad"]):
            fill = self.ignore_index if isinstance(inpt, tv_tensors.Mask) else 0
            out = F.pad(out, padding=params["pad"], fill=fill)
        return out

    # torchvision < 0.21 calls the private names.
    _get_params = make_params
    _transform = transform


class Normalize(v2.Transform):
    """``(x - mean) / std`` on float images; a 1-channel image uses the means of ``mean`` and ``std``."""

    def __init__(self, *, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.mean, self.std = list(mean), list(std)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image):
            return inpt
        mean, std = self.mean, self.std
        if inpt.shape[-3] == 1 and len(mean) > 1:  # greyscale data with RGB statistics
            mean, std = [sum(mean) / len(mean)], [sum(std) / len(std)]
        return F.normalize(inpt, mean=mean, std=std)

    _get_params = make_params
    _transform = transform


def train_transform(
    *,
    crop_size: int | tuple[int, int] | None,
    scale_range: tuple[float, float] = (0.5, 2.0),
    hflip: bool = True,
    color_jitter: float = 0.2,
    ignore_index: int = IGNORE_INDEX,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    short_side: int | None = None,
) -> PairedTransform:
    """The training augmentation: random scale + crop, horizontal flip, colour jitter, normalisation.

    Args:
        crop_size: Crop side, or ``(height, width)``; ``None`` keeps whole images (no scale or crop),
            which only batches when every image has the same size.
        scale_range: Random rescale factors before the crop (``(1.0, 1.0)``: crop only).
        hflip: Mirror left-right with probability 0.5 (do not use where left/right carries meaning).
        color_jitter: Strength of random brightness, contrast and saturation changes (0: off).
        ignore_index: Mask value of padded pixels.
        mean, std: Per-channel normalisation of the ``[0, 1]`` image.
        short_side: Scale factors are relative to the image resized to this shorter side (``None``:
            relative to the image as stored).

    Returns:
        ``(image uint8 (C, H, W), mask int64 (H, W)) -> (image float32 (C, h, w), mask int64 (h, w))``.
    """
    steps: list[v2.Transform] = []
    if crop_size is not None:
        size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        steps.append(RandomScaleCrop(size=size, scale_range=scale_range, ignore_index=ignore_index, short_side=short_side))
    if hflip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if color_jitter > 0:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    steps += _to_float(mean, std)
    return PairedTransform(v2.Compose(steps))


def eval_transform(
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    resize: int | tuple[int, int] | None = None,
) -> PairedTransform:
    """The deterministic evaluation transform: optional resize, then normalisation.

    Args:
        mean, std: Per-channel normalisation of the ``[0, 1]`` image.
        resize: ``None`` keeps the size (scores then count every original pixel); an int resizes the
            shorter side to it keeping the aspect ratio; ``(height, width)`` resizes exactly. Masks
            are resized with nearest-neighbour sampling.

    Returns:
        ``(image uint8 (C, H, W), mask int64 (H, W)) -> (image float32 (C, h, w), mask int64 (h, w))``.
    """
    steps: list[v2.Transform] = []
    if resize is not None:
        steps.append(v2.Resize(resize if isinstance(resize, int) else list(resize), antialias=True))
    steps += _to_float(mean, std)
    return PairedTransform(v2.Compose(steps))


def _to_float(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True), Normalize(mean=mean, std=std)]
