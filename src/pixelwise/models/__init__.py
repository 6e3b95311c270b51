"""Segmentation architectures. Importing this package registers every model file.

| name | paper | file |
| --- | --- | --- |
| ``fcn32s``, ``fcn16s``, ``fcn8s`` | Long et al. 2015 | ``fcn.py`` |
| ``unet`` | Ronneberger et al. 2015 (+ any encoder) | ``unet.py`` |
| ``unet_pix2pix`` | TensorFlow tutorial: MobileNetV2 + pix2pix | ``unet_pix2pix.py`` |
| ``segnet`` | Badrinarayanan et al. 2017 (+ Bayesian) | ``segnet.py`` |
| ``pspnet`` | Zhao et al. 2017 | ``pspnet.py`` |
| ``deeplabv3`` | Chen et al. 2017 | ``deeplabv3.py`` |
| ``deeplabv3plus`` | Chen et al. 2018 | ``deeplabv3plus.py`` |
| ``lraspp`` | Howard et al. 2019 (MobileNetV3) | ``lraspp.py`` |
| ``maskrcnn``, ``maskrcnn_r18`` | He et al. 2017 (instance segmentation, torchvision) | ``maskrcnn.py`` |
| ``panoptic_fpn`` | Kirillov et al. 2019 (panoptic: Mask R-CNN + a semantic FPN branch) | ``panoptic_fpn.py`` |
"""

from pixelwise.models import (  # noqa: F401  (each file registers its models)
    deeplabv3,
    deeplabv3plus,
    fcn,
    lraspp,
    maskrcnn,
    panoptic_fpn,
    pspnet,
    segnet,
    unet,
    unet_pix2pix,
)
from pixelwise.models.base import Encoder, SegmentationModel
from pixelwise.models.encoders import create_encoder, list_encoders
from pixelwise.models.registry import MODELS, create_model, list_models, register_model

__all__ = [
    "MODELS",
    "Encoder",
    "SegmentationModel",
    "create_encoder",
    "create_model",
    "list_encoders",
    "list_models",
    "register_model",
]
