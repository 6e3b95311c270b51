"""Save a model with the recipe that built it; load it back without knowing its class.

The file is a ``torch.save`` dict::

    {"format": "pixelwise.model", "version": 1, "config": model.pixelwise_config, "state_dict": ...}

``config`` holds only plain values (names, numbers, tuples), so it loads with
``torch.load(..., weights_only=True)``: reading a model file never runs code from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.registry import create_model
from pixelwise.utils.atomic import atomic_path

FORMAT = "pixelwise.model"
VERSION = 1


def save_model(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the weights and ``model.pixelwise_config`` to ``path`` atomically.

    Args:
        model: A model built by :func:`pixelwise.create_model`.
        path: Destination file (conventionally ``.pt``); its folder is created.

    Returns:
        The path written.

    Raises:
        PixelwiseError: The model was not built by ``create_model`` (no recipe to save).
    """
    config = getattr(model, "pixelwise_config", None)
    if config is None:
        raise PixelwiseError(
            f"cannot save a {type(model).__name__} without pixelwise_config; build it with pixelwise.create_model"
        )
    state_dict = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "config": dict(config), "state_dict": state_dict}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_model_file(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a file written by :func:`save_model` (weights only, no code)."""
    path = Path(path)
    if not path.is_file():
        raise PixelwiseError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated file, foreign pickle, ...
        raise PixelwiseError(f"could not read model file {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PixelwiseError(f"{path} is not a pixelwise model file (write one with pixelwise.save_model)")
    if payload.get("version", 0) > VERSION:
        raise PixelwiseError(f"{path} was written by a newer pixelwise (format {payload['version']}); upgrade pixelwise")
    return payload


def load_model(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_model` and load its weights.

    No weights are downloaded: the encoder is built with ``pretrained=None`` and then receives
    the saved weights.

    Args:
        path: A file written by :func:`save_model`.
        map_location: Where to put the weights (``"cpu"``, ``"cuda"``, a device).

    Returns:
        The model, in eval mode, on ``map_location``.
    """
    payload = read_model_file(path, map_location=map_location)
    model = rebuild_model(payload["config"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        name = payload["config"].get("name")
        raise PixelwiseError(f"weights in {path} do not fit model {name!r}: {str(error).splitlines()[0]}") from None
    return model.to(map_location).eval()


def rebuild_model(config: dict[str, Any]) -> nn.Module:
    """Build the network a ``pixelwise_config`` describes, with random weights and without downloading.

    ``pretrained`` is set to ``None``: the weights that matter are loaded afterwards, and a
    model trained from ImageNet weights must load offline.

    Args:
        config: ``model.pixelwise_config`` (``{"name": ..., "num_classes": ..., ...}``).
    """
    options = dict(config)
    if "name" not in options:
        raise PixelwiseError("model config has no 'name'; it must come from model.pixelwise_config")
    name = options.pop("name")
    if "pretrained" in options:
        options["pretrained"] = None
    model = create_model(name, **options)
    model.pixelwise_config = dict(config)  # keep where the weights first came from
    return model
