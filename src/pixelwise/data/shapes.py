"""``shapes``: a synthetic dataset, deterministic from a seed, needing no download.

Circles, squares and triangles (rotated, of random size and colour, overlapping) on
textured, noisy backgrounds. Object colours are drawn from the same distribution as the
background's, so a model must learn shape rather than colour. Image ``i`` of a split is a
pure function of ``(seed, split, i)``.
"""

from __future__ import annotations

import functools
import math
import zlib

import torch
from torch import Tensor

from pixelwise.checks import check_int
from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform, SegmentationDataset
from pixelwise.data.registry import register_dataset
from pixelwise.errors import PixelwiseError

SHAPES_INFO = DatasetInfo(
    class_names=("background", "circle", "square", "triangle"),
    palette=((0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200)),
    ignore_index=IGNORE_INDEX,
)
SPLIT_LENGTHS = {"train": 512, "val": 128, "test": 128}


def checked_length(*, split: str, length: int | None, size: int, max_objects: int, seed: int, min_size: int = 8) -> int:
    """The number of images of a ``shapes`` split (semantic, instance and panoptic readings alike), after
    refusing a bad split, length, size, object count or seed in one line."""
    if split not in SPLIT_LENGTHS:
        raise PixelwiseError(f"shapes has no split {split!r}; choose one of {', '.join(SPLIT_LENGTHS)}")
    check_int("length", length, minimum=1, optional=True)
    check_int("size", size, minimum=min_size)
    check_int("max_objects", max_objects, minimum=1)
    check_int("seed", seed)
    return SPLIT_LENGTHS[split] if length is None else length


class ShapesDataset(SegmentationDataset):
    """Synthetic shapes.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``: disjoint streams of the same distribution.
        length: Number of images (defaults: 512 / 128 / 128).
        size: Image side in pixels.
        max_objects: Up to this many shapes per image (at least one).
        seed: Base seed; the same seed gives the same images on every machine.
        transform: Paired transform applied to ``(image, mask)``.
        cache: Keep rendered pairs in memory (see :class:`SegmentationDataset`).
    """

    info = SHAPES_INFO

    def __init__(
        self,
        *,
        split: str = "train",
        length: int | None = None,
        size: int = 64,
        max_objects: int = 3,
        seed: int = 0,
        transform: PairTransform | None = None,
        cache: bool = False,
    ) -> None:
        super().__init__(transform=transform, cache=cache)
        self.length = checked_length(split=split, length=length, size=size, max_objects=max_objects, seed=seed)
        self.split = split
        self.size = size
        self.max_objects = max_objects
        self.seed = seed
        self._rendered: dict[int, tuple[Tensor, Tensor]] = {}  # a few KB per image; drawing is the slow part

    def __len__(self) -> int:
        return self.length

    def load(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} images")
        if index not in self._rendered:
            generator = shapes_generator(seed=self.seed, split=self.split, index=index)
            self._rendered[index] = render_shapes(size=self.size, max_objects=self.max_objects, generator=generator)
        image, mask = self._rendered[index]
        return image.clone(), mask.clone()


def shapes_generator(*, seed: int, split: str, index: int) -> torch.Generator:
    """The random stream that draws image ``index`` of ``split``: a pure function of its three arguments."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(split.encode())) * 1_000_003 + index)


def render_shapes(*, size: int, max_objects: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Draw one image and its mask.

    Returns:
        ``(image uint8 (3, size, size), mask int64 (size, size))``.
    """
    image, layers = draw_shapes(size=size, max_objects=max_objects, generator=generator)
    mask = torch.zeros(size, size, dtype=torch.int64)
    for label, inside in layers:  # later shapes cover earlier ones
        mask[inside] = label
    return image, mask


def draw_shapes(*, size: int, max_objects: int, generator: torch.Generator) -> tuple[Tensor, list[tuple[int, Tensor]]]:
    """Draw one image; the one renderer behind the semantic and the instance ``shapes``.

    Returns:
        ``(image uint8 (3, size, size), layers)``: each shape's ``(class, footprint bool (size, size))``
        from bottom to top; a shape hides the parts of earlier ones that it covers.
    """
    background = torch.rand(3, generator=generator)
    image = _texture(size, background, generator)  # (3, S, S) float in [0, 1]
    image, layers = place_shapes(image, max_objects=max_objects, avoid=[background], generator=generator)
    noise = torch.randn(3, size, size, generator=generator) * _uniform(0.02, 0.08, generator)
    image = (image + noise).clamp(0, 1)
    return (image * 255).round().to(torch.uint8), layers


def place_shapes(
    image: Tensor, *, max_objects: int, avoid: list[Tensor], generator: torch.Generator
) -> tuple[Tensor, list[tuple[int, Tensor]]]:
    """Draw 1 to ``max_objects`` textured shapes over a float picture (the panoptic ``shapes`` draws its own
    stuff first, then calls this).

    Args:
        image: ``(3, S, S)`` float in [0, 1], the background.
        max_objects: Up to this many shapes.
        avoid: Background colours ``(3,)`` each shape's colour stays at least 0.35 away from (redrawn up to
            100 times), so that the class is in the outline, not in the colour.
        generator: The image's random stream.

    Returns:
        ``(image float (3, S, S), layers)``: each shape's ``(class, footprint bool (S, S))``, bottom to top.
    """
    def uniform(low: float, high: float) -> float:
        return _uniform(low, high, generator)

    size = image.shape[-1]
    ys, xs = _grid(size)
    layers: list[tuple[int, Tensor]] = []
    count = int(torch.randint(1, max_objects + 1, (), generator=generator))
    for _ in range(count):
        label = int(torch.randint(1, 4, (), generator=generator))
        radius = uniform(0.14, 0.26) * size
        cx, cy = uniform(radius * 0.5, size - radius * 0.5), uniform(radius * 0.5, size - radius * 0.5)
        angle = uniform(0, 2 * math.pi)
        # Coordinates in the shape's own rotated frame.
        u = (xs - cx) * math.cos(angle) + (ys - cy) * math.sin(angle)
        v = -(xs - cx) * math.sin(angle) + (ys - cy) * math.cos(angle)
        if label == 1:
            inside = u**2 + v**2 <= radius**2
        elif label == 2:
            half = radius * 0.85
            inside = (u.abs() <= half) & (v.abs() <= half)
        else:  # equilateral triangle with circumradius ``radius``
            inside = torch.ones_like(u, dtype=torch.bool)
            for k in range(3):
                theta = 2 * math.pi * k / 3 + math.pi / 2
                inside &= u * math.cos(theta) + v * math.sin(theta) <= radius / 2
        # Any colour, but one that stands out from the background: the class is in the shape only.
        colour = torch.rand(3, generator=generator)
        for _ in range(100):
            if min(float((colour - other).norm()) for other in avoid) >= 0.35:
                break
            colour = torch.rand(3, generator=generator)
        fill = _texture(size, colour, generator)
        image = torch.where(inside, fill, image)
        layers.append((label, inside))
    return image, layers


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


@functools.cache
def _grid(size: int) -> tuple[Tensor, Tensor]:
    """Pixel row and column coordinates, (S, S) each."""
    return torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")


def _texture(size: int, colour: Tensor, generator: torch.Generator) -> Tensor:
    """``colour`` (3,) with a low-frequency blotch pattern and random stripes, (3, S, S) in [0, 1]."""
    colour = colour.view(3, 1, 1)
    coarse = torch.rand(1, 1, 4, 4, generator=generator)
    blotches = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[0]
    period = 4 + 8 * float(torch.rand((), generator=generator))
    direction = float(torch.rand((), generator=generator)) * math.pi
    ys, xs = _grid(size)
    stripes = torch.sin((xs * math.cos(direction) + ys * math.sin(direction)) * 2 * math.pi / period)
    strength = 0.2 * float(torch.rand((), generator=generator))
    return (colour + 0.25 * (blotches - 0.5) + strength * stripes).clamp(0, 1)


@register_dataset("shapes")
def shapes(
    *,
    root: str | None = None,
    split: str = "train",
    transform: PairTransform | None = None,
    length: int | None = None,
    size: int = 64,
    seed: int = 0,
    cache: bool = False,
) -> ShapesDataset:
    """The synthetic ``shapes`` dataset (``root`` is not used)."""
    return ShapesDataset(split=split, length=length, size=size, seed=seed, transform=transform, cache=cache)
