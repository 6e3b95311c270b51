"""One front door for inference: a :class:`Predictor` owns pre- and post-processing; strategies
(whole image, resize, sliding windows, TTA) and backends (eager PyTorch, torch.compile, ONNX Runtime,
OpenVINO fp32/int8) are its options."""

from pixelwise.inference.backends.registry import list_backends
from pixelwise.inference.load import load_predictor
from pixelwise.inference.network import NetworkPredictor
from pixelwise.inference.prediction import (
    InstancePrediction,
    PanopticPrediction,
    Prediction,
    SemanticPrediction,
)
from pixelwise.inference.predictor import Predictor, SemanticPredictor
from pixelwise.inference.strategies import Strategy, forward_at_scale

__all__ = [
    "NetworkPredictor",
    "InstancePrediction",
    "PanopticPrediction",
    "Prediction",
    "Predictor",
    "SemanticPrediction",
    "SemanticPredictor",
    "Strategy",
    "forward_at_scale",
    "list_backends",
    "load_predictor",
]
