"""Object masks stored as the rectangle of pixels each one sets, not as image-sized planes.

An ``(N, H, W)`` stack of masks costs ``N * H * W`` bytes: 1,000 buildings on a 10,000 x 10,000 aerial image
would need 100 GB, though each building covers a few thousand pixels. :class:`MaskCrops` keeps each mask
as its tight bounding rectangle and that rectangle's pixels (Detectron2 keeps its masks at box size for
the same reason until they are pasted), so memory follows the objects. What the outputs of an instance
model need works on the crops directly: painting a class or instance-id map, the masks' areas, and COCO
run-length encoding (:meth:`MaskCrops.to_rle`); :meth:`MaskCrops.full` gives the ``(N, H, W)`` stack
where a caller wants it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError

Rect = tuple[int, int, int, int]
"""``(top, left, bottom, right)`` in image pixels, bottom and right exclusive."""


def _tight_crop(mask: Tensor) -> tuple[Rect, Tensor]:
    """The rectangle of rows and columns a bool ``(H, W)`` mask sets and the mask's pixels inside it (a copy).
    An empty mask gives the empty rectangle ``(0, 0, 0, 0)``."""
    rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
    if len(rows) == 0:
        return (0, 0, 0, 0), mask[:0, :0].clone()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return (y0, x0, y1, x1), mask[y0:y1, x0:x1].clone()


@dataclass
class MaskCrops:
    """``N`` bool masks of an ``(H, W)`` image, each kept as the rectangle it sets and its pixels there.

    Attributes:
        size: ``(H, W)`` of the image.
        rects: One :data:`Rect` per mask (empty for an empty mask).
        crops: One bool ``(bottom - top, right - left)`` tensor per mask, on the CPU.
    """

    size: tuple[int, int]
    rects: list[Rect]
    crops: list[Tensor]

    @classmethod
    def from_masks(cls, masks: Tensor) -> MaskCrops:
        """From an ``(N, H, W)`` stack (bool, or nonzero is foreground)."""
        if masks.ndim != 3:
            raise PixelwiseError(f"masks of shape {tuple(masks.shape)} are not an (N, H, W) stack")
        cropped = [_tight_crop(mask.bool().cpu()) for mask in masks]
        return cls(size=(int(masks.shape[1]), int(masks.shape[2])), rects=[r for r, _ in cropped], crops=[c for _, c in cropped])

    def __len__(self) -> int:
        return len(self.crops)

    def select(self, index: Sequence[int] | Tensor) -> MaskCrops:
        """The masks at ``index`` (positions, or a bool tensor of length N), in that order."""
        if isinstance(index, Tensor) and index.dtype == torch.bool:
            index = torch.nonzero(index).flatten()
        positions = [int(i) for i in index]
        return MaskCrops(size=self.size, rects=[self.rects[i] for i in positions], crops=[self.crops[i] for i in positions])

    def full(self) -> Tensor:
        """``(N, H, W)`` bool: every mask at the image's size (``N * H * W`` bytes)."""
        masks = torch.zeros(len(self), *self.size, dtype=torch.bool)
        for k, ((top, left, bottom, right), crop) in enumerate(zip(self.rects, self.crops, strict=True)):
            masks[k, top:bottom, left:right] = crop
        return masks

    def areas(self) -> Tensor:
        """``(N,)`` int64 pixels in each mask."""
        return torch.tensor([int(crop.sum()) for crop in self.crops], dtype=torch.int64)

    def paint(self, *, values: Tensor, scores: Tensor, background: int = 0, dtype: torch.dtype = torch.int64) -> Tensor:
        """``(H, W)`` map of ``values[i]`` where mask ``i`` is set, the most confident mask on top where they
        overlap (a tie: the later one), ``background`` elsewhere. Same rule as
        :func:`~pixelwise.inference.components.paint_instances`, one rectangle at a time."""
        values, scores = torch.as_tensor(values).reshape(-1), torch.as_tensor(scores).reshape(-1).float().cpu()
        if not len(values) == len(scores) == len(self):
            raise PixelwiseError(f"{len(self)} masks need as many values and scores, got {len(values)} and {len(scores)}")
        painted = torch.full(self.size, background, dtype=dtype)
        for index in torch.argsort(scores, stable=True).tolist():  # least confident first
            top, left, bottom, right = self.rects[index]
            painted[top:bottom, left:right][self.crops[index]] = int(values[index])
        return painted

    def to_rle(self) -> list[dict]:
        """Each mask as COCO compressed RLE (``{"size": [H, W], "counts": str}``), equal to what
        :func:`~pixelwise.metrics.rle.encode_masks` gives for the full mask, without making it: COCO runs go
        down columns, so the columns left and right of the rectangle are one run of zeros each, and only
        the rectangle's columns (at full height) are read."""
        return [self._rle(rect, crop) for rect, crop in zip(self.rects, self.crops, strict=True)]

    def _rle(self, rect: Rect, crop: Tensor) -> dict:
        from pycocotools import mask as mask_api

        height, width = self.size
        top, left, bottom, right = rect
        column_major = np.zeros((right - left, height), dtype=bool)  # the rectangle's columns, top to bottom
        column_major[:, top:bottom] = crop.numpy().T
        flat = column_major.ravel()
        starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        runs = np.diff(np.concatenate([[0], starts, [flat.size]])).tolist() if flat.size else []
        if runs and flat[0]:
            runs.insert(0, 0)  # COCO runs start with zeros
        runs = runs or [0]
        runs[0] += left * height
        after = (width - right) * height  # zeros in the columns right of the rectangle
        if len(runs) % 2 == 1:  # ends on a run of zeros: they continue
            runs[-1] += after
        elif after:  # ends on a run of ones
            runs.append(after)
        rle = mask_api.frPyObjects({"size": [height, width], "counts": runs}, height, width)
        return {"size": [height, width], "counts": rle["counts"].decode("ascii")}
