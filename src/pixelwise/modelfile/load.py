"""``pixelwise.load_model`` and ``pixelwise.save_model``: one loader for every kind of model file."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.file import ModelFile, read_model_file, write_model_file
from pixelwise.modelfile.pretrained import CONFIG_NAME, WEIGHTS_NAME, read_pretrained
from pixelwise.modelfile.spec import ModelSpec, spec_for_model


def read_any(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> ModelFile:
    """Read a ``.pt`` model file (``best.pt``, ``last.pt``, :func:`save_model`'s) or a pretrained folder.

    Raises:
        PixelwiseError: An ONNX file (it holds no PyTorch module: use :class:`pixelwise.Predictor`),
            or any problem :func:`~pixelwise.modelfile.file.read_model_file` names.
    """
    path = Path(path)
    if path.suffix == ".onnx":
        raise PixelwiseError(
            f"{path} is an ONNX file: it runs in onnxruntime, not as a PyTorch module; "
            "use pixelwise.Predictor.from_file (or pixelwise predict --checkpoint) instead"
        )
    if path.is_dir() or path.name in (CONFIG_NAME, WEIGHTS_NAME) or path.suffix == ".safetensors":
        return read_pretrained(path)
    return read_model_file(path, map_location=map_location)


def rebuild_model(spec: ModelSpec) -> nn.Module:
    """The network a spec describes, with random weights, never downloading (``pretrained`` is dropped:
    the weights that matter are loaded next, and a model trained from ImageNet weights must load offline)."""
    from pixelwise.models.registry import create_model

    recipe = spec.recipe()
    name = recipe.pop("name")
    if "pretrained" in recipe:
        recipe["pretrained"] = None
    model = create_model(name, **recipe)
    model.pixelwise_config = {"name": name, **spec.model_options, "num_classes": spec.labels.num_classes,
                              "in_channels": spec.preprocess.in_channels}  # where the weights first came from
    model.pixelwise_spec = spec
    return model


def model_from_file(contents: ModelFile) -> nn.Module:
    """Rebuild the network of a read model file and load its weights."""
    model = rebuild_model(contents.spec)
    try:
        model.load_state_dict(contents.state_dict)
    except RuntimeError as error:
        raise PixelwiseError(
            f"weights in {contents.path} do not fit model {contents.spec.model!r} with options "
            f"{contents.spec.model_options}: {str(error).splitlines()[0]}"
        ) from None
    return model


def load_model(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model a file describes and load its weights, in eval mode.

    Works on ``best.pt`` and ``last.pt`` from :func:`pixelwise.train`, files from :func:`save_model`,
    ``save_pretrained`` folders (``model.safetensors`` + ``config.json``) and the earlier formats.
    No weights are downloaded; reading never runs code from the file. The file's
    :class:`~pixelwise.modelfile.spec.ModelSpec` is on ``model.pixelwise_spec``.

    Args:
        path: The file or folder.
        map_location: Where to put the weights (``"cpu"``, ``"cuda"``, a device).
    """
    return model_from_file(read_any(path, map_location=map_location)).to(map_location).eval()


def save_model(model: nn.Module, path: str | os.PathLike[str], *, spec: ModelSpec | None = None) -> Path:
    """Write the weights and the spec to ``path`` atomically (a ``.pt`` model file without training state).

    Args:
        model: A model built by :func:`pixelwise.create_model` or loaded by :func:`load_model`.
        path: Destination file; its folder is created.
        spec: What to record; default: the spec the model was loaded with, else one made from its
            recipe (labels ``class_0``...; pass a spec to record class names, preprocessing, dataset).
    """
    spec = spec or getattr(model, "pixelwise_spec", None) or spec_for_model(model)
    from pixelwise.engine.checkpoint import unwrap_model

    return write_model_file(path, spec=spec, state_dict=unwrap_model(model).state_dict())
