"""Segmentation losses: pure functions first, thin ``nn.Module`` wrappers second, one registry.

Importing this package imports (and so registers) every loss file.

Every loss takes logits ``(N, C, H, W)`` and an ``int64`` target ``(N, H, W)``; pixels equal
to ``ignore_index`` (default :data:`pixelwise.constants.IGNORE_INDEX`, 255; ``None``: every
pixel counts) add nothing to the loss and get no gradient.

Example:
    >>> from pixelwise.losses import create_loss
    >>> criterion = create_loss("ce", class_weights=[0.5, 2.0], label_smoothing=0.1)
"""

from pixelwise.losses.bce_dice import BCEDiceLoss, bce_dice_loss, binary_cross_entropy
from pixelwise.losses.class_weights import (
    ClassPixelStatistics,
    class_pixel_statistics,
    inverse_frequency_weights,
    median_frequency_weights,
)
from pixelwise.losses.combined import CEDiceLoss
from pixelwise.losses.cross_entropy import CrossEntropyLoss, cross_entropy
from pixelwise.losses.dice import DiceLoss, binary_dice_loss, dice_loss, soft_dice_scores
from pixelwise.losses.focal import FocalLoss, focal_loss
from pixelwise.losses.lovasz import LovaszSoftmaxLoss, lovasz_grad, lovasz_softmax
from pixelwise.losses.ohem import OhemCrossEntropyLoss, ohem_cross_entropy
from pixelwise.losses.registry import LOSSES, create_loss, list_losses, loss_options, register_loss

__all__ = [
    "LOSSES",
    "BCEDiceLoss",
    "CEDiceLoss",
    "ClassPixelStatistics",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalLoss",
    "LovaszSoftmaxLoss",
    "OhemCrossEntropyLoss",
    "bce_dice_loss",
    "binary_cross_entropy",
    "binary_dice_loss",
    "class_pixel_statistics",
    "create_loss",
    "cross_entropy",
    "dice_loss",
    "focal_loss",
    "inverse_frequency_weights",
    "list_losses",
    "loss_options",
    "lovasz_grad",
    "lovasz_softmax",
    "median_frequency_weights",
    "ohem_cross_entropy",
    "register_loss",
    "soft_dice_scores",
]
