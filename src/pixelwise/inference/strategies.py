"""How a forward function is applied to an image: whole or in sliding windows, resized, mirrored, at
several scales (test-time augmentation).

A strategy wraps any ``forward(x (N, C, h, w) normalised) -> logits (N, K, h, w)`` — an eager
PyTorch model, an ONNX Runtime session — and returns scores at the input's size, so every
original pixel is scored. Strategies are options of a predictor, not copies of it: the windows live
in :mod:`~pixelwise.inference.sliding`, the averaging rules in :mod:`~pixelwise.inference.tta`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.checks import check_bool, check_float, check_int
from pixelwise.errors import PixelwiseError
from pixelwise.inference.sliding import BLENDS, WindowPass, blended_bands, stitch_scores, window_stride
from pixelwise.inference.tta import Forward, average_scales, mirrored_mean

OVERLAP = 0.5
"""Default share of a window that its neighbour also covers: nnU-Net's step of half a window, the setting its
Gaussian blending was tuned with (every interior pixel seen by four windows; 0.25 needs about half the windows)."""

WINDOW_BATCH = 4
"""Default windows per forward."""


@dataclass(frozen=True)
class Strategy:
    """Inference options shared by every backend.

    Attributes:
        scale: Run the network on the image resized by this factor; scores are resized back.
        short_side: Instead, resize so that the shorter side is this many pixels (``None``: use ``scale``).
        flip: Horizontal-flip test-time augmentation: the logits of the image and of its mirror image
            (mirrored back) are averaged, at twice the cost.
        scales: Multi-scale test-time augmentation: run at each of these multiples of ``scale`` (or of
            ``short_side``) and average the softmax probabilities (MMSegmentation's rule; flip is applied
            at every scale). ``(1.0,)``: one pass, logits as they are.
        window: Sliding windows of this ``(height, width)`` (an ``int``: square) over the resized image, in
            the pixels the network sees; ``None``: the whole image in one forward.
        overlap: Share of a window its neighbour covers too, in ``[0, 1)``.
        window_batch: Windows per forward.
        blend: How overlapping windows' logits combine: ``"gaussian"`` (σ = window / 8, centre counts most)
            or ``"mean"``.
    """

    scale: float = 1.0
    short_side: int | None = None
    flip: bool = False
    scales: tuple[float, ...] = (1.0,)
    window: tuple[int, int] | None = None
    overlap: float = OVERLAP
    window_batch: int = WINDOW_BATCH
    blend: str = "gaussian"

    def __post_init__(self) -> None:
        if not self.scale > 0 or (self.short_side is not None and self.short_side < 1):
            raise PixelwiseError(f"input scale {self.scale} / short side {self.short_side}: both must be positive")
        check_bool("flip", self.flip)
        object.__setattr__(self, "scales", _checked_scales(self.scales))
        object.__setattr__(self, "window", _checked_window(self.window))
        check_float("overlap", self.overlap, minimum=0.0, below=1.0)
        check_int("window_batch", self.window_batch, minimum=1)
        if self.blend not in BLENDS:
            raise PixelwiseError(f"blend {self.blend!r} is not one of {', '.join(BLENDS)}; write e.g. --blend gaussian")

    def __call__(self, forward: Forward, x: Tensor) -> Tensor:
        """Scores ``(N, K, H, W)`` for normalised images ``x`` ``(N, C, H, W)``: logits for one scale, the log
        of the mean probability for several."""
        if self.window is not None:
            return torch.stack([stitch_scores(self.bands(image, prepare=_same, forward=forward), height=x.shape[-2])
                                for image in x])  # fmt: skip
        passes = []
        for scale in self.scales:
            if scale == 1.0:  # the network's own scale, exactly as before multi-scale existed
                passes.append(forward_at_scale(forward, x, scale=self.scale, short_side=self.short_side, flip=self.flip))
            else:
                base = self.base_scale(*x.shape[-2:])
                passes.append(forward_at_scale(forward, x, scale=base * scale, flip=self.flip))
        return average_scales(passes, dim=1)

    def base_scale(self, height: int, width: int) -> float:
        """The factor the network's input is resized by for an image of this size (before TTA scales)."""
        return self.short_side / min(height, width) if self.short_side is not None else self.scale

    def bands(
        self, image: Tensor, *, prepare: Callable[[Tensor], Tensor], forward: Forward
    ) -> Iterator[tuple[int, Tensor]]:
        """Sliding-window scores of one image, a band of rows at a time (see :mod:`~pixelwise.inference.sliding`).

        Args:
            image: ``(C, H, W)``, uint8 (resized as uint8; ``prepare`` normalises each window batch) or
                already normalised float (``prepare`` the identity).
            prepare: Crops as ``image`` stores them -> the normalised float network input.
            forward: Normalised windows -> logits.

        Returns:
            ``(first row, scores (K, rows, W))`` for consecutive bands: logits for one scale, the log of the
            mean probability for several.
        """
        if self.window is None:
            raise PixelwiseError("bands need sliding windows; set window (--window SIZE)")
        height, width = image.shape[-2:]
        stride = (window_stride(self.window[0], self.overlap), window_stride(self.window[1], self.overlap))
        scales = [self.base_scale(height, width) * scale for scale in self.scales]
        passes = [
            WindowPass(
                resize_to_scale(image[None], scale)[0], out_size=(height, width), window=self.window, stride=stride,
                blend=self.blend, window_batch=self.window_batch, flip=self.flip, prepare=prepare, forward=forward,
            )
            for scale in scales
        ]  # fmt: skip
        band = max(1, math.ceil(stride[0] / max(scales)))  # about one window row per band at every scale
        return blended_bands(passes, height=height, band=band)


def _checked_window(window: object) -> tuple[int, int] | None:
    if window is None:
        return None
    pair = (window, window) if isinstance(window, int) and not isinstance(window, bool) else window
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise PixelwiseError(f"window {window!r} is not a size or a (height, width) pair; write e.g. --window 512 or --window 512,768")
    for size in pair:
        check_int("window", size, minimum=1)
    return (pair[0], pair[1])


def _checked_scales(scales: object) -> tuple[float, ...]:
    if not isinstance(scales, Sequence) or isinstance(scales, str) or len(scales) == 0:
        raise PixelwiseError(f"scales {scales!r} is not a non-empty list of scales; write e.g. --scales 0.75,1,1.25")
    for scale in scales:
        check_float("scales", scale, positive=True)
    return tuple(float(scale) for scale in scales)


def _same(x: Tensor) -> Tensor:
    return x


def resize_to_scale(image: Tensor, scale: float) -> Tensor:
    """``image`` ``(N, C, H, W)`` resized by ``scale`` (bilinear, antialiased when shrinking), keeping at least
    one pixel per side; the same tensor when ``scale`` is 1. A ``uint8`` image stays ``uint8`` (a quarter of
    the memory of floats, for large images)."""
    if scale == 1.0:
        return image
    height, width = image.shape[-2:]
    if int(height * scale) < 1 or int(width * scale) < 1:  # a sliver of an image: keep at least one pixel
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    return F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False, antialias=scale < 1)


def forward_at_scale(
    forward: Forward, image: Tensor, *, scale: float = 1.0, short_side: int | None = None, flip: bool = False
) -> Tensor:
    """Logits at the input's size for a network run on the image resized by ``scale``
    (or resized so that its shorter side is ``short_side``).

    Shrinking the input (``scale < 1``) makes inference cheaper; the logits are upsampled
    bilinearly back, so scores still count every original pixel. ``flip`` averages the logits of
    the image and of its mirror image (mirrored back), at twice the cost.
    """
    if flip:
        return mirrored_mean(lambda both: forward_at_scale(forward, both, scale=scale, short_side=short_side), image)
    if short_side is not None:
        scale = short_side / min(image.shape[-2:])
    if scale == 1.0:
        return forward(image)
    logits = forward(resize_to_scale(image, scale))  # (N, K, sH, sW)
    return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)  # (N, K, H, W)
