"""``shapes``: the synthetic shapes as instances, deterministic from a seed, needing no download.

The same renderer as the semantic :mod:`pixelwise.data.shapes` (with equal ``size``,
``max_objects`` and ``seed``, image ``i`` is the same picture): each circle, square or triangle
is one instance of its class. Shapes overlap; a shape owns what it covers of the shapes drawn
before it, and a shape covered entirely is no instance.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from pixelwise.data.instances.base import (
    InstanceDataset,
    InstanceTransform,
    Target,
    instance_info,
    make_target,
)
from pixelwise.data.instances.registry import register_instance_dataset
from pixelwise.data.shapes import SHAPES_INFO, checked_length, draw_shapes, shapes_generator


class InstanceShapes(InstanceDataset):
    """Synthetic shapes with one instance per visible shape.

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
        transform: InstanceTransform | None = None,
    ) -> None:
        super().__init__(transform=transform)
        self.length = checked_length(split=split, length=length, size=size, max_objects=max_objects, seed=seed)
        self.split = split
        self.size = size
        self.max_objects = max_objects
        self.seed = seed
        self.name = f"shapes ({split}, seed {seed})"
        self.info = instance_info(SHAPES_INFO.class_names[1:])
        self.category_ids = list(range(self.info.num_classes))
        self._rendered: dict[int, tuple[Tensor, Tensor, list[int]]] = {}  # drawing is the slow part

    def __len__(self) -> int:
        return self.length

    def image_info(self, index: int) -> dict[str, Any]:
        return {"id": index, "width": self.size, "height": self.size, "file_name": f"shapes-{self.split}-{index:06d}"}

    def load(self, index: int) -> tuple[Tensor, Target]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} images")
        if index not in self._rendered:
            generator = shapes_generator(seed=self.seed, split=self.split, index=index)
            image, layers = draw_shapes(size=self.size, max_objects=self.max_objects, generator=generator)
            self._rendered[index] = (image, *visible_instances(layers, size=self.size))
        image, masks, labels = self._rendered[index]
        return image.clone(), make_target(masks=masks.clone(), labels=labels, image_id=index)


def visible_instances(layers: list[tuple[int, Tensor]], *, size: int) -> tuple[Tensor, list[int]]:
    """Each shape's visible part: its footprint minus what later shapes cover; hidden shapes are dropped.

    Args:
        layers: ``(class, footprint bool (S, S))`` from bottom to top.
        size: The image side ``S``.

    Returns:
        ``(masks bool (N, S, S), classes)``, bottom to top.
    """
    covered = torch.zeros(size, size, dtype=torch.bool)
    visible: list[tuple[int, Tensor]] = []
    for label, inside in reversed(layers):  # top first: what is covered so far hides the shapes below
        mask = inside & ~covered
        covered |= inside
        if mask.any():
            visible.append((label, mask))
    visible.reverse()
    masks = torch.stack([m for _, m in visible]) if visible else torch.zeros(0, size, size, dtype=torch.bool)
    return masks, [label for label, _ in visible]


@register_instance_dataset("shapes")
def shapes(
    *,
    root: str | None = None,
    split: str = "train",
    transform: InstanceTransform | None = None,
    length: int | None = None,
    size: int = 128,
    max_objects: int = 4,
    seed: int = 0,
) -> InstanceShapes:
    """The synthetic instance ``shapes`` (``root`` is not used)."""
    return InstanceShapes(split=split, length=length, size=size, max_objects=max_objects, seed=seed, transform=transform)
