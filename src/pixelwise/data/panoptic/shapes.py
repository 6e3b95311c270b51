"""Panoptic ``shapes``: synthetic landscapes of stuff with shapes as things, deterministic, no download.

Stuff: ``sky`` above a wavy horizon, ``ground`` below it and, in two images of three, a wavy band
of ``water`` across the ground. Each stuff class has its own texture — sky a smooth vertical
gradient, ground a coarse grain, water horizontal ripples — and colours drawn from distributions that
overlap (half a class-typical colour, half any colour), so a model must read texture and layout,
not colour. Things: the circles, squares and triangles of the semantic ``shapes``, drawn by the same
renderer (:func:`pixelwise.data.shapes.place_shapes`) in colours that stand out from every stuff
colour; each visible shape is one segment, a shape hidden entirely is none.

Classes ``sky, ground, water, circle, square, triangle`` (things ``3, 4, 5``; category ids = class
indices). Image ``i`` of a split is a pure function of
``(seed, split, i)``; every pixel is labelled (no void).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pixelwise.data.instances.shapes import visible_instances
from pixelwise.data.panoptic.base import (
    PanopticDataset,
    PanopticTransform,
    Target,
    panoptic_info,
    panoptic_target,
)
from pixelwise.data.panoptic.registry import register_panoptic_dataset
from pixelwise.data.shapes import checked_length, place_shapes, shapes_generator

STUFF = ("sky", "ground", "water")
THINGS = ("circle", "square", "triangle")
PALETTE = ((135, 206, 235), (139, 90, 43), (0, 90, 160), (230, 25, 75), (60, 180, 75), (255, 225, 25))
_TYPICAL = {"sky": (0.55, 0.7, 0.9), "ground": (0.5, 0.4, 0.25), "water": (0.15, 0.35, 0.55)}


class PanopticShapes(PanopticDataset):
    """Synthetic landscapes with shapes; see the module docstring.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``: disjoint streams of the same distribution.
        length: Number of images (defaults: 512 / 128 / 128).
        size: Image side in pixels.
        max_objects: Up to this many shapes per image (at least one).
        seed: Base seed; the same seed gives the same images on every machine.
        transform: ``(image, target) -> (image, target)``.
    """

    def __init__(
        self,
        *,
        split: str = "train",
        length: int | None = None,
        size: int = 128,
        max_objects: int = 4,
        seed: int = 0,
        transform: PanopticTransform | None = None,
    ) -> None:
        super().__init__(transform=transform)
        self.length = checked_length(split=split, length=length, size=size, max_objects=max_objects, seed=seed,
                                     min_size=16)
        self.split, self.size, self.max_objects, self.seed = split, size, max_objects, seed
        self.name = f"panoptic shapes ({split}, seed {seed})"
        self.info = panoptic_info(STUFF + THINGS, palette=PALETTE)
        self.things = tuple(range(len(STUFF), len(STUFF) + len(THINGS)))
        self.category_ids = list(range(self.info.num_classes))
        self._rendered: dict[int, tuple[Tensor, Tensor, list[dict[str, Any]]]] = {}  # drawing is the slow part

    def __len__(self) -> int:
        return self.length

    def image_info(self, index: int) -> dict[str, Any]:
        return {"id": index, "width": self.size, "height": self.size, "file_name": f"shapes-{self.split}-{index:06d}"}

    def load(self, index: int) -> tuple[Tensor, Target]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} images")
        if index not in self._rendered:
            # The split name is salted so that panoptic image i is not drawn from semantic image i's stream.
            generator = shapes_generator(seed=self.seed, split=f"panoptic-{self.split}", index=index)
            self._rendered[index] = render_landscape(size=self.size, max_objects=self.max_objects, generator=generator)
        image, segments, info = self._rendered[index]
        return image.clone(), panoptic_target(segments=segments.clone(), segments_info=info, image_id=index)


def render_landscape(
    *, size: int, max_objects: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, list[dict[str, Any]]]:
    """Draw one landscape with shapes.

    Returns:
        ``(image uint8 (3, S, S), segments int32 (S, S), segments_info)``: stuff segments first, in class
        order, then the visible shapes bottom to top.
    """
    stuff, colours, picture = _stuff(size, generator)  # (S, S) class, [(3,)], (3, S, S) float
    picture, layers = place_shapes(picture, max_objects=max_objects, avoid=colours, generator=generator)
    noise = torch.randn(3, size, size, generator=generator) * _uniform(0.02, 0.06, generator)
    image = ((picture + noise).clamp(0, 1) * 255).round().to(torch.uint8)

    masks, shape_labels = visible_instances(layers, size=size)  # (N, S, S) bool, classes 1..3
    covered = masks.any(dim=0) if len(masks) else torch.zeros(size, size, dtype=torch.bool)
    segments = torch.zeros(size, size, dtype=torch.int32)
    info: list[dict[str, Any]] = []
    for label in range(len(STUFF)):
        region = (stuff == label) & ~covered
        if region.any():
            info.append({"id": len(info) + 1, "category_id": label, "isthing": False, "iscrowd": 0})
            segments[region] = info[-1]["id"]
    for mask, shape in zip(masks, shape_labels, strict=True):
        info.append({"id": len(info) + 1, "category_id": len(STUFF) + shape - 1, "isthing": True, "iscrowd": 0})
        segments[mask] = info[-1]["id"]
    return image, segments, info


def _stuff(size: int, generator: torch.Generator) -> tuple[Tensor, list[Tensor], Tensor]:
    """The stuff layout ``(S, S)`` int64, each stuff colour ``(3,)`` and the textured picture ``(3, S, S)``."""
    ys = torch.arange(size, dtype=torch.float32)[:, None].expand(size, size)  # (S, S) row
    xs = torch.arange(size, dtype=torch.float32)[None, :].expand(size, size)  # (S, S) column

    def wave(level: float, amplitude: float) -> Tensor:  # (1, S): a wavy line across the image
        frequency, phase = _uniform(0.5, 2.0, generator), _uniform(0, 2 * math.pi, generator)
        return (level + amplitude * torch.sin(2 * math.pi * frequency * xs[:1] / size + phase)) * size

    horizon = wave(_uniform(0.25, 0.45, generator), _uniform(0.02, 0.06, generator))
    stuff = torch.where(ys < horizon, 0, 1)  # sky above, ground below
    if float(torch.rand((), generator=generator)) < 2 / 3:  # a water band across the ground
        top = wave(_uniform(0.6, 0.75, generator), _uniform(0.01, 0.04, generator))
        depth = _uniform(0.1, 0.2, generator) * size
        stuff = torch.where((ys >= top) & (ys < top + depth), 2, stuff)

    colours = [_colour(name, generator) for name in STUFF]
    sky = colours[0][:, None, None] + 0.2 * (0.5 - ys / size) + 0.1 * (_blotches(size, 2, generator) - 0.5)
    grain = torch.rand(1, 1, size // 2, size // 2, generator=generator)
    grain = torch.nn.functional.interpolate(grain, size=(size, size), mode="nearest")[0]
    ground = colours[1][:, None, None] + 0.35 * (grain - 0.5) + 0.15 * (_blotches(size, 8, generator) - 0.5)
    period = _uniform(3.0, 6.0, generator)
    ripples = torch.sin(2 * math.pi * (ys + 1.5 * torch.sin(2 * math.pi * xs / (8 * period))) / period)
    water = colours[2][:, None, None] + 0.15 * ripples + 0.05 * (_blotches(size, 4, generator) - 0.5)
    textures = torch.stack([sky.expand(3, -1, -1), ground, water])  # (3 classes, 3, S, S)
    picture = textures.gather(0, stuff[None, None].expand(1, 3, size, size))[0].clamp(0, 1)  # (3, S, S)
    return stuff, colours, picture


def _colour(name: str, generator: torch.Generator) -> Tensor:
    """Half the class-typical colour, half any colour: the classes' colours overlap."""
    return 0.5 * torch.tensor(_TYPICAL[name]) + 0.5 * torch.rand(3, generator=generator)


def _blotches(size: int, cells: int, generator: torch.Generator) -> Tensor:
    """A smooth random field in [0, 1], ``cells`` x ``cells`` control points, ``(1, S, S)``."""
    coarse = torch.rand(1, 1, cells, cells, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[0]


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


@register_panoptic_dataset("shapes")
def shapes(
    *,
    root: str | None = None,
    split: str = "train",
    transform: PanopticTransform | None = None,
    length: int | None = None,
    size: int = 128,
    max_objects: int = 4,
    seed: int = 0,
) -> PanopticShapes:
    """The synthetic panoptic ``shapes`` (``root`` is not used)."""
    return PanopticShapes(split=split, length=length, size=size, max_objects=max_objects, seed=seed, transform=transform)

