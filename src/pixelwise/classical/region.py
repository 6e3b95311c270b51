"""Region growing: a seeded flood fill on pixels, and seeded region merging on superpixels.

Both give 1 = the region grown from the seeds, 0 = the rest. Seeds come from the image or are given:

* ``"center"``: the image centre (object-centred photos);
* ``"darkest"`` / ``"brightest"``: the darkest or brightest pixel of the smoothed luminance;
* ``"border"``: the four corners and the four edge midpoints (grows the background);
* a list of ``[row, col]`` fractions of the height and width, e.g. ``[[0.5, 0.5], [0.2, 0.8]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pixelwise.classical.base import ClassicalMethod, as_rgb, grey
from pixelwise.classical.registry import register_method
from pixelwise.errors import PixelwiseError

SEED_RULES = ("center", "darkest", "brightest", "border")


def seed_points(values: np.ndarray, seeds: str | list[Any]) -> list[tuple[int, int]]:
    """Pixel ``(row, col)`` seeds in a grey image ``(H, W)``, by a rule of :data:`SEED_RULES` or fractions."""
    height, width = values.shape
    if seeds == "center":
        return [(height // 2, width // 2)]
    if seeds in ("darkest", "brightest"):
        index = values.argmin() if seeds == "darkest" else values.argmax()
        return [tuple(int(v) for v in np.unravel_index(index, values.shape))]
    if seeds == "border":
        rows, cols = (0, height // 2, height - 1), (0, width // 2, width - 1)
        return [(r, c) for r in rows for c in cols if (r, c) != (height // 2, width // 2)]
    return [(min(int(r * height), height - 1), min(int(c * width), width - 1)) for r, c in seeds]


def check_seeds(name: str, seeds: str | list[Any]) -> None:
    if isinstance(seeds, str):
        if seeds not in SEED_RULES:
            raise PixelwiseError(f"{name} seeds={seeds!r}; choose {', '.join(SEED_RULES)} or a list of [row, col] fractions")
        return
    if not seeds or not all(len(point) == 2 and all(0 <= v <= 1 for v in point) for point in seeds):
        raise PixelwiseError(f"{name} seeds={seeds!r}; give [row, col] fractions in [0, 1], e.g. [[0.5, 0.5]]")


@dataclass(kw_only=True)
class SeededGrowing(ClassicalMethod):
    """A region grown from seeds: 1 = grown, 0 = the rest.

    Attributes:
        seeds: Where growing starts (see the module docstring).
    """

    seeds: str | list[Any] = "center"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_seeds(self.name, self.seeds)

    @property
    def num_regions(self) -> int:
        return 2


@register_method("region_growing")
@dataclass(kw_only=True)
class RegionGrowing(SeededGrowing):
    """Seeded flood fill: the pixels connected to a seed whose grey level is within ``tolerance`` of the seed's.

    Attributes:
        tolerance: Largest grey-level difference (luminance in [0, 1]) from the seed's value.
        sigma: Gaussian smoothing (pixels) before growing.
    """

    tolerance: float = 0.08
    sigma: float = 1.0

    def regions(self, image: np.ndarray) -> np.ndarray:
        from skimage.segmentation import flood

        values = grey(image, sigma=self.sigma)
        grown = np.zeros(values.shape, dtype=bool)
        for point in seed_points(values, self.seeds):
            if not grown[point]:
                grown |= flood(values, point, tolerance=self.tolerance)
        return grown.astype(np.int64)


@register_method("superpixel_merging")
@dataclass(kw_only=True)
class SuperpixelMerging(SeededGrowing):
    """SLIC superpixels merged hierarchically by mean colour on their adjacency graph; 1 = the merged region under a seed.

    Attributes:
        segments: Approximate number of SLIC superpixels.
        compactness: SLIC's balance of colour and space (higher: squarer superpixels).
        threshold: Neighbours merge while their mean colours (RGB in [0, 1]) are closer than this.
    """

    segments: int = 200
    compactness: float = 10.0
    threshold: float = 0.12

    def regions(self, image: np.ndarray) -> np.ndarray:
        from skimage.graph import merge_hierarchical, rag_mean_color
        from skimage.segmentation import slic

        rgb = as_rgb(image)
        superpixels = slic(rgb, n_segments=self.segments, compactness=self.compactness, start_label=0)
        graph = rag_mean_color(rgb, superpixels)
        merged = merge_hierarchical(
            superpixels, graph, thresh=self.threshold, rag_copy=False, in_place_merge=True,
            merge_func=_merge_mean_colour, weight_func=_mean_colour_distance,
        )  # fmt: skip
        chosen = sorted({int(merged[point]) for point in seed_points(grey(image, sigma=1.0), self.seeds)})
        return np.isin(merged, chosen).astype(np.int64)


def _mean_colour_distance(graph, src: int, dst: int, neighbour: int) -> dict[str, float]:
    """The new edge weight between a merged region and a neighbour: the distance of their mean colours."""
    difference = graph.nodes[dst]["mean color"] - graph.nodes[neighbour]["mean color"]
    return {"weight": float(np.linalg.norm(difference))}


def _merge_mean_colour(graph, src: int, dst: int) -> None:
    """Fold ``src``'s colour sums into ``dst`` and update its mean colour."""
    node = graph.nodes[dst]
    node["total color"] += graph.nodes[src]["total color"]
    node["pixel count"] += graph.nodes[src]["pixel count"]
    node["mean color"] = node["total color"] / node["pixel count"]
