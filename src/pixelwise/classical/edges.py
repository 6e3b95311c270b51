"""Edge-based segmentation: Sobel or Canny edges, closed by a morphological closing and filled.

1 = the edges and every area they enclose, 0 = the rest. Areas open to the image border are not
enclosed, so they stay 0.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from pixelwise.classical.base import ClassicalMethod, grey
from pixelwise.classical.registry import register_method


@dataclass(kw_only=True)
class EdgeFill(ClassicalMethod):
    """Edges closed and filled: 1 inside closed contours (edges included), 0 elsewhere.

    Attributes:
        sigma: Gaussian smoothing (pixels) of the edge detector.
        closing: Radius (pixels) of the disk that closes gaps in the edges.
    """

    sigma: float = 2.0
    closing: int = 3

    @property
    def num_regions(self) -> int:
        return 2

    @abstractmethod
    def edges(self, values: np.ndarray) -> np.ndarray:
        """Boolean edges ``(H, W)`` of a grey image in ``[0, 1]``."""

    def regions(self, image: np.ndarray) -> np.ndarray:
        from scipy import ndimage
        from skimage.morphology import disk

        edges = self.edges(grey(image))
        if self.closing > 0:
            # Pad so that closing does not erode edges that touch the border.
            pad = self.closing
            padded = np.pad(edges, pad, mode="edge")
            edges = ndimage.binary_closing(padded, structure=disk(self.closing))[pad:-pad, pad:-pad]
        return ndimage.binary_fill_holes(edges).astype(np.int64)


@register_method("canny")
@dataclass(kw_only=True)
class Canny(EdgeFill):
    """Canny edges (Gaussian, gradient, non-maximum suppression, hysteresis; Canny 1986), closed and filled."""

    def edges(self, values: np.ndarray) -> np.ndarray:
        from skimage.feature import canny

        return canny(values, sigma=self.sigma)


@register_method("sobel")
@dataclass(kw_only=True)
class Sobel(EdgeFill):
    """Sobel gradient magnitude above its Otsu threshold, closed and filled."""

    def edges(self, values: np.ndarray) -> np.ndarray:
        from skimage.filters import gaussian, sobel, threshold_otsu

        magnitude = sobel(gaussian(values, sigma=self.sigma))
        if magnitude.max() == magnitude.min():
            return np.zeros(values.shape, dtype=bool)
        return magnitude > threshold_otsu(magnitude)
