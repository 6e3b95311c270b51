"""Paired image + panoptic-target transforms on ``torchvision.transforms.v2``.

Only the image (``tv_tensors.Image``) and the segment-id map (``tv_tensors.Mask``) go through the v2
pipeline, so they move together and ids are resampled nearest-neighbour (never blended into ids that
do not exist); a crop pads the map with 0, void. Everything else — ``semantic``, the thing boxes,
masks and areas, ``segments_info`` — is then rebuilt from the moved map
(:func:`~pixelwise.data.panoptic.base.panoptic_target`): segments cropped away are dropped, areas
recounted, boxes are the masks' extents.

Both builders return ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w) in [0, 1], target)``;
Mask R-CNN (and Panoptic FPN) normalise the image themselves.
"""

from __future__ import annotations

from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

from pixelwise.data.instances.transforms import eval_steps, train_steps
from pixelwise.data.panoptic.base import Target, panoptic_target


class PanopticPipeline:
    """Run a v2 pipeline on ``(Image, Mask of segment ids)``, then rebuild the target from the moved ids.

    Args:
        pipeline: A v2 transform that accepts ``(Image, Mask)``.
    """

    def __init__(self, pipeline: v2.Transform) -> None:
        self.pipeline = pipeline

    def __call__(self, image: Tensor, target: Target) -> tuple[Tensor, Target]:
        image, segments = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(target["segments"]))
        rebuilt = panoptic_target(segments=segments.as_subclass(Tensor), segments_info=target["segments_info"],
                                  image_id=target["image_id"])  # fmt: skip
        return image, rebuilt

    def __repr__(self) -> str:
        return f"PanopticPipeline({self.pipeline})"


def panoptic_train_transform(
    *,
    scale_range: tuple[float, float] = (1.0, 1.0),
    hflip: bool = True,
    color_jitter: float = 0.0,
    crop_size: int | tuple[int, int] | None = None,
) -> PanopticPipeline:
    """The training augmentation for panoptic segmentation.

    Optional random rescale, horizontal flip, optional colour jitter, optional random crop (the image
    padded with 0, the ids with void), conversion to float, then the target rebuilt from the ids.

    Args:
        scale_range: Random rescale factors (default ``(1.0, 1.0)``: none, since Mask R-CNN resizes
            every image to its ``min_size`` itself).
        hflip: Mirror left-right with probability 0.5.
        color_jitter: Strength of random brightness, contrast and saturation changes (0: off).
        crop_size: Side of a random crop, or ``(height, width)`` (``None``: whole images).

    Returns:
        ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w), target)``.
    """
    steps = train_steps(scale_range=scale_range, hflip=hflip, color_jitter=color_jitter, crop_size=crop_size)
    return PanopticPipeline(v2.Compose(steps))


def panoptic_eval_transform(*, short_side: int | None = None, scale: float = 1.0) -> PanopticPipeline:
    """The deterministic evaluation transform: optional resize (ids nearest-neighbour), then conversion to float.

    Args:
        short_side: Resize so that the shorter side has this many pixels (``None``: keep the size).
        scale: A further resize factor.

    Returns:
        ``(image uint8 (3, H, W), target) -> (Image float32 (3, h, w), target)``.
    """
    return PanopticPipeline(v2.Compose(eval_steps(short_side=short_side, scale=scale)))

