"""The Predictor contract: one object turns an image into a prediction and owns all pre/post-processing.

``evaluate``, ``predict`` (and the web app and reports) take any :class:`Predictor`: a PyTorch
network, an ONNX Runtime session, or a method with no network at all. A semantic predictor only
implements :meth:`SemanticPredictor.class_scores`; everything else is written once here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from pixelwise.inference.prediction import Prediction, SemanticPrediction
from pixelwise.inference.preprocess import ImageInput, read_input
from pixelwise.modelfile.spec import Labels


class Predictor(ABC):
    """Turns ``uint8`` images into predictions.

    Attributes:
        task: ``"semantic"`` (instance and panoptic predictors as those tasks land).
        labels: Class names, palette and ignore index of the outputs.
        in_channels: Channels of the images it reads.
    """

    task: ClassVar[str]
    labels: Labels
    in_channels: int = 3

    @abstractmethod
    def predict_batch(self, images: Tensor) -> list[Prediction]:
        """Predictions for ``uint8`` images ``(N, C, H, W)`` of one size."""

    def __call__(self, image: ImageInput) -> Prediction:
        """The prediction for one image: a path, a ``uint8`` ``(H, W, C)`` array or a ``(C, H, W)`` tensor."""
        return self.predict_batch(read_input(image, channels=self.in_channels)[None])[0]

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "auto",
        precision: str = "auto",
        input_scale: float | None = None,
        flip: bool = False,
    ) -> Predictor:
        """The predictor a model file describes: ``best.pt`` / ``last.pt`` / a ``save_pretrained`` folder run
        in PyTorch, an exported ``.onnx`` file in ONNX Runtime; its preprocessing comes from the file.

        Args:
            path: The model file.
            device, precision: Where and how a PyTorch model runs (``"auto"``: bf16 where the hardware has it).
            input_scale: Override the scale the model was trained at (``None``: the file's).
            flip: Horizontal-flip test-time augmentation.
        """
        from pixelwise.inference.load import load_predictor

        return load_predictor(path, device=device, precision=precision, input_scale=input_scale, flip=flip)


class SemanticPredictor(Predictor):
    """A predictor of one class per pixel; subclasses give :meth:`class_scores`."""

    task: ClassVar[str] = "semantic"

    @abstractmethod
    def class_scores(self, images: Tensor) -> Tensor:
        """Float scores ``(N, K, H, W)`` whose argmax is the prediction and whose softmax is a probability
        (logits for networks), for ``uint8`` images ``(N, C, H, W)``; on the CPU."""

    def predict_batch(self, images: Tensor) -> list[SemanticPrediction]:
        scores = self.class_scores(images).float()  # (N, K, H, W)
        labels, probabilities = scores.argmax(1), torch.softmax(scores, dim=1)
        return [
            SemanticPrediction(label_map=label, probabilities=probability, class_names=self.labels.class_names)
            for label, probability in zip(labels, probabilities, strict=True)
        ]
