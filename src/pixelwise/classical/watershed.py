"""Watershed: flood a relief from markers; the classic way to split touching objects.

Two ways to place the markers (``markers``):

* ``"distance"``: threshold the image (Otsu), take the distance of each object pixel to the
  background, put one marker on each peak of that distance, and flood the inverted distance inside
  the objects: two touching discs become two objects.
* ``"threshold"``: sure-object pixels (beyond Otsu's threshold plus a margin) and sure-background
  pixels (below it minus the margin) are the markers, and the Sobel gradient is flooded (the
  scikit-image "coins" recipe).

:meth:`Watershed.instances` gives the objects (0 = background, 1..n); as a semantic method its
regions are 1 = any object, 0 = background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelwise.classical.base import ClassicalMethod, grey
from pixelwise.classical.registry import register_method
from pixelwise.errors import PixelwiseError

MARKERS = ("distance", "threshold")
FOREGROUNDS = ("bright", "dark")


@register_method("watershed")
@dataclass(kw_only=True)
class Watershed(ClassicalMethod):
    """Watershed from distance-transform peaks or threshold markers; 1 = object basins, 0 = background.

    Attributes:
        markers: ``"distance"`` or ``"threshold"`` (see the module docstring).
        foreground: Which side of Otsu's threshold the objects are on, ``"bright"`` or ``"dark"``.
        sigma: Gaussian smoothing (pixels) before thresholding.
        min_distance: Smallest distance (pixels) between two distance peaks, i.e. two objects.
        margin: For threshold markers, the share of the grey range either side of Otsu's threshold
            that is left unmarked for the flood to decide.
    """

    markers: str = "distance"
    foreground: str = "bright"
    sigma: float = 1.0
    min_distance: int = 7
    margin: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.markers not in MARKERS:
            raise PixelwiseError(f"watershed markers={self.markers!r}; choose {' or '.join(MARKERS)}")
        if self.foreground not in FOREGROUNDS:
            raise PixelwiseError(f"watershed foreground={self.foreground!r}; choose {' or '.join(FOREGROUNDS)}")

    @property
    def num_regions(self) -> int:
        return 2

    def regions(self, image: np.ndarray) -> np.ndarray:
        return (self.instances(image) > 0).astype(np.int64)

    def instances(self, image: np.ndarray) -> np.ndarray:
        """Object ids ``int64 (H, W)``: 0 background, 1..n one per object, for an image ``uint8 (H, W, C)``."""
        from skimage.filters import threshold_otsu

        values = grey(image, sigma=self.sigma)
        if values.max() == values.min():
            return np.zeros(values.shape, dtype=np.int64)
        if self.foreground == "dark":
            values = 1.0 - values
        threshold = float(threshold_otsu(values))
        if self.markers == "distance":
            return _split_by_distance(values > threshold, min_distance=self.min_distance)
        return _flood_gradient(values, threshold=threshold, margin=self.margin * float(values.max() - values.min()))


def _split_by_distance(objects: np.ndarray, *, min_distance: int) -> np.ndarray:
    """Flood the inverted distance transform from its peaks, inside the ``objects`` mask."""
    from scipy import ndimage
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    distance = ndimage.distance_transform_edt(objects)
    components, _ = ndimage.label(objects)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=components, exclude_border=False)
    markers = np.zeros(objects.shape, dtype=np.int64)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=objects).astype(np.int64)
    # An object too small to hold a peak gets no marker: keep it, as objects of its own.
    unmarked, count = ndimage.label(objects & (labels == 0))
    labels[unmarked > 0] = unmarked[unmarked > 0] + labels.max()
    return labels


def _flood_gradient(values: np.ndarray, *, threshold: float, margin: float) -> np.ndarray:
    """Flood the Sobel gradient from sure-object and sure-background markers."""
    from scipy import ndimage
    from skimage.filters import sobel
    from skimage.segmentation import watershed

    markers, count = ndimage.label(values > threshold + margin)
    background = count + 1
    markers[values <= threshold - margin] = background
    labels = watershed(sobel(values), markers).astype(np.int64)
    labels[labels == background] = 0
    return labels
