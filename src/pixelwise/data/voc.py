"""``voc``: PASCAL VOC 2012 segmentation, optionally with the SBD augmented training set.

``root`` is the ``VOC2012`` folder (or a folder holding ``VOCdevkit/VOC2012``): images in
``JPEGImages/``, masks in ``SegmentationClass/`` (palette PNGs whose *indices* are the labels
0..20; 255 marks object borders and is ignored), split lists in ``ImageSets/Segmentation/``.

``split="train_aug"`` is the 10,582-image set of DeepLab and most later papers: VOC train plus
the Semantic Boundaries Dataset (Hariharan et al. 2011), minus VOC val. Give ``sbd_root`` as
either a ``SegmentationClassAug/`` folder of PNG masks or SBD's own ``benchmark_RELEASE/dataset``
(``cls/*.mat``, ``img/``, ``train.txt``, ``val.txt``; reading ``.mat`` needs SciPy). A
``ImageSets/Segmentation/train_aug.txt`` list, when present, fixes the names instead.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.decode import read_mask
from pixelwise.data.files import FileDataset, MissingMasks, Sample, require_root
from pixelwise.data.labels import LabelMap, voc_palette
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import read_list
from pixelwise.errors import PixelwiseError

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC_INFO = DatasetInfo(class_names=VOC_CLASSES, palette=voc_palette(len(VOC_CLASSES)))
_LAYOUT = "VOC2012 (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/)"


def voc_root(root: str | Path | None) -> Path:
    """The ``VOC2012`` folder under ``root`` (``root`` itself or ``root/VOCdevkit/VOC2012``)."""
    path = require_root(root, dataset="voc", layout=_LAYOUT)
    for candidate in (path, path / "VOC2012", path / "VOCdevkit" / "VOC2012"):
        if (candidate / "ImageSets" / "Segmentation").is_dir():
            return candidate
    raise PixelwiseError(f"{path} holds no ImageSets/Segmentation/; point --root at the VOC2012 folder ({_LAYOUT})")


@register_splits("voc")
def voc_splits(*, root: Path | None) -> list[str]:
    lists = voc_root(root) / "ImageSets" / "Segmentation"
    # trainval is train + val: listing it too would count every file twice.
    return [s for s in ("train", "val", "train_aug", "test") if (lists / f"{s}.txt").is_file()]


@register_dataset("voc")
def voc(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    sbd_root: str | Path | None = None,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open a PASCAL VOC 2012 segmentation split.

    Args:
        root: The VOC2012 folder.
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"train_aug"`` (needs ``sbd_root``
            unless ``train_aug.txt`` and its masks are in the VOC folder).
        transform: Paired transform.
        sbd_root: The SBD masks (see the module docstring), for ``"train_aug"``.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = voc_root(root)
    lists = path / "ImageSets" / "Segmentation"
    sbd = _sbd_masks(Path(sbd_root).expanduser()) if sbd_root is not None else {}
    if split == "train_aug" and not (lists / "train_aug.txt").is_file():
        if not sbd:
            raise PixelwiseError("split 'train_aug' needs sbd_root (SegmentationClassAug/ or SBD's dataset/ folder)")
        held_out = set(read_list(lists / "val.txt"))
        names = sorted((set(sbd) | set(read_list(lists / "train.txt"))) - held_out)
        source = f"{lists / 'train.txt'} + {sbd_root}"
    else:
        listed = lists / f"{split}.txt"
        if not listed.is_file():
            raise PixelwiseError(f"voc split {split!r} needs {listed}, which is missing; choose train, val or trainval")
        names, source = [line.split()[0] for line in read_list(listed)], str(listed)
    samples = [_sample(path, name, sbd) for name in names]
    labels = LabelMap({**{c: c for c in range(len(VOC_CLASSES))}, IGNORE_INDEX: IGNORE_INDEX})
    return FileDataset(
        samples=samples, info=VOC_INFO, source=source, labels=labels, mask_reader=read_voc_mask,
        missing_masks=missing_masks, transform=transform, cache=cache,
        expected_extras=("*.jpg",),  # JPEGImages also holds the detection-only images
    )  # fmt: skip


def _sample(root: Path, name: str, sbd: dict[str, Path]) -> Sample:
    mask = root / "SegmentationClass" / f"{name}.png"
    if not mask.is_file():
        mask = sbd.get(name, mask)
    return Sample(name=name, image=root / "JPEGImages" / f"{name}.jpg", mask=mask if mask.is_file() else None)


def _sbd_masks(sbd_root: Path) -> dict[str, Path]:
    """SBD mask files by name, from SegmentationClassAug PNGs or SBD's ``cls/*.mat``."""
    for folder in (sbd_root, sbd_root / "SegmentationClassAug"):
        pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
        if pngs:
            return {p.stem: p for p in pngs}
    for dataset in (sbd_root, sbd_root / "dataset", sbd_root / "benchmark_RELEASE" / "dataset"):
        if (dataset / "cls").is_dir():
            names = [n for s in ("train", "val") if (dataset / f"{s}.txt").is_file() for n in read_list(dataset / f"{s}.txt")]
            return {n: dataset / "cls" / f"{n}.mat" for n in names}
    raise PixelwiseError(f"sbd_root {sbd_root} holds neither SegmentationClassAug/*.png nor dataset/cls/*.mat; check the path")


def read_voc_mask(path: Path) -> Tensor:
    """A VOC palette PNG's indices, or an SBD ``GTcls`` ``.mat`` segmentation, as ``(1, H, W)``."""
    if path.suffix.lower() != ".mat":
        return read_mask(path)
    try:
        from scipy.io import loadmat
    except ImportError as error:
        raise PixelwiseError(f"reading SBD mask {path} needs SciPy: pip install 'pixelwise[sbd]' (or use SegmentationClassAug PNGs)") from error
    try:
        segmentation = loadmat(str(path))["GTcls"]["Segmentation"][0][0]
    except Exception as error:  # damaged or not an SBD GTcls file
        raise PixelwiseError(f"SBD mask {path} cannot be read ({error}); re-extract benchmark.tgz") from error
    return torch.from_numpy(segmentation.astype("uint8")).unsqueeze(0)  # (1, H, W)
