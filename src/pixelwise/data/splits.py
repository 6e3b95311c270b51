"""Split helpers shared by the formats: list files and a deterministic hold-out.

Some datasets ship one labelled pool and no validation split (Oxford-IIIT Pet's trainval, the
30 ISBI slices, a plain folder). :func:`holdout` carves ``"val"`` from such a pool: a fixed
fraction chosen by a seeded permutation of the sorted names, so the same files land in the
same split on every machine, and ``"train"`` is the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from pixelwise.errors import PixelwiseError

HOLDOUT_SPLITS = ("train", "val")


def read_list(path: Path) -> list[str]:
    """The non-empty, non-comment (``#``) lines of a split list file, stripped."""
    if not path.is_file():
        raise PixelwiseError(f"split list {path} not found; check --root and --split")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def holdout(names: Sequence[str], *, split: str, pool: str, val_fraction: float, seed: int) -> list[str]:
    """The names of ``split`` carved deterministically from a labelled ``pool``.

    Args:
        names: Every name in the pool (any order).
        split: ``pool`` (everything), ``"train"`` (the pool minus the hold-out) or ``"val"`` (the hold-out).
        pool: The pool's own split name (``"trainval"``, ``"all"``, ...).
        val_fraction: Share of the pool held out for ``"val"`` (rounded, at least one image when positive).
        seed: Seed of the permutation that picks the hold-out.

    Returns:
        The split's names, sorted.
    """
    if split == pool:
        return sorted(names)
    if split not in HOLDOUT_SPLITS:
        raise PixelwiseError(f"unknown split {split!r}; choose {pool}, train or val (val is carved from {pool})")
    if not 0.0 <= val_fraction < 1.0:
        raise PixelwiseError(f"val_fraction={val_fraction} must be in [0, 1)")
    ordered = sorted(names)
    count = round(len(ordered) * val_fraction)
    if val_fraction > 0 and len(ordered) > 1:
        count = max(count, 1)
    order = torch.randperm(len(ordered), generator=torch.Generator().manual_seed(seed)).tolist()
    held = {ordered[i] for i in order[:count]}
    chosen = [name for name in ordered if (name in held) == (split == "val")]
    if not chosen:
        raise PixelwiseError(f"split {split!r} is empty with val_fraction={val_fraction}; choose a fraction in (0, 1)")
    return chosen


def resolve_listed(root: Path, listed: str, *, where: str) -> Path:
    """A path from a split list, found under ``root``.

    Relative paths are taken from ``root``. Absolute paths that do not exist (lists written on
    another machine, like SegNet's ``/SegNet/CamVid/train/x.png``) are re-rooted by keeping
    their last two parts (``train/x.png``). A path that leads outside ``root`` (``../../x.png``,
    ``/etc/passwd``) is refused: a list file never makes pixelwise read outside the dataset.

    Args:
        root: The dataset folder.
        listed: The path as the list writes it.
        where: ``"FILE line N"``, for the message.
    """
    if "\x00" in listed:
        raise PixelwiseError(f"{where} holds a NUL character, which no file name has; fix the list file")
    path = Path(listed)
    try:
        if not path.is_absolute():
            candidate = root / path
        elif path.exists():
            candidate = path
        else:
            candidate = root / Path(*path.parts[-2:])
        inside = candidate.resolve().is_relative_to(root.resolve())
    except OSError as error:  # a name too long for the file system, ...
        raise PixelwiseError(f"{where} names {listed!r}, which is no usable path ({error.strerror}); fix the list file") from None
    if not inside:
        raise PixelwiseError(
            f"{where} names {listed!r}, which is outside the dataset folder {root}; list only files inside --root"
        )
    return candidate
