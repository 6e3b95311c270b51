"""Where encoder weights come from: nowhere (random), ImageNet through the libraries' own hubs, or a local file.

``pretrained`` is one of:

* ``None``: random initialisation, nothing is read or downloaded (the default everywhere);
* ``"imagenet"``: timm's (or torchvision's) own download-and-cache code fetches the weights;
  without a network this raises a one-line :class:`PixelwiseError` that says how to load a file instead;
* a path to a ``.pth``/``.pt``/``.bin``/``.safetensors`` file, read offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import timm.models
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError

IMAGENET = "imagenet"


def weights_file(pretrained: str) -> Path:
    """The local weights file named by ``pretrained``, checked to exist."""
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise PixelwiseError(
            f"pretrained weights file {path} does not exist; pass pretrained=None, {IMAGENET!r} "
            "or the path of a .pth/.safetensors file"
        )
    return path


def download_error(name: str) -> PixelwiseError:
    """The error for ImageNet weights that could not be fetched."""
    return PixelwiseError(
        f"could not download ImageNet weights for {name} (no network?); "
        "pass pretrained=PATH to a local weights file"
    )


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a state dict from ``.safetensors`` or a ``torch.save`` file (loaded with ``weights_only=True``).

    A checkpoint dict holding ``state_dict`` or ``model`` is unwrapped and a DataParallel
    ``module.`` prefix removed (timm's reader does both).
    """
    try:
        return timm.models.load_state_dict(str(path), use_ema=False, weights_only=True)
    except Exception as error:  # a truncated, foreign or non-tensor file: say which file
        raise PixelwiseError(f"could not read weights file {path}: {error}".splitlines()[0]) from None


def create_timm_model(name: str, *, in_channels: int, pretrained: str | None, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` with pixelwise's ``pretrained`` values and one-line errors.

    Args:
        name: A timm model name (``timm.list_models()``).
        in_channels: Input channels; timm adapts 3-channel pretrained weights to other counts.
        pretrained: ``None``, ``"imagenet"`` or a local weights file (a checkpoint of the timm model).
        **kwargs: Passed to ``timm.create_model`` (``features_only``, ``output_stride``, ...).
    """
    options: dict[str, Any] = {"in_chans": in_channels, **kwargs}
    if pretrained is None:
        options["pretrained"] = False
    elif pretrained == IMAGENET:
        options["pretrained"] = True
    else:
        options["pretrained"] = True
        options["pretrained_cfg_overlay"] = {"file": str(weights_file(pretrained))}
    try:
        return timm.create_model(name, **options)
    except OSError:
        if pretrained is None:
            raise
        if pretrained == IMAGENET:
            raise download_error(name) from None
        raise PixelwiseError(f"could not read weights file {pretrained} for encoder {name}") from None
    except RuntimeError as error:  # timm: weights that do not fit the model, or none published for it
        if pretrained is None:
            raise
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise PixelwiseError(f"could not load {pretrained} weights into encoder {name}: {first_line}") from None
