"""The model registry: ``@register_model`` fills it, ``create_model`` and ``list_models`` read it.

Every model built through :func:`create_model` remembers how it was built
(``model.pixelwise_config``), so :func:`pixelwise.models.io.save_model` can store the
recipe with the weights and :func:`pixelwise.models.io.load_model` rebuild it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry

ModelBuilder = Callable[..., nn.Module]

MODELS: Registry[ModelBuilder] = Registry("model")

TASKS_OF_MODELS: dict[str, str] = {}
"""The task each registered model solves (``"semantic"``, ``"instance"``, ``"panoptic"``)."""


def register_model(name: str, *, task: str = "semantic") -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a builder ``fn(*, num_classes, in_channels=3, ...) -> nn.Module`` under ``name``.

    Args:
        name: The name :func:`create_model` takes.
        task: What the model predicts; decides its training losses, evaluator and predictions.
    """
    TASKS_OF_MODELS[name] = task
    return MODELS.register(name)


def model_task(name: str) -> str:
    """The task of a registered model; ``"semantic"`` for a name the registry does not hold."""
    _import_zoo()
    return TASKS_OF_MODELS.get(name, "semantic")


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    _import_zoo()
    return MODELS.names()


def create_model(name: str, *, num_classes: int, in_channels: int = 3, **options: Any) -> nn.Module:
    """Build a registered segmentation model.

    Args:
        name: A name from :func:`list_models` (e.g. ``"unet"``, ``"deeplabv3plus"``).
        num_classes: Output channels of the logits.
        in_channels: Channels of the input images.
        **options: The builder's own keyword options (``encoder``, ``pretrained``,
            ``freeze_encoder``, ``upsampling``, widths, ...); see each model's docstring.

    Returns:
        An ``nn.Module`` mapping ``(N, in_channels, H, W)`` to logits ``(N, num_classes, H, W)``
        for any ``H, W``. Its ``pixelwise_config`` holds every builder argument (defaults
        included), so :func:`pixelwise.models.io.load_model` rebuilds the same network.

    Raises:
        UnknownNameError: ``name`` is not registered; the message lists the valid names.
        PixelwiseError: An option the model does not take, or a bad value.
    """
    _import_zoo()
    builder = MODELS.get(name)
    if num_classes < 1 or in_channels < 1:
        raise PixelwiseError(f"num_classes and in_channels must be >= 1, got {num_classes} and {in_channels}")
    signature = inspect.signature(builder)
    unknown = sorted(set(options) - set(signature.parameters))
    if unknown:
        valid = ", ".join(p for p in signature.parameters if p not in ("num_classes", "in_channels"))
        raise PixelwiseError(f"model {name!r} has no option {', '.join(unknown)}; its options are: {valid}")
    arguments = signature.bind(num_classes=num_classes, in_channels=in_channels, **options)
    arguments.apply_defaults()
    _check_sizes(name, arguments.arguments)
    model = builder(**arguments.arguments)
    model.pixelwise_config = {"name": name, **arguments.arguments}
    return model


def _check_sizes(name: str, arguments: dict[str, Any]) -> None:
    """Widths and depths (``*channels``, ``depth``) are positive integers, refused here rather than deep in a
    convolution's first forward pass."""
    for key, value in arguments.items():
        if not (key.endswith("channels") or key == "depth") or value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
            raise PixelwiseError(f"model {name!r}: {key}={value!r} must be a positive integer (or a list of them)")


def _import_zoo() -> None:
    # Importing the package registers every architecture file.
    import pixelwise.models  # noqa: F401
