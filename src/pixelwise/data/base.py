"""What every pixelwise dataset gives: images, masks, class names, a palette and the ignore index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

from pixelwise.constants import IGNORE_INDEX

PairTransform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset's labels.

    Attributes:
        class_names: One name per class, in label order.
        palette: One RGB colour per class for colour masks, panels and overlays.
        ignore_index: Mask value left out of losses and metrics (default
            :data:`~pixelwise.constants.IGNORE_INDEX`; ``None``: every pixel counts).
        image_channels: Channels of the images the dataset gives (3 for RGB, 1 for greyscale), so
            a model can be built with the matching ``in_channels``.
    """

    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int | None = IGNORE_INDEX
    image_channels: int = 3

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class InfoLabels:
    """``class_names``, ``num_classes``, ``ignore_index`` and ``palette`` read from the dataset's ``info``
    (every dataset kind: semantic, instance, panoptic)."""

    info: DatasetInfo

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def ignore_index(self) -> int | None:
        return self.info.ignore_index

    @property
    def palette(self) -> tuple[tuple[int, int, int], ...]:
        return self.info.palette


class SegmentationDataset(InfoLabels, Dataset[tuple[Tensor, Tensor]]):
    """Base class: subclasses implement ``__len__`` and ``load(index)``.

    ``dataset[i]`` returns ``transform(image, mask)``; without a transform the image is a
    ``uint8`` tensor ``(C, H, W)`` and the mask an ``int64`` tensor ``(H, W)`` of class indices
    (or ``info.ignore_index``).

    Args:
        transform: Paired ``(image, mask) -> (image, mask)`` transform applied on every access.
        cache: Keep each decoded ``(image, mask)`` pair in memory after its first load, so later
            epochs skip decoding. Each DataLoader worker process keeps its own cache (use
            ``persistent_workers=True``); call :meth:`preload` before the workers start to
            decode once and share the memory with forked workers instead.
    """

    info: DatasetInfo

    def __init__(self, *, transform: PairTransform | None = None, cache: bool = False) -> None:
        self.transform = transform
        self.cache = cache
        self._cache: dict[int, tuple[Tensor, Tensor]] = {}

    def load(self, index: int) -> tuple[Tensor, Tensor]:
        """The raw ``(image uint8 (C, H, W), mask int64 (H, W))`` pair at ``index``."""
        raise NotImplementedError

    def load_cached(self, index: int) -> tuple[Tensor, Tensor]:
        """:meth:`load`, served from memory when ``cache`` is on and the pair was loaded before."""
        if not self.cache:
            return self.load(index)
        pair = self._cache.get(index)
        if pair is None:
            pair = self._cache[index] = self.load(index)
        return pair

    def preload(self) -> None:
        """Decode every pair into the cache now (turns ``cache`` on).

        Forked DataLoader workers then read the parent's tensors without copying them
        (copy-on-write pages that are never written), instead of each decoding its own copy.
        """
        self.cache = True
        for index in range(len(self)):
            self.load_cached(index)

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image, mask = self.load_cached(index)
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask


def as_long_mask(mask: Tensor) -> Tensor:
    """Drop a leading channel axis and convert to ``int64`` (H, W)."""
    if mask.ndim == 3:
        mask = mask[0]
    return mask.to(torch.int64)
