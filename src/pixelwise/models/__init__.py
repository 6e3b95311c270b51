"""Segmentation architectures. Importing this package registers every model file."""

from pixelwise.models import unet  # noqa: F401  (registers)
from pixelwise.models.base import SegmentationModel
from pixelwise.models.registry import MODELS, create_model, list_models, register_model

__all__ = ["MODELS", "SegmentationModel", "create_model", "list_models", "register_model"]
