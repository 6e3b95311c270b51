"""A semantic network behind any backend: normalise, apply the strategy (whole image or sliding windows), return
the logits, or for windows the label map band by band."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from pixelwise.inference.prediction import SemanticPrediction
from pixelwise.inference.predictor import SemanticPredictor
from pixelwise.inference.preprocess import normalize
from pixelwise.inference.sliding import labels_from_bands, stitch_scores
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
        if self.strategy.window is not None:  # windows normalise their own crops: no float copy of the image
            return torch.stack([stitch_scores(self._bands(image), height=image.shape[-2]) for image in images])
        x = self.backend.prepare(normalize(images, self.spec.preprocess))  # (N, C, H, W) float
        return self.strategy(self.backend, x).float().cpu()  # (N, K, H, W)

    @torch.no_grad()
    def predict_batch(self, images: Tensor, *, probabilities: bool = True) -> list[SemanticPrediction]:
        """With sliding windows, each image's label map is filled a band of rows at a time, in the smallest
        integer type that holds the classes (``uint8`` up to 256), and its probabilities only when asked for:
        memory bounded by the window, not the image (:mod:`~pixelwise.inference.sliding`)."""
        if self.strategy.window is None:
            return super().predict_batch(images, probabilities=probabilities)
        predictions = []
        for image in images:  # (C, H, W) uint8
            label_map, probs = labels_from_bands(self._bands(image), height=image.shape[-2], probabilities=probabilities)
            predictions.append(SemanticPrediction(label_map=label_map, probabilities=probs, class_names=self.labels.class_names))
        return predictions

    def _bands(self, image: Tensor):
        """``(first row, scores (K, rows, W))`` bands of one ``uint8`` image ``(C, H, W)`` in sliding windows."""
        preprocess, backend = self.spec.preprocess, self.backend
        return self.strategy.bands(
            image, prepare=lambda crops: normalize(crops, preprocess), forward=lambda x: backend(backend.prepare(x)).float().cpu()
        )
