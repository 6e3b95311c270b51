"""A dataset of image files paired with mask files: what every on-disk format builds.

A format only has to find its ``(image, mask)`` file pairs and say how stored mask values
become class indices; decoding, the size check, missing-mask policy and caching live here once
(the label rule itself lives in :mod:`pixelwise.data.labels`, the readers in :mod:`pixelwise.data.decode`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from pixelwise.data.base import DatasetInfo, PairTransform, SegmentationDataset
from pixelwise.data.decode import IMAGE_SUFFIXES, read_image, read_mask
from pixelwise.data.labels import (
    INVALID,
    ColorTable,
    LabelMap,
    allowed_labels,
    check_labels,
    describe_invalid,
    invalid_labels,
)
from pixelwise.errors import PixelwiseError

MissingMasks = Literal["error", "skip", "ignore"]


@dataclass(frozen=True)
class Sample:
    """One image and its mask file (``mask=None``: the image has no mask)."""

    name: str
    image: Path
    mask: Path | None


class FileDataset(SegmentationDataset):
    """Images and masks read from files.

    Args:
        samples: The split's ``(image, mask)`` files, in a fixed order.
        info: Class names, palette, ignore index and image channels.
        source: Where the samples came from (a folder or list file), for error messages.
        labels: Stored mask value -> class index (``None``: the stored value is the class index).
        colors: For colour masks: RGB colour -> class index.
        mask_reader: Reads a mask file's stored values ``(C, H, W)`` (default: image decoders;
            SBD's ``.mat`` files need their own).
        missing_masks: What to do with images that have no mask: ``"error"`` (refuse, naming
            the first), ``"skip"`` (leave them out) or ``"ignore"`` (a mask of ``ignore_index``
            everywhere, e.g. to predict on unlabelled images).
        transform: Paired transform applied on access.
        cache: Keep decoded pairs in memory (see :class:`SegmentationDataset`).
        expected_extras: File-name patterns (``fnmatch``) of files that share the image and mask
            folders by design (Cityscapes' ``*_gtFine_color.png``, VOC's detection-only JPEGs), so
            the verifier does not report them as stray.
    """

    def __init__(
        self,
        *,
        samples: Sequence[Sample],
        info: DatasetInfo,
        source: str,
        labels: LabelMap | None = None,
        colors: ColorTable | None = None,
        mask_reader: Callable[[Path], Tensor] = read_mask,
        missing_masks: MissingMasks = "error",
        transform: PairTransform | None = None,
        cache: bool = False,
        expected_extras: Sequence[str] = (),
    ) -> None:
        super().__init__(transform=transform, cache=cache)
        if missing_masks not in ("error", "skip", "ignore"):
            raise PixelwiseError(f"missing_masks={missing_masks!r} is not valid; choose error, skip or ignore")
        if not samples:
            raise PixelwiseError(f"no images found in {source}; check --root and --split (run `pixelwise data verify`)")
        unmasked = [s for s in samples if s.mask is None]
        if unmasked and missing_masks == "error":
            raise PixelwiseError(
                f"{len(unmasked)} image(s) in {source} have no mask, e.g. {unmasked[0].image}; add the masks, "
                "or pass missing_masks='skip' to leave them out or 'ignore' to load them with an all-ignored mask"
            )
        if unmasked and missing_masks == "ignore" and info.ignore_index is None:
            raise PixelwiseError(f"missing_masks='ignore' needs an ignore index, but {source} has none")
        if missing_masks == "skip":
            samples = [s for s in samples if s.mask is not None]
        self.samples = tuple(samples)
        self.info = info
        self.source = source
        self.labels = labels
        self.colors = colors
        if labels is not None:
            table = labels.table
            bad = invalid_labels(table, num_classes=info.num_classes, ignore_index=info.ignore_index) & (table != INVALID)
            if bad.any():  # a format's own table is wrong: a bug, not bad user data
                allowed = allowed_labels(num_classes=info.num_classes, ignore_index=info.ignore_index)
                raise ValueError(f"label map produces {describe_invalid(table, bad)}, not a class ({allowed}); fix the format's LabelMap")
        self.read_mask = mask_reader
        self.expected_extras = tuple(expected_extras)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> tuple[Tensor, Tensor]:
        sample = self.samples[index]
        image = read_image(sample.image, channels=self.info.image_channels)
        if sample.mask is None:
            assert self.info.ignore_index is not None  # checked in __init__
            return image, torch.full(image.shape[-2:], self.info.ignore_index, dtype=torch.int64)
        stored = self.read_mask(sample.mask)
        mask = self.mask_to_labels(stored, path=sample.mask)
        check_sizes(image=image, mask=mask, sample=sample)
        low, high = (int(v) for v in torch.aminmax(mask))
        # Lookup and colour tables only produce classes, the ignore index or -1, so min/max settle most masks.
        closed = self.labels is not None or self.colors is not None
        if low >= 0 and (high < self.info.num_classes or (closed and high == self.info.ignore_index)):
            return image, mask
        check_labels(
            mask, num_classes=self.info.num_classes, ignore_index=self.info.ignore_index, source=f"mask {sample.mask}",
            stored=stored, fix="fix the mask or the dataset options (run `pixelwise data verify` to list every bad file)",
        )  # fmt: skip
        return image, mask

    def mask_to_labels(self, stored: Tensor, *, path: Path) -> Tensor:
        """Stored mask values ``(C, H, W)`` -> class indices ``int64 (H, W)`` (bad values -> -1)."""
        if stored.shape[0] >= 3:
            if self.colors is not None:
                return self.colors(stored[:3])
            if not (torch.equal(stored[0], stored[1]) and torch.equal(stored[0], stored[2])):
                raise PixelwiseError(
                    f"mask {path} is a colour image but this dataset expects one class index per pixel; "
                    "save it as a single-channel index PNG, or give a colour table (colors.yaml) for colour masks"
                )
        elif self.colors is not None:
            raise PixelwiseError(f"mask {path} has one channel but the dataset has a colour table; save it as RGB")
        values = stored[0]  # index masks (grey copies in RGB and any alpha channel carry nothing more)
        return self.labels(values) if self.labels is not None else values.to(torch.int64)


def size_mismatch(*, image: Tensor, mask: Tensor, sample: Sample) -> tuple[str, str] | None:
    """``(problem, fix)`` when the image ``(C, H, W)`` and the mask ``(H, W)`` differ in size, else ``None``.

    Transposed sizes point at an EXIF orientation tag: decoders rotate the image by it, not the mask.
    """
    (ih, iw), (mh, mw) = image.shape[-2:], mask.shape[-2:]
    if (ih, iw) == (mh, mw):
        return None
    problem = f"mask is {mw}x{mh} but image {sample.image} is {iw}x{ih} (width x height)"
    if (ih, iw) == (mw, mh):
        return problem, "the image is probably rotated by its EXIF orientation tag: rotate the mask the same way or strip the tag"
    return problem, "re-export the pair at one size (resize masks with nearest-neighbour sampling)"


def check_sizes(*, image: Tensor, mask: Tensor, sample: Sample) -> None:
    """Raise :class:`PixelwiseError` when :func:`size_mismatch` finds one."""
    mismatch = size_mismatch(image=image, mask=mask, sample=sample)
    if mismatch is not None:
        problem, fix = mismatch
        raise PixelwiseError(f"{sample.mask}: {problem}; {fix}")


def require_root(root: str | Path | None, *, dataset: str, layout: str) -> Path:
    """``root`` as a Path, or an error that says which layout ``dataset`` expects there."""
    if root is None:
        raise PixelwiseError(f"dataset {dataset!r} needs --root PATH (a folder holding {layout})")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise PixelwiseError(f"dataset root {path} is not a folder; pass --root PATH to a folder holding {layout}")
    return path


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix, hidden files skipped), sorted by name."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def pair_by_stem(image_dir: Path, mask_dir: Path, *, mask_suffix: str = "") -> list[Sample]:
    """Pair each image in ``image_dir`` with the mask in ``mask_dir`` of the same stem (+ ``mask_suffix``).

    PNG masks are preferred when several files share a stem. Images without a mask get ``mask=None``.
    """
    masks: dict[str, Path] = {}
    if mask_dir.is_dir():
        for path in image_files(mask_dir):
            if path.stem not in masks or path.suffix.lower() == ".png":
                masks[path.stem] = path
    return [Sample(name=p.stem, image=p, mask=masks.get(p.stem + mask_suffix)) for p in image_files(image_dir)]
