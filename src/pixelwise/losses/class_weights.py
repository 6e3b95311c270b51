"""Class weights from label statistics: median-frequency balancing and inverse frequency.

Median-frequency balancing is the weighting SegNet used on CamVid (Badrinarayanan et al.
2017, https://arxiv.org/abs/1511.00561), defined by Eigen & Fergus (2015,
https://arxiv.org/abs/1411.4734): ``freq(c)`` is the number of pixels of class ``c`` divided
by the total number of pixels in the images where ``c`` is present, and
``weight(c) = median(freq) / freq(c)``. Rare classes get weights above 1, common ones below.

Only labelled pixels count: pixels equal to ``ignore_index`` are left out of every count,
including the "total pixels of an image".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.labels import check_labels


@dataclass(frozen=True)
class ClassPixelStatistics:
    """Label counts over a set of masks.

    Attributes:
        pixel_counts: ``(C,)`` int64, labelled pixels of each class.
        image_pixel_counts: ``(C,)`` int64, labelled pixels of all images in which the class occurs.
        image_counts: ``(C,)`` int64, number of images in which the class occurs.
        num_images: Number of masks read.
    """

    pixel_counts: Tensor
    image_pixel_counts: Tensor
    image_counts: Tensor
    num_images: int


def class_pixel_statistics(
    masks: Iterable[Tensor | np.ndarray],
    *,
    num_classes: int,
    ignore_index: int | None = IGNORE_INDEX,
) -> ClassPixelStatistics:
    """Count pixels per class (one ``bincount`` per mask).

    Args:
        masks: One label mask per image, ``(H, W)`` or ``(1, H, W)``, tensor or array, e.g.
            ``(dataset.load(i)[1] for i in range(len(dataset)))``.
        num_classes: Number of classes ``C``; labels are ``0 .. C-1``.
        ignore_index: Label left out of every count (``None``: none).

    Returns:
        The counts needed by :func:`median_frequency_weights` and :func:`inverse_frequency_weights`.

    Raises:
        ValueError: A mask holds a batch of images; :class:`~pixelwise.data.labels.LabelError`
            (a ``ValueError``): a label outside ``0 .. C-1`` that is not the ignore index.
    """
    pixel_counts = torch.zeros(num_classes, dtype=torch.int64)
    image_pixel_counts = torch.zeros(num_classes, dtype=torch.int64)
    image_counts = torch.zeros(num_classes, dtype=torch.int64)
    num_images = 0
    for index, mask in enumerate(masks):
        mask = torch.as_tensor(mask)
        if mask.ndim == 3 and mask.shape[0] == 1:
            mask = mask[0]
        if mask.ndim != 2:
            raise ValueError(f"mask {index} has shape {tuple(mask.shape)}; pass one (H, W) mask per image")
        labels = mask.reshape(-1).long()
        check_labels(labels, num_classes=num_classes, ignore_index=ignore_index, source=f"mask {index}",
                     fix="check num_classes and ignore_index against the dataset")
        if ignore_index is not None:
            labels = labels[labels != ignore_index]
        counts = torch.bincount(labels, minlength=num_classes)  # (C,)
        present = counts > 0
        pixel_counts += counts
        image_pixel_counts += present * labels.numel()
        image_counts += present
        num_images += 1
    return ClassPixelStatistics(pixel_counts, image_pixel_counts, image_counts, num_images)


def median_frequency_weights(
    *,
    pixel_counts: Tensor | np.ndarray,
    image_pixel_counts: Tensor | np.ndarray,
    absent_weight: float = 0.0,
    power: float = 1.0,
) -> Tensor:
    """Median-frequency class weights (Eigen & Fergus 2015; SegNet on CamVid).

    ``freq(c) = pixel_counts[c] / image_pixel_counts[c]`` and
    ``weight(c) = (median(freq) / freq(c)) ** power``, where the median is taken over the classes
    that occur (the mean of the two middle values for an even count, as ``numpy.median``).
    ``power=0.5`` softens the weighting: on CamVid the full weights span a factor of ~50 between
    road and bicyclist, which buys rare-class recall with a large loss of precision; the square
    root (a factor of ~7) keeps most of the recall and much of the precision.

    Args:
        pixel_counts: ``(C,)`` labelled pixels of each class (:class:`ClassPixelStatistics`).
        image_pixel_counts: ``(C,)`` labelled pixels of the images in which each class occurs.
        absent_weight: Weight of a class that never occurs (its frequency is undefined); the
            default 0 makes it contribute nothing.
        power: Exponent applied to each weight (1: SegNet's weights; 0.5: their square root).

    Returns:
        ``(C,)`` float32 weights.

    Raises:
        ValueError: No class occurs, or the two counts disagree in length.
    """
    counts = torch.as_tensor(pixel_counts, dtype=torch.float64)
    totals = torch.as_tensor(image_pixel_counts, dtype=torch.float64)
    if counts.shape != totals.shape or counts.ndim != 1:
        raise ValueError(
            f"pixel_counts {tuple(counts.shape)} and image_pixel_counts {tuple(totals.shape)} must both be (C,)"
        )
    present = counts > 0
    if not bool(present.any()):
        raise ValueError("no class occurs in the masks; cannot compute median-frequency weights")
    frequency = counts[present] / totals[present]
    median = frequency.quantile(0.5)  # interpolates: mean of the two middle values, as numpy.median
    weights = torch.full_like(counts, float(absent_weight))
    weights[present] = (median / frequency) ** power
    return weights.float()


def inverse_frequency_weights(*, pixel_counts: Tensor | np.ndarray, absent_weight: float = 0.0) -> Tensor:
    """Inverse-frequency ("balanced") class weights: ``total / (K * pixel_counts[c])``.

    ``K`` is the number of classes that occur, so a perfectly balanced label set gets all
    weights 1 (the same rule as scikit-learn's ``class_weight="balanced"``).

    Args:
        pixel_counts: ``(C,)`` labelled pixels of each class.
        absent_weight: Weight of a class that never occurs.

    Returns:
        ``(C,)`` float32 weights.
    """
    counts = torch.as_tensor(pixel_counts, dtype=torch.float64)
    present = counts > 0
    if not bool(present.any()):
        raise ValueError("no class occurs in the masks; cannot compute inverse-frequency weights")
    weights = torch.full_like(counts, float(absent_weight))
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.float()
