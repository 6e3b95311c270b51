"""The one model file format: weights plus everything inference needs (:class:`ModelSpec`)."""

from pixelwise.modelfile.file import ModelFile, read_model_file, write_model_file
from pixelwise.modelfile.load import load_model, model_from_file, read_any, rebuild_model, save_model
from pixelwise.modelfile.pretrained import read_pretrained, save_pretrained
from pixelwise.modelfile.spec import Labels, ModelSpec, Preprocess, spec_for_model

__all__ = [
    "Labels",
    "ModelFile",
    "ModelSpec",
    "Preprocess",
    "load_model",
    "model_from_file",
    "read_any",
    "read_model_file",
    "read_pretrained",
    "rebuild_model",
    "save_model",
    "save_pretrained",
    "spec_for_model",
    "write_model_file",
]
