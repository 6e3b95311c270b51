"""k-means on each image's pixel colours (CIE Lab), optionally with their position.

Cluster ids are arbitrary inside k-means; they are renumbered by lightness (0 = darkest centre), so
that an id means the same on every image and the class mapping can be fitted once on the train split.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from pixelwise.classical.base import ClassicalMethod, as_rgb
from pixelwise.classical.registry import register_method
from pixelwise.errors import PixelwiseError


@register_method("kmeans")
@dataclass(kw_only=True)
class KMeans(ClassicalMethod):
    """k-means clustering of pixel colours (Lab) and, with ``position_weight``, positions; clusters numbered dark to bright.

    Attributes:
        clusters: Number of clusters per image.
        position_weight: Weight of the pixel's (row, col), in image heights, against Lab colour / 100
            (0: colour alone).
        sample: Pixels drawn at random to fit the centres (all pixels are then assigned).
        seed: Seed of the sample and of k-means' initialisation.
    """

    clusters: int = 2
    position_weight: float = 0.0
    sample: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clusters < 2:
            raise PixelwiseError(f"kmeans clusters={self.clusters}; give at least 2")

    @property
    def num_regions(self) -> int:
        return self.clusters

    def regions(self, image: np.ndarray) -> np.ndarray:
        from skimage.color import rgb2lab
        from sklearn.cluster import KMeans as SklearnKMeans
        from sklearn.exceptions import ConvergenceWarning

        height, width = image.shape[:2]
        features = [rgb2lab(as_rgb(image)).reshape(-1, 3) / 100.0]  # (H*W, 3)
        if self.position_weight > 0:
            rows, cols = np.mgrid[0:height, 0:width] / height
            features.append(self.position_weight * np.stack([rows.ravel(), cols.ravel()], axis=1))
        points = np.concatenate(features, axis=1)  # (H*W, 3 or 5)
        rng = np.random.default_rng(self.seed)
        fitted_on = points[rng.choice(len(points), size=min(self.sample, len(points)), replace=False)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct colours than clusters
            model = SklearnKMeans(n_clusters=self.clusters, n_init=3, random_state=self.seed).fit(fitted_on)
        rank = np.empty(self.clusters, dtype=np.int64)
        rank[np.argsort(model.cluster_centers_[:, 0], kind="stable")] = np.arange(self.clusters)
        return rank[model.predict(points)].reshape(height, width)
