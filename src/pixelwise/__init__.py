"""pixelwise: deep image segmentation for PyTorch.

The Python API is the same one the ``pixelwise`` command line calls::

    import pixelwise
    model = pixelwise.create_model("unet", num_classes=4, base_channels=16)
    result = pixelwise.train(pixelwise.TrainConfig(dataset="shapes", epochs=5, out="runs/shapes"))
    scores = pixelwise.evaluate(checkpoint="runs/shapes/best.pt", dataset="shapes", split="val")
"""

from pixelwise.data import create_dataset, list_datasets
from pixelwise.engine.config import TrainConfig, load_config
from pixelwise.engine.demo import run_demo
from pixelwise.engine.evaluate import evaluate
from pixelwise.engine.predict import predict
from pixelwise.engine.train import train
from pixelwise.errors import PixelwiseError
from pixelwise.export.onnx import export_onnx
from pixelwise.losses import create_loss, list_losses
from pixelwise.metrics import (
    ConfusionMatrix,
    SegmentationScores,
    confusion_matrix,
    format_table,
    scores_from_confusion,
)
from pixelwise.metrics.folders import score_folders
from pixelwise.models import create_model, list_models
from pixelwise.models.encoders import list_encoders
from pixelwise.models.io import load_model, save_model

__all__ = [
    "ConfusionMatrix",
    "PixelwiseError",
    "SegmentationScores",
    "TrainConfig",
    "confusion_matrix",
    "create_dataset",
    "create_loss",
    "create_model",
    "evaluate",
    "export_onnx",
    "format_table",
    "list_datasets",
    "list_encoders",
    "list_losses",
    "list_models",
    "load_config",
    "load_model",
    "predict",
    "run_demo",
    "save_model",
    "score_folders",
    "scores_from_confusion",
    "train",
]
