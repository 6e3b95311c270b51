"""pixelwise: deep image segmentation for PyTorch.

The Python API is the same one the ``pixelwise`` command line calls.
"""

from pixelwise.data import create_dataset, list_datasets
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import ConfusionMatrix, SegmentationScores, confusion_matrix, scores_from_confusion
from pixelwise.models import create_model, list_models

__all__ = [
    "ConfusionMatrix",
    "PixelwiseError",
    "SegmentationScores",
    "confusion_matrix",
    "create_dataset",
    "create_model",
    "list_datasets",
    "list_models",
    "scores_from_confusion",
]
