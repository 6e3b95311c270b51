"""Images paired with instance-id masks: what Penn-Fudan and the instance ``folder`` build.

An instance mask stores one id per pixel: 0 is background and every other value one instance
(8- or 16-bit greyscale or palette PNG). Each id becomes an instance with its mask, its box (the
mask's pixel extent) and its class, looked up in a per-image table (or class 1 for all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from pixelwise.data.decode import image_header, read_image, read_mask
from pixelwise.data.files import Sample, check_sizes
from pixelwise.data.instances.base import (
    Found,
    InstanceDataset,
    InstanceTransform,
    Target,
    instance_info,
    make_target,
)
from pixelwise.errors import PixelwiseError

ClassTable = Mapping[str, Mapping[int, int]]
"""Image name -> instance id -> contiguous class label (1..K)."""

BadAnnotations = Literal["error", "skip"]


class InstanceMaskFiles(InstanceDataset):
    """Image files with instance-id mask files.

    Args:
        samples: The split's ``(image, mask)`` files, in a fixed order.
        image_ids: One stable id per sample.
        class_names: Instance classes (without background).
        source: Where the samples came from, for messages.
        classes: Per-image instance classes (``None``: every instance is class 1).
        classes_file: The file ``classes`` was read from, for messages.
        bad_annotations: An image without a mask: ``"error"`` refuses to open, naming it;
            ``"skip"`` leaves it out (listed by :meth:`source_problems`).
        transform: ``(image, target) -> (image, target)``.
    """

    def __init__(
        self,
        *,
        samples: Sequence[Sample],
        image_ids: Sequence[int],
        class_names: Sequence[str],
        source: str,
        classes: ClassTable | None = None,
        classes_file: Path | None = None,
        bad_annotations: BadAnnotations = "error",
        transform: InstanceTransform | None = None,
    ) -> None:
        super().__init__(transform=transform)
        if bad_annotations not in ("error", "skip"):
            raise PixelwiseError(f"bad_annotations={bad_annotations!r} is not valid; choose error or skip")
        unmasked = [s for s in samples if s.mask is None]
        if unmasked and bad_annotations == "error":
            raise PixelwiseError(
                f"{len(unmasked)} image(s) in {source} have no instance mask, e.g. {unmasked[0].image}; add the masks, "
                "or pass bad_annotations='skip' to leave those images out"
            )
        self.skipped: list[Found] = [
            ("error", str(s.image), "image has no instance mask", "add its instance mask, or remove the image") for s in unmasked
        ]
        kept = [(s, i) for s, i in zip(samples, image_ids, strict=True) if s.mask is not None]
        if not kept:
            raise PixelwiseError(f"no image with an instance mask found in {source}; check --root and --split")
        self.samples = tuple(s for s, _ in kept)
        self.image_ids = tuple(i for _, i in kept)
        self.name = source
        self.classes = classes
        self.classes_file = classes_file
        self.info = instance_info(class_names)
        self.category_ids = list(range(self.info.num_classes))

    def __len__(self) -> int:
        return len(self.samples)

    def image_path(self, index: int) -> Path:
        return self.samples[index].image

    def image_info(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        width, height, _ = image_header(sample.image)
        return {"id": self.image_ids[index], "width": width, "height": height, "file_name": sample.image.name}

    def load(self, index: int) -> tuple[Tensor, Target]:
        sample = self.samples[index]
        image = read_image(sample.image)
        ids_map, ids = self._read_ids(sample)
        check_sizes(image=image, mask=ids_map, sample=sample)
        masks = ids_map[None] == torch.tensor(ids, dtype=ids_map.dtype)[:, None, None]  # (N, H, W)
        labels = [self._label(sample, k) for k in ids]
        return image, make_target(masks=masks, labels=labels, image_id=self.image_ids[index])

    def instance_names(self, index: int, target: Target) -> list[str]:
        sample = self.samples[index]
        return [f"instance {k} of {sample.mask}" for k in self._read_ids(sample)[1]]

    def source_problems(self) -> list[Found]:
        return list(self.skipped)

    def image_problems(self, index: int, target: Target) -> list[Found]:
        """Instances the class table names but the mask has no pixel of (empty masks)."""
        sample = self.samples[index]
        if self.classes is None or sample.name not in self.classes:
            return []
        present = set(self._read_ids(sample)[1])
        problem = "{} gives instance {} a class but the mask has no pixel of it (empty mask)"
        fix = "paint instance {} in the mask, or delete it from {}"
        return [
            ("error", str(sample.mask), problem.format(self.classes_file, k), fix.format(k, self.classes_file))
            for k in sorted(set(self.classes[sample.name]) - present)
        ]

    def _read_ids(self, sample: Sample) -> tuple[Tensor, list[int]]:
        """The mask's instance ids per pixel ``int64 (H, W)`` and the ids present (0 excluded, ascending)."""
        assert sample.mask is not None  # unmasked samples are refused or skipped in __init__
        stored = read_mask(sample.mask)  # (C, H, W)
        if stored.shape[0] >= 3 and not (torch.equal(stored[0], stored[1]) and torch.equal(stored[0], stored[2])):
            raise PixelwiseError(
                f"instance mask {sample.mask} is a colour image; save one instance id per pixel "
                "(0 = background) as an 8- or 16-bit greyscale or palette PNG"
            )
        ids_map = stored[0].to(torch.int64)  # (H, W)
        ids = [int(k) for k in torch.unique(ids_map).tolist() if k != 0]
        return ids_map, ids

    def _label(self, sample: Sample, instance: int) -> int:
        if self.classes is None:
            return 1
        table = self.classes.get(sample.name)
        if table is None or instance not in table:
            missing = "no entry for this image" if table is None else f"no class for instance {instance}"
            raise PixelwiseError(
                f"instance mask {sample.mask}: {self.classes_file} has {missing}; add "
                f'"{sample.name}": {{"{instance}": "CLASS", ...}} to its "instances" table'
            )
        return table[instance]


def pool_ids(samples: Sequence[Sample], pool: Sequence[Sample]) -> list[int]:
    """Stable image ids: each sample's position in the sorted pool it was carved from."""
    position = {s.image: i for i, s in enumerate(sorted(pool, key=lambda s: s.image.name))}
    return [position[s.image] for s in samples]
