"""A semantic network behind any backend: normalise, apply the strategy, return the logits."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from pixelwise.inference.predictor import SemanticPredictor
from pixelwise.inference.preprocess import normalize
from pixelwise.inference.strategies import Strategy
from pixelwise.modelfile.spec import ModelSpec


class Backend(Protocol):
    """Runs the network: normalised float images ``(N, C, h, w)`` -> logits ``(N, K, h, w)``."""

    def prepare(self, x: Tensor) -> Tensor:
        """Put a normalised CPU batch where and how the backend reads it (device, memory format)."""

    def __call__(self, x: Tensor) -> Tensor: ...


class NetworkPredictor(SemanticPredictor):
    """A segmentation network run by ``backend`` with the preprocessing its model file records.

    Args:
        backend: An eager PyTorch model (:class:`~pixelwise.inference.backends.torch.TorchBackend`), an
            ONNX Runtime session (:class:`~pixelwise.inference.backends.onnxruntime.OnnxBackend`), ...
        spec: The model file's description (labels, channels, mean/std, working scale).
        strategy: How the network is applied (default: at the file's scale, no test-time augmentation).
    """

    def __init__(self, *, backend: Backend, spec: ModelSpec, strategy: Strategy | None = None) -> None:
        self.backend = backend
        self.spec = spec
        self.labels = spec.labels
        self.in_channels = spec.preprocess.in_channels
        self.strategy = strategy or Strategy(scale=spec.preprocess.input_scale, short_side=spec.preprocess.input_size)

    @torch.no_grad()
    def class_scores(self, images: Tensor) -> Tensor:
        x = self.backend.prepare(normalize(images, self.spec.preprocess))  # (N, C, H, W) float
        return self.strategy(self.backend, x).float().cpu()  # (N, K, H, W)
