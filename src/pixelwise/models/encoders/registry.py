"""The encoder registry: pixelwise's own encoders by name, and every timm model by its timm name.

``create_encoder`` is what every architecture calls, so all of them accept the same encoder
names and the same ``pretrained``, ``freeze`` and ``output_stride`` options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import timm

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import Encoder
from pixelwise.registry import Registry

EncoderBuilder = Callable[..., Encoder]

ENCODERS: Registry[EncoderBuilder] = Registry("encoder")


def register_encoder(name: str) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Register ``fn(*, in_channels, pretrained, output_stride, multi_grid, **options) -> Encoder``."""
    return ENCODERS.register(name)


def list_encoders() -> list[str]:
    """pixelwise's own encoders and the papers' timm encoders; any other timm name works too."""
    from pixelwise.models.encoders.mobilenet import MOBILENET_ENCODERS
    from pixelwise.models.encoders.resnet import RESNET_ENCODERS

    return sorted({*ENCODERS.names(), *RESNET_ENCODERS, *MOBILENET_ENCODERS})


def create_encoder(
    name: str,
    *,
    in_channels: int = 3,
    pretrained: str | None = None,
    output_stride: int | None = None,
    multi_grid: Sequence[int] | None = None,
    freeze: bool = False,
    options: dict[str, Any] | None = None,
) -> Encoder:
    """Build an encoder by name.

    Args:
        name: ``vgg16``, ``vgg16_bn``, ``mobilenetv2_tf`` or any ``timm.list_models()`` name
            (``resnet18`` ... ``resnet101``, ``mobilenetv3_large_100``, ``efficientnet_lite0``, ...).
        in_channels: Input channels.
        pretrained: ``None`` (random), ``"imagenet"`` (downloaded by timm/torchvision) or a local
            ``.pth``/``.safetensors`` file.
        output_stride: 32 (default), 16 or 8: dilate the last stages instead of striding them.
        multi_grid: DeepLabv3 unit rates for the last ResNet stage, e.g. ``(1, 2, 4)``.
        freeze: Freeze the encoder (no gradients, BatchNorm statistics fixed).
        options: The encoder's own extra options, e.g. ``{"base_channels": 16}`` for ``vgg16``
            or ``{"drop_path_rate": 0.1}`` for a timm model.

    Returns:
        An :class:`~pixelwise.models.base.Encoder` with ``out_channels`` and ``reductions``.

    Raises:
        PixelwiseError: Unknown name, an option the encoder does not take, or weights that
            cannot be fetched or read.
    """
    import pixelwise.models.encoders  # noqa: F401  (registers pixelwise's own encoders)
    from pixelwise.models.encoders.timm_encoder import TimmEncoder

    if name in ENCODERS:
        builder: EncoderBuilder = ENCODERS.get(name)
    elif timm.is_model(name):
        builder = lambda **kwargs: TimmEncoder(name, **kwargs)  # noqa: E731
    else:
        close = timm.list_models(f"*{name}*")[:8]
        hint = f"; timm names like it: {', '.join(close)}" if close else ""
        raise PixelwiseError(
            f"unknown encoder {name!r}; use one of {', '.join(list_encoders())} or any timm model name{hint}"
        )
    try:
        encoder = builder(
            in_channels=in_channels, pretrained=pretrained, output_stride=output_stride, multi_grid=multi_grid,
            **(options or {}),
        )
    except TypeError as error:
        if "unexpected keyword argument" not in str(error):
            raise
        raise PixelwiseError(f"encoder {name!r} does not take the option(s) {sorted(options or {})}: {error}") from None
    if freeze:
        encoder.freeze()
    return encoder
