"""``pets``: Oxford-IIIT Pet in its own layout (https://www.robots.ox.ac.uk/~vgg/data/pets/).

``images/NAME.jpg``, ``annotations/trimaps/NAME.png`` and the split lists
``annotations/trainval.txt`` / ``test.txt`` (lines ``NAME CLASS-ID SPECIES BREED-ID``).
Trimaps store 1 = pet, 2 = background, 3 = border ("not classified"). ``mode`` picks the labels:

* ``"trimap"`` (the course): 3 classes, 0 pet, 1 background, 2 border (stored value minus 1);
* ``"binary"``: 0 background, 1 pet, the border counted as pet;
* ``"binary-ignore"``: 0 background, 1 pet, the border ignored (255).

The dataset ships no validation split: ``"train"`` and ``"val"`` are carved from ``"trainval"``
(``val_fraction`` of it, chosen by a permutation seeded with ``seed``; the same on every
machine), and ``"test"`` is the paper's test list. ``images/`` also holds a few stray ``.mat``
files in the original archive; they are not images and are never read. Some ``.jpg`` files
are really GIF or PNG-with-alpha: they are decoded by content and converted to RGB.
"""

from __future__ import annotations

from pathlib import Path

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.base import DatasetInfo, PairTransform
from pixelwise.data.files import FileDataset, MissingMasks, Sample, require_root
from pixelwise.data.labels import LabelMap
from pixelwise.data.registry import register_dataset, register_splits
from pixelwise.data.splits import holdout, read_list
from pixelwise.errors import PixelwiseError

PET, BACKGROUND, BORDER = 1, 2, 3  # stored trimap values
_PET_COLOUR, _BACKGROUND_COLOUR, _BORDER_COLOUR = (255, 127, 14), (0, 0, 0), (255, 255, 255)
PETS_MODES: dict[str, tuple[DatasetInfo, dict[int, int]]] = {
    "trimap": (
        DatasetInfo(class_names=("pet", "background", "border"), palette=(_PET_COLOUR, _BACKGROUND_COLOUR, _BORDER_COLOUR)),
        {PET: 0, BACKGROUND: 1, BORDER: 2},
    ),
    "binary": (
        DatasetInfo(class_names=("background", "pet"), palette=(_BACKGROUND_COLOUR, _PET_COLOUR)),
        {PET: 1, BACKGROUND: 0, BORDER: 1},
    ),
    "binary-ignore": (
        DatasetInfo(class_names=("background", "pet"), palette=(_BACKGROUND_COLOUR, _PET_COLOUR)),
        {PET: 1, BACKGROUND: 0, BORDER: IGNORE_INDEX},
    ),
}
POOL = "trainval"
_LAYOUT = "Oxford-IIIT Pet's images/ and annotations/ (trimaps/, trainval.txt, test.txt)"


@register_splits("pets")
def pets_splits(*, root: Path | None) -> list[str]:
    root = require_root(root, dataset="pets", layout=_LAYOUT)
    return [s for s in (POOL, "test") if (root / "annotations" / f"{s}.txt").is_file()]


@register_dataset("pets")
def pets(
    *,
    root: str | Path | None,
    split: str = "train",
    transform: PairTransform | None = None,
    mode: str = "trimap",
    val_fraction: float = 0.1,
    seed: int = 0,
    missing_masks: MissingMasks = "error",
    cache: bool = False,
) -> FileDataset:
    """Open an Oxford-IIIT Pet split.

    Args:
        root: The folder holding ``images/`` and ``annotations/``.
        split: ``"trainval"`` (the paper's list), ``"train"`` / ``"val"`` (carved from it) or ``"test"``.
        transform: Paired transform.
        mode: ``"trimap"``, ``"binary"`` or ``"binary-ignore"`` (see the module docstring).
        val_fraction: Share of ``trainval`` held out as ``"val"`` (default 0.1: 30 of 300 in the 3-breed subset).
        seed: Seed of the hold-out; change it for another random split.
        missing_masks: ``"error"``, ``"skip"`` or ``"ignore"`` (see :class:`FileDataset`).
        cache: Keep decoded pairs in memory.
    """
    path = require_root(root, dataset="pets", layout=_LAYOUT)
    if mode not in PETS_MODES:
        raise PixelwiseError(f"pets mode {mode!r} is not valid; choose {', '.join(PETS_MODES)}")
    info, mapping = PETS_MODES[mode]
    list_name = "test" if split == "test" else POOL
    listed = path / "annotations" / f"{list_name}.txt"
    if not listed.is_file():
        raise PixelwiseError(
            f"pets split {split!r} needs {listed}, which is missing; download annotations.tar.gz "
            f"(`pixelwise data download --dataset pets`) or choose a split among {pets_splits(root=path) or ['(none)']}"
        )
    names = [line.split()[0] for line in read_list(listed)]
    if split != "test":
        names = holdout(names, split=split, pool=POOL, val_fraction=val_fraction, seed=seed)
    samples = [_sample(path, name) for name in names]
    return FileDataset(
        samples=samples, info=info, source=str(listed), labels=LabelMap(mapping),
        missing_masks=missing_masks, transform=transform, cache=cache,
    )  # fmt: skip


def _sample(root: Path, name: str) -> Sample:
    mask = root / "annotations" / "trimaps" / f"{name}.png"
    return Sample(name=name, image=root / "images" / f"{name}.jpg", mask=mask if mask.is_file() else None)
