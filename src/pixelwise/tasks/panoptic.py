"""Panoptic segmentation: a class for every pixel and an id for every thing; Panoptic Quality for scores.

Batches are lists, as for instances: images float ``(3, H, W)`` in ``[0, 1]``, targets holding the
panoptic truth (``segments`` ids + ``segments_info``), its class map (``semantic``) and the thing
instances in torchvision's detection form. The loss is the network's own dict (Panoptic FPN: Mask
R-CNN's terms plus ``loss_semantic``), crowd instances left out.

The evaluator fuses each prediction (instances over the semantic map, Detectron2's rule:
:func:`~pixelwise.inference.panoptic_fusion.fuse_panoptic`) and adds it to a
:class:`~pixelwise.metrics.panoptic_quality.PanopticQuality`, whose per-class sums add across images
and ``torchrun`` processes like a confusion matrix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.tasks.base import Evaluation, Evaluator, register_task
from pixelwise.tasks.instance import MASK_THRESHOLD, InstanceTask, without_crowd


class PanopticTask(InstanceTask):
    """Panoptic FPN's loss dict for training, PQ for validation.

    Args:
        class_names: The panoptic classes, stuff and things.
        things: The class indices that are things.
    """

    name = "panoptic"

    def __init__(self, *, class_names: list[str], things: list[int]) -> None:
        super().__init__(class_names=class_names)
        self.things = list(things)

    def losses(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        images, targets = batch
        return model(images, [without_crowd(t) for t in targets])

    def evaluator(self, *, device: torch.device) -> PanopticEvaluator:
        return PanopticEvaluator(class_names=self.class_names, things=self.things, device=device)


class PanopticEvaluator(Evaluator):
    """Fuses each network output into a panoptic map and accumulates Panoptic Quality."""

    def __init__(self, *, class_names: list[str], things: list[int], device: torch.device | str = "cpu") -> None:
        from pixelwise.metrics.panoptic_quality import PanopticQuality

        self.class_names, self.things = list(class_names), list(things)
        categories = [{"id": index, "name": name, "isthing": index in self.things} for index, name in enumerate(class_names)]
        self.quality = PanopticQuality(categories=categories, device=device)

    def update(self, outputs: list[dict[str, Tensor]], batch: Any) -> None:
        from pixelwise.inference.panoptic_fusion import fuse_panoptic

        for output, target in zip(outputs, batch[1], strict=True):
            segments, segments_info = fuse_panoptic(
                semantic=output["semantic"].argmax(0).cpu(), instances=NetworkInstances(output), things=self.things,
            )
            self.quality.update(pred=segments, pred_segments=segments_info, truth=target["segments"].cpu(),
                                truth_segments=target["segments_info"])

    def all_reduce(self) -> None:
        self.quality.all_reduce()

    def compute(self) -> Evaluation:
        scores = self.quality.compute()
        summary = {"pq": scores.pq, "sq": scores.sq, "rq": scores.rq, "pq_things": scores.pq_things, "pq_stuff": scores.pq_stuff}
        primary = scores.pq if scores.pq == scores.pq else float("-inf")  # NaN: nothing to score
        return Evaluation(primary=primary, primary_name="pq", summary=summary, scores=scores)


class NetworkInstances:
    """The detections of one network output on the CPU, masks thresholded: what the fusion reads."""

    def __init__(self, output: dict[str, Tensor]) -> None:
        self.boxes, self.labels, self.scores = output["boxes"].cpu(), output["labels"].cpu(), output["scores"].float().cpu()
        masks = output["masks"].cpu()
        self.masks = (masks[:, 0] if masks.ndim == 4 else masks) >= MASK_THRESHOLD


@register_task("panoptic")
def build_panoptic_task(config: Any, train_set: Any, *, device: torch.device) -> PanopticTask:
    """The panoptic task of a training set (its classes and which of them are things)."""
    return PanopticTask(class_names=list(train_set.class_names), things=list(train_set.things))
