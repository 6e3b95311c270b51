"""The loss registry: ``@register_loss`` fills it, ``create_loss`` and ``list_losses`` read it.

Every registered entry is an ``nn.Module`` class whose keyword-only ``__init__`` takes
``ignore_index`` and, if the loss can use them, ``class_weights``; any other option is the
class's own (``label_smoothing``, ``gamma``, ``smooth``, ...). Its ``forward(logits, target)``
returns a scalar.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor, nn

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry

LossClass = type[nn.Module]

LOSSES: Registry[LossClass] = Registry("loss")


def register_loss(name: str) -> Callable[[LossClass], LossClass]:
    """Register an ``nn.Module`` loss class under ``name``."""
    return LOSSES.register(name)


def list_losses() -> list[str]:
    """Names of every registered loss, sorted."""
    _import_losses()
    return LOSSES.names()


def loss_options(name: str) -> list[str]:
    """The keyword options the loss ``name`` accepts (besides ``ignore_index``), sorted."""
    _import_losses()
    parameters = inspect.signature(LOSSES.get(name)).parameters
    return sorted(key for key in parameters if key != "ignore_index")


def create_loss(
    name: str,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    class_weights: Tensor | Sequence[float] | None = None,
    **options: Any,
) -> nn.Module:
    """Build a registered loss.

    Args:
        name: A name from :func:`list_losses`: ``"ce"``, ``"dice"``, ``"ce_dice"``,
            ``"bce_dice"``, ``"focal"``, ``"lovasz"``.
        ignore_index: Label of pixels that add nothing to the loss (``None``: every pixel counts).
        class_weights: Per-class weights ``(C,)`` for the losses that take them
            (see :func:`loss_options`); passing them to another loss is an error rather than
            silently unused.
        **options: The loss class's own options, e.g. ``label_smoothing=0.1`` for ``"ce"``.

    Returns:
        An ``nn.Module`` whose ``forward(logits (N, C, H, W), target (N, H, W))`` returns a scalar.

    Raises:
        UnknownNameError: ``name`` is not registered; the message lists the valid names.
        PixelwiseError: An option (or ``class_weights``) the loss does not take.
    """
    _import_losses()
    loss_class = LOSSES.get(name)
    accepted = loss_options(name)
    if class_weights is not None and "class_weights" not in accepted:
        weighted = [other for other in LOSSES.names() if "class_weights" in loss_options(other)]
        raise PixelwiseError(
            f"loss {name!r} does not use class weights; drop them or pick a loss that does: {', '.join(weighted)}"
        )
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise PixelwiseError(
            f"loss {name!r} has no option {', '.join(map(repr, unknown))}; its options are: {', '.join(accepted)}"
        )
    if class_weights is not None:
        options["class_weights"] = class_weights
    return loss_class(ignore_index=ignore_index, **options)


def _import_losses() -> None:
    # Importing the package registers every loss file.
    import pixelwise.losses  # noqa: F401
