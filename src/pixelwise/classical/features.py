"""Superpixels and hand-crafted features per superpixel: the "features + machine learning" era.

Each superpixel is described by 40 numbers, means over its pixels unless said otherwise:

======================  ====  =====================================================================
group                   size  what
======================  ====  =====================================================================
colour                  9     RGB and CIE Lab (/ 100) means, RGB standard deviations
LBP                     10    histogram of uniform local binary patterns (8 neighbours, radius 1)
HOG                     9     orientation histogram of the 8x8 HOG cells under the superpixel
filter bank             9     Gaussian, Laplacian-of-Gaussian, gradient magnitude at sigma 1, 2, 4
position and size       3     centroid (row / height, col / width) and share of the image's pixels
======================  ====  =====================================================================
"""

from __future__ import annotations

import numpy as np

from pixelwise.classical.base import as_rgb
from pixelwise.errors import PixelwiseError

SUPERPIXELS = ("slic", "felzenszwalb")
FILTER_SIGMAS = (1.0, 2.0, 4.0)
HOG_CELL = 8
LBP_BINS = 10  # uniform patterns of 8 neighbours: 0..8, plus 9 for every non-uniform one
NUM_FEATURES = 9 + LBP_BINS + 9 + 3 * len(FILTER_SIGMAS) + 3


def superpixels(image: np.ndarray, *, method: str = "slic", segments: int = 300, compactness: float = 10.0) -> np.ndarray:
    """Superpixel ids ``int64 (H, W)``, consecutive from 0, for an image ``uint8 (H, W, C)``.

    Args:
        method: ``"slic"`` (k-means in Lab + position; Achanta et al. 2012) or ``"felzenszwalb"``
            (graph-based merging; Felzenszwalb & Huttenlocher 2004).
        segments: Approximate number of superpixels (Felzenszwalb: its minimum size is set from it).
        compactness: SLIC's balance of colour and space.
    """
    from skimage.segmentation import felzenszwalb, slic

    rgb = as_rgb(image)
    if method == "slic":
        labels = slic(rgb, n_segments=segments, compactness=compactness, start_label=0)
    elif method == "felzenszwalb":
        labels = felzenszwalb(rgb, scale=100, sigma=0.8, min_size=max(8, rgb.shape[0] * rgb.shape[1] // (2 * segments)))
    else:
        raise PixelwiseError(f"superpixels {method!r}; choose {' or '.join(SUPERPIXELS)}")
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int64)


def superpixel_features(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``float32 (S, NUM_FEATURES)``: the features of each superpixel (the module docstring's table).

    Args:
        image: ``uint8 (H, W, C)``.
        labels: Superpixel ids ``(H, W)``, consecutive from 0.
    """
    from skimage.color import rgb2gray, rgb2lab

    rgb = as_rgb(image)
    height, width = labels.shape
    count = int(labels.max()) + 1
    flat = labels.ravel()
    pixels = np.bincount(flat, minlength=count).astype(np.float64)  # (S,)

    def means(maps: np.ndarray) -> np.ndarray:  # (H, W, M) -> (S, M)
        columns = maps.reshape(-1, maps.shape[-1])
        return np.stack([np.bincount(flat, weights=c, minlength=count) for c in columns.T], axis=1) / pixels[:, None]

    values = rgb2gray(rgb)
    colour = means(np.concatenate([rgb, rgb2lab(rgb) / 100.0, rgb**2], axis=2))  # (S, 9)
    spread = np.sqrt(np.clip(colour[:, 6:9] - colour[:, 0:3] ** 2, 0, None))  # RGB standard deviations
    rows, cols = np.mgrid[0:height, 0:width]
    place = means(np.stack([rows / height, cols / width], axis=2))  # (S, 2)
    columns = [
        colour[:, :6], spread,
        means(_lbp_codes(values)), means(_hog_cells(values)), means(_filter_bank(values)),
        place, (pixels / (height * width))[:, None],
    ]  # fmt: skip
    return np.concatenate(columns, axis=1).astype(np.float32)


def _lbp_codes(values: np.ndarray) -> np.ndarray:
    """One-hot uniform LBP codes ``(H, W, LBP_BINS)``."""
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern((values * 255).round().astype(np.uint8), P=8, R=1, method="uniform").astype(np.int64)
    return np.eye(LBP_BINS)[np.clip(codes, 0, LBP_BINS - 1)]


def _hog_cells(values: np.ndarray) -> np.ndarray:
    """Each pixel's HOG cell histogram ``(H, W, 9)`` (cells of ``HOG_CELL`` px, each L2-Hys normalised)."""
    from skimage.feature import hog

    height, width = values.shape
    if min(height, width) < HOG_CELL:
        return np.zeros((height, width, 9))
    cells = hog(values, orientations=9, pixels_per_cell=(HOG_CELL, HOG_CELL), cells_per_block=(1, 1),
                feature_vector=False)[:, :, 0, 0, :]  # (rows, cols, 9)
    per_pixel = np.repeat(np.repeat(cells, HOG_CELL, axis=0), HOG_CELL, axis=1)
    pad = ((0, height - per_pixel.shape[0]), (0, width - per_pixel.shape[1]), (0, 0))
    return np.pad(per_pixel, pad, mode="edge")


def _filter_bank(values: np.ndarray) -> np.ndarray:
    """Gaussian, Laplacian-of-Gaussian and gradient-magnitude responses ``(H, W, 9)``."""
    from scipy import ndimage

    responses = []
    for sigma in FILTER_SIGMAS:
        responses += [
            ndimage.gaussian_filter(values, sigma),
            ndimage.gaussian_laplace(values, sigma),
            ndimage.gaussian_gradient_magnitude(values, sigma),
        ]
    return np.stack(responses, axis=2)
