"""A panoptic network (Panoptic FPN) behind the Predictor contract: one forward, fused into segments."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from pixelwise.inference.backends.torch import autocast
from pixelwise.inference.panoptic_fusion import fuse_panoptic
from pixelwise.inference.prediction import PanopticPrediction
from pixelwise.inference.predictor import Predictor
from pixelwise.modelfile.spec import ModelSpec
from pixelwise.tasks.panoptic import NetworkInstances


class PanopticNetworkPredictor(Predictor):
    """``model(list of [0, 1] images) -> [{detections..., "semantic": (K, H, W) logits}]``, fused with
    Detectron2's rule (:func:`~pixelwise.inference.panoptic_fusion.fuse_panoptic`, its defaults).

    Args:
        model: An eval-mode panoptic network (``pixelwise.create_model("panoptic_fpn", ...)``).
        spec: The model file's description (labels; ``labels.things``).
        device: Where the model runs.
        amp_dtype: Autocast dtype (``None``: fp32).
    """

    task: ClassVar[str] = "panoptic"

    def __init__(self, *, model: nn.Module, spec: ModelSpec, device: torch.device | str = "cpu",
                 amp_dtype: torch.dtype | None = None) -> None:
        self.model, self.spec, self.labels = model.eval(), spec, spec.labels
        self.device, self.amp_dtype = torch.device(device), amp_dtype
        self.in_channels = spec.preprocess.in_channels
        self.things = tuple(spec.labels.things)

    @torch.no_grad()
    def predict_batch(self, images: Tensor) -> list[PanopticPrediction]:
        with autocast(self.device, self.amp_dtype):
            outputs = self.model([image.to(self.device, torch.float32) / 255 for image in images])
        predictions = []
        for output in outputs:
            segments, info = fuse_panoptic(semantic=output["semantic"].float().argmax(0).cpu(),
                                           instances=NetworkInstances(output), things=self.things)
            predictions.append(PanopticPrediction(segments=segments, segments_info=info,
                                                  class_names=self.labels.class_names, things=self.things))
        return predictions
