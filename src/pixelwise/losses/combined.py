"""Cross-entropy + soft Dice: per-pixel calibration plus a region-overlap term.

CE alone under-serves small classes; Dice alone has noisy gradients early in training.
Their sum is a common default for multiclass segmentation.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.losses.cross_entropy import cross_entropy
from pixelwise.losses.dice import dice_loss
from pixelwise.losses.ohem import ohem_cross_entropy
from pixelwise.losses.registry import register_loss
from pixelwise.losses.targets import as_class_weights


@register_loss("ce_dice")
class CEDiceLoss(nn.Module):
    """``ce_weight * cross_entropy + dice_weight * dice_loss`` on the same logits (``C >= 2``;
    for one channel use ``"bce_dice"``).

    Args:
        class_weights: Optional per-class weights ``(C,)`` of the cross-entropy term.
        ignore_index: Label of pixels left out of both terms (``None``: none).
        label_smoothing: Label smoothing of the cross-entropy term.
        smooth: Smoothing term of the Dice term.
        ce_weight: Factor of the cross-entropy term.
        dice_weight: Factor of the Dice term.
        ohem_threshold: Mine hard pixels in the cross-entropy term (:func:`ohem_cross_entropy`):
            only pixels whose true class has a probability below this count (``None``: every pixel).
        ohem_min_kept: Least fraction of the batch's pixels the mined term keeps.
    """

    def __init__(
        self,
        *,
        class_weights: Tensor | Sequence[float] | None = None,
        ignore_index: int | None = IGNORE_INDEX,
        label_smoothing: float = 0.0,
        smooth: float = 1.0,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        ohem_threshold: float | None = None,
        ohem_min_kept: float = 1 / 16,
    ) -> None:
        super().__init__()
        self.register_buffer("class_weights", as_class_weights(class_weights), persistent=False)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.smooth = smooth
        self.ce_weight = ce_weight
        self.dice_weight = dice_weight
        if ohem_threshold is not None and label_smoothing:
            raise ValueError("ce_dice: ohem_threshold and label_smoothing do not combine; choose one")
        self.ohem_threshold = ohem_threshold
        self.ohem_min_kept = ohem_min_kept

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if self.ohem_threshold is None:
            ce = cross_entropy(
                logits,
                target,
                weight=self.class_weights,
                ignore_index=self.ignore_index,
                label_smoothing=self.label_smoothing,
            )
        else:
            ce = ohem_cross_entropy(
                logits, target, threshold=self.ohem_threshold, min_kept=self.ohem_min_kept,
                weight=self.class_weights, ignore_index=self.ignore_index,
            )
        dice = dice_loss(logits, target, ignore_index=self.ignore_index, smooth=self.smooth)
        return self.ce_weight * ce + self.dice_weight * dice
