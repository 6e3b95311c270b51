"""The Predictor contract: one object turns an image into a prediction and owns all pre/post-processing.

``evaluate``, ``predict`` (and the web app and reports) take any :class:`Predictor`: a PyTorch
network, an ONNX Runtime session, or a method with no network at all. A semantic predictor only
implements :meth:`SemanticPredictor.class_scores`; everything else is written once here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from pixelwise.inference.prediction import Prediction, SemanticPrediction
from pixelwise.inference.preprocess import ImageInput, read_input
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH
from pixelwise.modelfile.spec import Labels


class Predictor(ABC):
    """Turns ``uint8`` images into predictions.

    Attributes:
        task: ``"semantic"`` or ``"instance"`` (panoptic predictors as that task lands).
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
        scales: Sequence[float] = (1.0,),
        window: int | tuple[int, int] | None = None,
        overlap: float = OVERLAP,
        window_batch: int = WINDOW_BATCH,
        blend: str = "gaussian",
        score_threshold: float = 0.5,
        backend: str = "auto",
        calibration: str | os.PathLike[str] | None = None,
    ) -> Predictor:
        """The predictor a model file describes: ``best.pt`` / ``last.pt`` / a ``save_pretrained`` folder run
        in PyTorch, an exported ``.onnx`` file in ONNX Runtime; its preprocessing comes from the file.

        Args:
            path: The model file.
            device, precision: Where and how a PyTorch model runs (``"auto"``: bf16 where the hardware has it).
            input_scale: Override the scale the model was trained at (``None``: the file's).
            flip: Horizontal-flip test-time augmentation (the logits of the image and its mirror averaged).
            scales: Multi-scale test-time augmentation: softmax probabilities averaged over these multiples of
                the input scale, e.g. ``(0.75, 1.0, 1.25)``.
            window, overlap, window_batch, blend: Sliding windows of ``window`` (``int`` or ``(height, width)``)
                pixels of the resized image, overlapping by ``overlap``, ``window_batch`` per forward, blended
                ``"gaussian"`` or ``"mean"``: memory bounded by the window (``None``: the whole image at once).
                See :class:`~pixelwise.inference.Strategy` and ``docs/inference.md``.
            score_threshold: Instance models: drop instances less confident than this (0: keep every
                detection the model returns, as AP needs).
            backend: The runtime of a semantic network (:func:`~pixelwise.inference.list_backends`):
                ``"torch"`` (eager), ``"compile"`` (``torch.compile``, frozen weights), ``"onnxruntime"``,
                ``"openvino"``, ``"openvino-int8"``; ``"auto"``: eager for a ``.pt`` file, onnxruntime for an
                ``.onnx`` one. An instance model runs in ``"torch"`` or ``"onnxruntime"`` (its export). See
                ``docs/inference.md`` for what each measured.
            calibration: ``openvino-int8``: a folder of images to measure activation ranges and check the
                agreement with fp32 on (default: images from the training split the model file records).
        """
        from pixelwise.inference.load import load_predictor

        return load_predictor(path, device=device, precision=precision, input_scale=input_scale, flip=flip, scales=scales,
                              window=window, overlap=overlap, window_batch=window_batch, blend=blend,
                              score_threshold=score_threshold, backend=backend, calibration=calibration)  # fmt: skip


class SemanticPredictor(Predictor):
    """A predictor of one class per pixel; subclasses give :meth:`class_scores`."""

    task: ClassVar[str] = "semantic"

    @abstractmethod
    def class_scores(self, images: Tensor) -> Tensor:
        """Float scores ``(N, K, H, W)`` whose argmax is the prediction and whose softmax is a probability
        (logits for networks), for ``uint8`` images ``(N, C, H, W)``; on the CPU."""

    def predict_batch(self, images: Tensor, *, probabilities: bool = True) -> list[SemanticPrediction]:
        """Predictions for ``uint8`` images ``(N, C, H, W)``; ``probabilities=False`` leaves their
        ``probabilities`` out (``None``): what a label map alone needs, for large images."""
        scores = self.class_scores(images).float()  # (N, K, H, W)
        labels = scores.argmax(1)  # (N, H, W)
        probs = torch.softmax(scores, dim=1) if probabilities else [None] * len(labels)
        return [
            SemanticPrediction(label_map=label, probabilities=probability, class_names=self.labels.class_names)
            for label, probability in zip(labels, probs, strict=True)
        ]

    def __call__(self, image: ImageInput, *, probabilities: bool = True) -> SemanticPrediction:
        """The prediction for one image (see :meth:`Predictor.__call__`); ``probabilities=False``: the label map only."""
        return self.predict_batch(read_input(image, channels=self.in_channels)[None], probabilities=probabilities)[0]


def predict_labels(predictor: Predictor, images: Tensor) -> list[Prediction]:
    """``predictor.predict_batch(images)``, leaving out per-pixel probabilities where the predictor can: what
    ``evaluate`` and ``predict`` read is the label map, and for a large image that is all the memory allows."""
    if isinstance(predictor, SemanticPredictor):
        return predictor.predict_batch(images, probabilities=False)
    return predictor.predict_batch(images)
