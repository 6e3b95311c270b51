"""Encoders: the course's VGG16, timm's ResNets and MobileNets, and any other timm model.

Importing this package registers pixelwise's own encoders; timm names need no registration.
"""

from pixelwise.models.encoders import mobilenet, vgg  # noqa: F401  (registers)
from pixelwise.models.encoders.registry import ENCODERS, create_encoder, list_encoders, register_encoder
from pixelwise.models.encoders.timm_encoder import TimmEncoder
from pixelwise.models.encoders.vgg import VGG16Encoder

__all__ = ["ENCODERS", "TimmEncoder", "VGG16Encoder", "create_encoder", "list_encoders", "register_encoder"]
