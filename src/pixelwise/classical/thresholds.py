"""Grey-level thresholds: global (Otsu, multi-Otsu, Li, Yen) and adaptive (local).

Every method here reads the luminance, smoothed by a Gaussian of ``sigma`` pixels, and numbers its
regions from dark to bright (a binary threshold: 0 = at or below, 1 = above).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from pixelwise.classical.base import ClassicalMethod, grey
from pixelwise.classical.registry import register_method
from pixelwise.errors import PixelwiseError


@dataclass(kw_only=True)
class GlobalThreshold(ClassicalMethod):
    """One threshold for the whole image: 1 above it, 0 at or below.

    Attributes:
        sigma: Gaussian smoothing (pixels) before thresholding.
    """

    sigma: float = 1.0

    @property
    def num_regions(self) -> int:
        return 2

    @abstractmethod
    def threshold(self, values: np.ndarray) -> float:
        """The threshold of a grey image ``(H, W)`` in ``[0, 1]``."""

    def regions(self, image: np.ndarray) -> np.ndarray:
        values = grey(image, sigma=self.sigma)
        if values.max() == values.min():  # a flat image has nothing to split
            return np.zeros(values.shape, dtype=np.int64)
        return (values > self.threshold(values)).astype(np.int64)


@register_method("otsu")
@dataclass(kw_only=True)
class Otsu(GlobalThreshold):
    """Otsu's threshold: maximises the between-class variance of the grey histogram (Otsu 1979)."""

    def threshold(self, values: np.ndarray) -> float:
        from skimage.filters import threshold_otsu

        return float(threshold_otsu(values))


@register_method("li")
@dataclass(kw_only=True)
class Li(GlobalThreshold):
    """Li's threshold: minimises the cross-entropy between the image and its binarisation (Li & Lee 1993)."""

    def threshold(self, values: np.ndarray) -> float:
        from skimage.filters import threshold_li

        return float(threshold_li(values))


@register_method("yen")
@dataclass(kw_only=True)
class Yen(GlobalThreshold):
    """Yen's threshold: maximises the entropic correlation of the two classes (Yen, Chang & Chang 1995)."""

    def threshold(self, values: np.ndarray) -> float:
        from skimage.filters import threshold_yen

        return float(threshold_yen(values))


@register_method("multi_otsu")
@dataclass(kw_only=True)
class MultiOtsu(ClassicalMethod):
    """Multi-level Otsu: ``levels - 1`` thresholds, regions 0 (darkest) .. levels-1 (brightest) (Liao et al. 2001).

    Attributes:
        levels: Number of grey-level classes.
        sigma: Gaussian smoothing (pixels) before thresholding.
    """

    levels: int = 3
    sigma: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.levels < 2:
            raise PixelwiseError(f"multi_otsu levels={self.levels}; give at least 2")

    @property
    def num_regions(self) -> int:
        return self.levels

    def regions(self, image: np.ndarray) -> np.ndarray:
        from skimage.filters import threshold_multiotsu

        values = grey(image, sigma=self.sigma)
        try:
            thresholds = threshold_multiotsu(values, classes=self.levels)
        except ValueError:  # fewer distinct grey values than levels
            return np.zeros(values.shape, dtype=np.int64)
        return np.digitize(values, bins=thresholds).astype(np.int64)


@register_method("adaptive")
@dataclass(kw_only=True)
class Adaptive(ClassicalMethod):
    """Adaptive threshold: 1 where a pixel is brighter than the Gaussian-weighted mean of its neighbourhood.

    Attributes:
        block_size: Side (odd, pixels at the working size) of the neighbourhood.
        offset: Subtracted from the local mean before comparing.
        sigma: Gaussian smoothing (pixels) before thresholding.
    """

    block_size: int = 51
    offset: float = 0.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_size < 3 or self.block_size % 2 == 0:
            raise PixelwiseError(f"adaptive block_size={self.block_size}; give an odd number of at least 3")

    @property
    def num_regions(self) -> int:
        return 2

    def regions(self, image: np.ndarray) -> np.ndarray:
        from skimage.filters import threshold_local

        values = grey(image, sigma=self.sigma)
        local = threshold_local(values, block_size=self.block_size, method="gaussian", offset=self.offset)
        return (values > local).astype(np.int64)
