"""The contract of a classical method, and the image conversions every method shares.

A method turns one image into a *region map*: an ``int64`` array ``(H, W)`` of ids ``0 .. R-1`` whose
meaning is the same on every image (a threshold gives 0 = below, 1 = above; k-means numbers its
clusters from dark to bright; region growing gives 1 = grown from the seed). How those ids become the
dataset's classes is not the method's business: :mod:`pixelwise.classical.mapping` fits that rule on
the train split. A supervised method (``supervised = True``, the random forest) learns the classes
themselves and gives class ids directly.

Methods are keyword-only dataclasses: their fields are the options ``create_method`` takes, ``pixelwise
models`` lists and a model file records. What a method learns is not a field: it travels as tensors
(:meth:`ClassicalMethod.state_dict`).

scikit-image, scikit-learn and SciPy are imported inside the methods, so ``import pixelwise`` and
loading a network's model file never need them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from pixelwise.errors import PixelwiseError

Pairs = Iterable[tuple[np.ndarray, np.ndarray]]
"""``(image uint8 (H, W, C), mask int64 (H, W))`` pairs at a method's working size."""


@dataclass(kw_only=True)
class ClassicalMethod(ABC):
    """A segmentation method without a network.

    Attributes:
        max_side: The method runs on the image shrunk so that its longer side is at most this many
            pixels (``None``: full size); its regions are brought back to full size with nearest
            sampling, so scores count every original pixel.
        fit_images: Train images the class mapping (or the forest) is fitted on, spread evenly over
            the split (0: all of them).
    """

    name: ClassVar[str] = ""
    """Its registry name (set by :func:`~pixelwise.classical.registry.register_method`)."""
    supervised: ClassVar[bool] = False
    """True when :meth:`fit` learns the classes from masks; its region ids are then class ids."""

    max_side: int | None = 512
    fit_images: int = 16

    def __post_init__(self) -> None:
        if self.max_side is not None and self.max_side < 8:
            raise PixelwiseError(f"{self.name}: max_side={self.max_side} is too small; give at least 8 (or None)")
        if self.fit_images < 0:
            raise PixelwiseError(f"{self.name}: fit_images={self.fit_images} must be 0 (all) or positive")

    @property
    @abstractmethod
    def num_regions(self) -> int:
        """How many region ids :meth:`regions` gives (``R``)."""

    @abstractmethod
    def regions(self, image: np.ndarray) -> np.ndarray:
        """Region ids ``int64 (H, W)`` in ``0 .. R-1`` for an image ``uint8 (H, W, C)``."""

    def fit(self, pairs: Pairs, *, num_classes: int, ignore_index: int | None) -> None:
        """Learn from training pairs (supervised methods only)."""
        raise NotImplementedError(f"{self.name} is unsupervised; its class mapping is fitted instead")

    def options(self) -> dict[str, Any]:
        """The options that rebuild it (every field), plain values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def state_dict(self) -> dict[str, Tensor]:
        """What it learned, as tensors (empty for a method that learns nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` gave."""
        if state:
            raise PixelwiseError(f"{self.name} learns nothing, but the model file holds {sorted(state)}")


def working_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """``(height, width)`` shrunk so that the longer side is at most ``max_side`` (never enlarged)."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_working(image: Tensor, max_side: int | None) -> np.ndarray:
    """A ``uint8 (C, H, W)`` tensor -> ``uint8 (h, w, C)`` array at the working size (antialiased)."""
    size = working_size(*image.shape[-2:], max_side)
    if size != tuple(image.shape[-2:]):
        resized = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        image = resized.round().clamp(0, 255).to(torch.uint8)  # (C, h, w)
    return image.permute(1, 2, 0).contiguous().numpy()


def resize_labels(labels: np.ndarray | Tensor, size: tuple[int, int]) -> Tensor:
    """Integer labels ``(h, w)`` -> ``int64 (H, W)`` by nearest sampling (class ids stay class ids)."""
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if tuple(labels.shape) == tuple(size):
        return labels
    resized = F.interpolate(labels[None, None].float(), size=size, mode="nearest-exact")  # (1, 1, H, W)
    return resized[0, 0].to(torch.int64)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``uint8 (H, W, C)`` -> ``float64 (H, W, 3)`` in ``[0, 1]`` (a grey image is repeated)."""
    rgb = image.astype(np.float64) / 255.0
    return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb[..., :3]


def grey(image: np.ndarray, *, sigma: float = 0.0) -> np.ndarray:
    """Luminance ``float64 (H, W)`` in ``[0, 1]``, Gaussian-smoothed when ``sigma > 0``."""
    from skimage.color import rgb2gray
    from skimage.filters import gaussian

    values = image[..., 0] / 255.0 if image.shape[2] == 1 else rgb2gray(image[..., :3])
    return gaussian(values, sigma=sigma) if sigma > 0 else values
