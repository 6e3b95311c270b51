"""An instance-segmentation network (Mask R-CNN) behind the Predictor contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn

from pixelwise.checks import check_float
from pixelwise.inference.backends.torch import autocast
from pixelwise.inference.instance_windows import Detections, detect_in_windows
from pixelwise.inference.mask_crops import MaskCrops
from pixelwise.inference.prediction import InstancePrediction
from pixelwise.inference.predictor import Predictor
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH, Strategy
from pixelwise.modelfile.spec import ModelSpec

Detector = Callable[[list[Tensor]], list[dict[str, Tensor]]]
"""``[(C, H, W) images in [0, 1]] -> [{"boxes", "labels", "scores", "masks"}]``: torchvision's detection call."""

MASK_THRESHOLD = 0.5
"""A mask probability at or above this is inside the object (torchvision's and Detectron2's choice)."""


class InstancePredictor(Predictor):
    """A torchvision-style detection model: ``model(list of float images in [0, 1]) -> list of dicts``.

    The model resizes and normalises its inputs itself and pastes masks back at the input's size,
    so this predictor only converts ``uint8`` to ``[0, 1]``, thresholds and moves results to the CPU.

    Args:
        model: An eval-mode detection model (``pixelwise.create_model("maskrcnn_r18", ...)``), or anything
            called the same way, such as its ONNX export in onnxruntime
            (:class:`~pixelwise.inference.backends.onnxruntime.OnnxDetector`).
        spec: The model file's description (labels).
        device: Where the model runs.
        amp_dtype: Autocast dtype (``None``: fp32).
        score_threshold: Instances below this confidence are dropped (0: keep all the model returns,
            which is what AP needs; 0.5 is a common choice for pictures).
        window, overlap, window_batch: Detect in overlapping windows of this ``(height, width)`` of the
            original image, ``window_batch`` per forward, and keep one detection per object
            (:mod:`~pixelwise.inference.instance_windows`); ``None``: the whole image at once.
    """

    task: ClassVar[str] = "instance"

    def __init__(self, *, model: nn.Module | Detector, spec: ModelSpec, device: torch.device | str = "cpu",
                 amp_dtype: torch.dtype | None = None, score_threshold: float = 0.5,
                 window: tuple[int, int] | None = None, overlap: float = OVERLAP, window_batch: int = WINDOW_BATCH) -> None:
        check_float("score_threshold", score_threshold, minimum=0.0, below=1.0)
        self.windows = Strategy(window=window, overlap=overlap, window_batch=window_batch)  # checks the values
        self.model = model.eval() if isinstance(model, nn.Module) else model
        self.spec, self.labels = spec, spec.labels
        self.device, self.amp_dtype, self.score_threshold = torch.device(device), amp_dtype, score_threshold
        self.in_channels = spec.preprocess.in_channels

    @torch.no_grad()
    def predict_batch(self, images: Tensor) -> list[InstancePrediction]:
        if self.windows.window is None:
            found = self._detect(list(images), [])
        else:
            options = {"window": self.windows.window, "overlap": self.windows.overlap, "window_batch": self.windows.window_batch}
            found = [detect_in_windows(image, self._detect, **options) for image in images]
        return [InstancePrediction(boxes=d.boxes, labels=d.labels, scores=d.scores, masks=d.masks,
                                   class_names=self.labels.class_names) for d in found]  # fmt: skip

    def _detect(self, images: list[Tensor], origins: list[tuple[int, int]]) -> list[Detections]:
        """``uint8 (C, h, w)`` images (or windows at ``origins``) -> their detections above the score threshold,
        masks thresholded."""
        batch = [image.to(self.device, torch.float32) / 255 for image in images]
        with autocast(self.device, self.amp_dtype):
            outputs = self.model(batch)
        found = []
        for output in outputs:
            keep = output["scores"] >= self.score_threshold
            found.append(Detections(boxes=output["boxes"][keep].float().cpu(), labels=output["labels"][keep].cpu(),
                                    scores=output["scores"][keep].float().cpu(),
                                    masks=MaskCrops.from_masks(output["masks"][keep, 0] >= MASK_THRESHOLD)))  # fmt: skip
        return found
