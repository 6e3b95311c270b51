"""Shareable weights: a folder of ``model.safetensors`` + ``config.json``.

This is the layout the Hugging Face Hub serves and segmentation_models_pytorch's
``save_pretrained`` / ``from_pretrained`` use: safetensors holds only tensors, so loading it can
never run code, and the JSON (the :class:`~pixelwise.modelfile.spec.ModelSpec` plus the format
tag) says how to rebuild the network. A folder downloaded from the Hub loads with
:func:`pixelwise.load_model` like any other model file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.file import FORMAT, VERSION, ModelFile, pixelwise_version
from pixelwise.modelfile.spec import ModelSpec, spec_for_model
from pixelwise.utils.atomic import atomic_path, atomic_write_json

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def save_pretrained(model: nn.Module, folder: str | os.PathLike[str], *, spec: ModelSpec | None = None) -> Path:
    """Write ``folder/model.safetensors`` and ``folder/config.json`` (each atomically).

    Args:
        model: A model built by :func:`pixelwise.create_model` or loaded by :func:`pixelwise.load_model`.
        folder: Destination folder (created).
        spec: What to record; default: the spec the model was loaded with, else one made from its recipe.
    """
    from safetensors.torch import save_file

    spec = spec or getattr(model, "pixelwise_spec", None) or spec_for_model(model)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PixelwiseError(f"{folder} is a file; save_pretrained writes a folder, choose another path")
    # safetensors refuses tensors that share memory (tied weights); each gets its own copy.
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    atomic_write_json(
        folder / CONFIG_NAME,
        {"format": FORMAT, "version": VERSION, "pixelwise_version": pixelwise_version(), "spec": spec.to_dict()},
    )
    return folder


def read_pretrained(folder: str | os.PathLike[str]) -> ModelFile:
    """Read a :func:`save_pretrained` folder (or its ``model.safetensors`` / ``config.json``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.is_file():
            raise PixelwiseError(f"{path} is missing; a pretrained folder holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PixelwiseError(f"{config_path} is not valid JSON ({error}); write it again with save_pretrained") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "spec" not in config:
        raise PixelwiseError(f"{config_path} is not a pixelwise config (no format {FORMAT!r} and spec); is it another tool's?")
    if int(config.get("version", 0)) > VERSION:
        raise PixelwiseError(f"{config_path} was written by a newer pixelwise (format {config['version']}); upgrade pixelwise")
    try:
        state_dict: dict[str, torch.Tensor] = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise PixelwiseError(f"{weights_path} is truncated or corrupt ({error}); download or save it again") from None
    return ModelFile(spec=ModelSpec.from_dict(config["spec"], where=str(config_path)), state_dict=state_dict, path=folder)
