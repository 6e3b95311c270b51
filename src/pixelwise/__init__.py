"""pixelwise: deep image segmentation for PyTorch.

The Python API is the same one the ``pixelwise`` command line calls::

    import pixelwise
    model = pixelwise.create_model("unet", num_classes=4, base_channels=16)
    result = pixelwise.train(pixelwise.TrainConfig(dataset="shapes", epochs=5, out="runs/shapes"))
    scores = pixelwise.evaluate(checkpoint="runs/shapes/best.pt", split="val")
    predictor = pixelwise.Predictor.from_file("runs/shapes/best.pt")
    prediction = predictor("image.png")  # .label_map (H, W), .probabilities (K, H, W)

Names are imported on first use (PEP 562), so ``import pixelwise`` stays light: it loads
neither torch's training stack nor matplotlib, TensorBoard or onnx until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pixelwise.errors import PixelwiseError

_EXPORTS = {
    "ConfusionMatrix": "pixelwise.metrics",
    "SegmentationScores": "pixelwise.metrics",
    "confusion_matrix": "pixelwise.metrics",
    "format_table": "pixelwise.metrics",
    "scores_from_confusion": "pixelwise.metrics",
    "score_folders": "pixelwise.metrics.folders",
    "create_dataset": "pixelwise.data",
    "list_datasets": "pixelwise.data",
    "create_instance_dataset": "pixelwise.data.instances",
    "TrainConfig": "pixelwise.engine.config",
    "load_config": "pixelwise.engine.config",
    "run_demo": "pixelwise.engine.demo",
    "evaluate": "pixelwise.engine.evaluate",
    "predict": "pixelwise.engine.predict",
    "train": "pixelwise.engine.train",
    "export_onnx": "pixelwise.export.onnx",
    "create_loss": "pixelwise.losses",
    "list_losses": "pixelwise.losses",
    "create_model": "pixelwise.models",
    "list_models": "pixelwise.models",
    "list_encoders": "pixelwise.models.encoders",
    "ModelSpec": "pixelwise.modelfile",
    "load_model": "pixelwise.modelfile",
    "save_model": "pixelwise.modelfile",
    "save_pretrained": "pixelwise.modelfile",
    "Predictor": "pixelwise.inference",
    "SemanticPrediction": "pixelwise.inference",
    "InstancePrediction": "pixelwise.inference",
    "PanopticPrediction": "pixelwise.inference",
    "Strategy": "pixelwise.inference",
    "Task": "pixelwise.tasks",
    "list_tasks": "pixelwise.tasks",
}

__all__ = [
    "ConfusionMatrix",
    "InstancePrediction",
    "ModelSpec",
    "PanopticPrediction",
    "PixelwiseError",
    "Predictor",
    "SegmentationScores",
    "SemanticPrediction",
    "Strategy",
    "Task",
    "TrainConfig",
    "confusion_matrix",
    "create_dataset",
    "create_instance_dataset",
    "create_loss",
    "create_model",
    "evaluate",
    "export_onnx",
    "format_table",
    "list_datasets",
    "list_encoders",
    "list_losses",
    "list_models",
    "list_tasks",
    "load_config",
    "load_model",
    "predict",
    "run_demo",
    "save_model",
    "save_pretrained",
    "score_folders",
    "scores_from_confusion",
    "train",
]


assert set(__all__) == {*_EXPORTS, "PixelwiseError"}  # one list of names, spelled twice for tools that read __all__


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pixelwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what type checkers and IDEs see
    from pixelwise.data import create_dataset, list_datasets
    from pixelwise.engine.config import TrainConfig, load_config
    from pixelwise.engine.demo import run_demo
    from pixelwise.engine.evaluate import evaluate
    from pixelwise.engine.predict import predict
    from pixelwise.engine.train import train
    from pixelwise.export.onnx import export_onnx
    from pixelwise.inference import Predictor, SemanticPrediction, Strategy
    from pixelwise.losses import create_loss, list_losses
    from pixelwise.metrics import (
        ConfusionMatrix,
        SegmentationScores,
        confusion_matrix,
        format_table,
        scores_from_confusion,
    )
    from pixelwise.metrics.folders import score_folders
    from pixelwise.modelfile import ModelSpec, load_model, save_model, save_pretrained
    from pixelwise.models import create_model, list_models
    from pixelwise.models.encoders import list_encoders
    from pixelwise.tasks import Task, list_tasks
