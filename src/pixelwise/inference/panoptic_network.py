"""A panoptic network (Panoptic FPN) behind the Predictor contract: one forward (or one per sliding window),
fused into segments."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from pixelwise.inference.backends.torch import autocast
from pixelwise.inference.instance_windows import Detections, detect_in_windows
from pixelwise.inference.mask_crops import MaskCrops
from pixelwise.inference.panoptic_fusion import SCORE_THRESHOLD, fuse_panoptic
from pixelwise.inference.prediction import PanopticPrediction
from pixelwise.inference.predictor import Predictor
from pixelwise.inference.sliding import importance_map, label_dtype
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
            merged per object as for instance models (:mod:`~pixelwise.inference.instance_windows`; those under
            the fusion's score threshold dropped first), then fused; ``None``: the whole image at once.
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
        classes = BandedClassMap(height=height, width=width, num_classes=self.labels.num_classes)

        def detect(crops: list[Tensor], origins: list[tuple[int, int]]) -> list[Detections]:
            found = []
            for (y, x), output in zip(origins, self._forward(crops), strict=True):
                classes.add(output["semantic"].float().cpu(), y=y, x=x)
                instances = NetworkInstances(output)
                keep = instances.scores >= SCORE_THRESHOLD  # what the fusion would drop never takes part in the merge
                found.append(Detections(boxes=instances.boxes[keep].float(), labels=instances.labels[keep],
                                        scores=instances.scores[keep], masks=MaskCrops.from_masks(instances.masks[keep])))  # fmt: skip
            return found

        merged = detect_in_windows(image, detect, window=self.windows.window, overlap=self.windows.overlap,
                                   window_batch=self.windows.window_batch)  # fmt: skip
        return classes.finish(), merged


class BandedClassMap:
    """The class map of Gaussian-blended window logits that arrive in row order (window tops never go up).

    Rows above the newest window's top get no more windows, so they are turned into classes and dropped:
    the float logits held are a band of about one window's height, ``(K, window height, W)``, never the
    whole image's ``(K, H, W)``. The class map itself is one byte per pixel up to 256 classes.
    """

    def __init__(self, *, height: int, width: int, num_classes: int) -> None:
        self.labels = torch.empty(height, width, dtype=label_dtype(num_classes))
        self.top = 0  # the image row held in sums[:, 0]
        self.last_top = 0  # the newest window's top row
        self.sums = torch.zeros(num_classes, 0, width)  # (K, rows, W) weighted logits
        self.norm = torch.zeros(0, width)  # (rows, W) summed weights
        self.gaussians: dict[tuple[int, int], Tensor] = {}  # one weight map per window size
        self.peak_rows = 0

    def add(self, logits: Tensor, *, y: int, x: int) -> None:
        """Blend one window's logits ``(K, h, w)``, whose top-left pixel is image pixel ``(y, x)``."""
        if y < self.last_top:
            raise ValueError(f"windows must come in row order: one at row {y} after one at row {self.last_top}")
        self.last_top = y
        self._finish_rows(y)
        h, w = logits.shape[-2:]
        missing = y + h - self.top - self.sums.shape[1]
        if missing > 0:
            self.sums = torch.cat([self.sums, self.sums.new_zeros(self.sums.shape[0], missing, self.sums.shape[2])], 1)
            self.norm = torch.cat([self.norm, self.norm.new_zeros(missing, self.norm.shape[1])])
        self.peak_rows = max(self.peak_rows, self.sums.shape[1])
        if (h, w) not in self.gaussians:
            self.gaussians[(h, w)] = importance_map((h, w), blend="gaussian")
        gaussian = self.gaussians[(h, w)]
        rows = slice(y - self.top, y - self.top + h)
        self.sums[:, rows, x : x + w] += logits * gaussian
        self.norm[rows, x : x + w] += gaussian

    def finish(self) -> Tensor:
        """The whole class map ``(H, W)``, once every window has been added."""
        self._finish_rows(self.top + self.sums.shape[1])
        return self.labels

    def _finish_rows(self, stop: int) -> None:
        """Turn the held rows above image row ``stop`` into classes and drop their logits."""
        count = min(stop, self.top + self.sums.shape[1]) - self.top
        if count <= 0:
            return
        self.labels[self.top : self.top + count] = (self.sums[:, :count] / self.norm[:count]).argmax(0).to(self.labels.dtype)
        self.sums, self.norm = self.sums[:, count:].clone(), self.norm[count:].clone()
        self.top += count
