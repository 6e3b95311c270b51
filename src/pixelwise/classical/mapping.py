"""The stated rule that turns an unsupervised method's regions into the dataset's classes.

A method's region ids mean the same on every image (e.g. 0 = below the threshold, 1 = above), but
not which *class* they are: bright may be the cell or the membrane. The rule, fitted on the train
split only and stored in the model file:

1. Count, over the train images, the pixels of each region id that carry each true class
   (ignored pixels left out): a confusion ``(R, K)``.
2. Match region ids to classes one-to-one with the Hungarian algorithm, maximising the train pixels
   that land in their true class. For two regions and two classes this is the foreground/background
   polarity.
3. With more region ids than classes, every id left unmatched joins the class it overlaps most on the
   train split; with fewer, some classes are never predicted.

The evaluated split's truth is never read: :func:`pixelwise.classical.fit.fit_method` sees the train
split alone, and evaluation only applies the stored table.
"""

from __future__ import annotations

import numpy as np


def region_confusion(
    regions: np.ndarray, mask: np.ndarray, *, num_regions: int, num_classes: int, ignore_index: int | None
) -> np.ndarray:
    """``int64 (R, K)``: pixels of region id ``r`` whose true class is ``k``.

    Args:
        regions: Region ids ``(H, W)`` in ``0 .. R-1``.
        mask: True classes ``(H, W)`` in ``0 .. K-1`` or ``ignore_index``.
    """
    regions, mask = np.asarray(regions).ravel(), np.asarray(mask).ravel()
    keep = (mask >= 0) & (mask < num_classes)
    if ignore_index is not None:
        keep &= mask != ignore_index
    pairs = regions[keep].astype(np.int64) * num_classes + mask[keep]
    return np.bincount(pairs, minlength=num_regions * num_classes).reshape(num_regions, num_classes)


def fit_mapping(confusion: np.ndarray) -> np.ndarray:
    """``int64 (R,)``: the class of each region id, by the rule of the module docstring.

    Example (two regions, truth mostly reversed: the polarity flips):
        >>> fit_mapping(np.array([[10, 90], [80, 20]])).tolist()
        [1, 0]
    """
    from scipy.optimize import linear_sum_assignment

    confusion = np.asarray(confusion, dtype=np.int64)
    mapping = confusion.argmax(axis=1)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    mapping[rows] = cols
    return mapping.astype(np.int64)
