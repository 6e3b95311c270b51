"""A panoptic network (Panoptic FPN) behind the Predictor contract: one forward (or one per sliding window),
fused into segments."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from pixelwise.inference.backends.torch import autocast
from pixelwise.inference.instance_windows import Detections, detect_in_windows
from pixelwise.inference.panoptic_fusion import fuse_panoptic
from pixelwise.inference.prediction import PanopticPrediction
from pixelwise.inference.predictor import Predictor
from pixelwise.inference.sliding import importance_map
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH, Strategy
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
        window, overlap, window_batch: Run the network on overlapping windows of this ``(height, width)``:
            the semantic logits are blended with a Gaussian weight as for semantic models, the detections
            merged per object as for instance models (:mod:`~pixelwise.inference.instance_windows`), then
            fused; ``None``: the whole image at once.
    """

    task: ClassVar[str] = "panoptic"

    def __init__(self, *, model: nn.Module, spec: ModelSpec, device: torch.device | str = "cpu",
                 amp_dtype: torch.dtype | None = None, window: tuple[int, int] | None = None,
                 overlap: float = OVERLAP, window_batch: int = WINDOW_BATCH) -> None:
        self.windows = Strategy(window=window, overlap=overlap, window_batch=window_batch)  # checks the values
        self.model, self.spec, self.labels = model.eval(), spec, spec.labels
        self.device, self.amp_dtype = torch.device(device), amp_dtype
        self.in_channels = spec.preprocess.in_channels
        self.things = tuple(spec.labels.things)

    @torch.no_grad()
    def predict_batch(self, images: Tensor) -> list[PanopticPrediction]:
        if self.windows.window is None:
            found = [(output["semantic"].float().argmax(0).cpu(), NetworkInstances(output)) for output in self._forward(list(images))]
        else:
            found = [self._windowed(image) for image in images]
        predictions = []
        for semantic, instances in found:
            segments, info = fuse_panoptic(semantic=semantic, instances=instances, things=self.things)
            predictions.append(PanopticPrediction(segments=segments, segments_info=info,
                                                  class_names=self.labels.class_names, things=self.things))
        return predictions

    def _forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        with autocast(self.device, self.amp_dtype):
            return self.model([image.to(self.device, torch.float32) / 255 for image in images])

    def _windowed(self, image: Tensor) -> tuple[Tensor, Detections]:
        """The blended semantic class map ``(H, W)`` and the merged detections of one image's windows."""
        height, width = image.shape[-2:]
        scores = torch.zeros(self.labels.num_classes, height, width)  # (K, H, W) weighted logits
        weight = torch.zeros(height, width)
        gaussians: dict[tuple[int, int], Tensor] = {}  # one weight map per window size (all but tiny images: one)

        def detect(crops: list[Tensor], origins: list[tuple[int, int]]) -> list[Detections]:
            found = []
            for (y, x), output in zip(origins, self._forward(crops), strict=True):
                logits = output["semantic"].float().cpu()  # (K, h, w)
                h, w = logits.shape[-2:]
                if (h, w) not in gaussians:
                    gaussians[(h, w)] = importance_map((h, w), blend="gaussian")
                gaussian = gaussians[(h, w)]
                scores[:, y : y + h, x : x + w] += logits * gaussian
                weight[y : y + h, x : x + w] += gaussian
                instances = NetworkInstances(output)
                found.append(Detections(boxes=instances.boxes.float(), labels=instances.labels, scores=instances.scores,
                                        masks=instances.masks))  # fmt: skip
            return found

        merged = detect_in_windows(image, detect, window=self.windows.window, overlap=self.windows.overlap,
                                   window_batch=self.windows.window_batch)  # fmt: skip
        return (scores / weight).argmax(0), merged
