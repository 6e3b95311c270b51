"""Instance segmentation: a box, a class, a score and a mask per object; COCO AP for scores.

Batches are torchvision's detection convention, ``(list of images, list of targets)``: images
float ``(3, H, W)`` in ``[0, 1]`` of any size (the model resizes and batches them itself), targets
with ``boxes`` (xyxy), ``labels``, ``masks``, ``iscrowd``, ``area`` and ``image_id``. The loss terms
are Mask R-CNN's own dict; crowd regions are taken out of the targets before it sees them
(evaluation honours them: a detection on a crowd region is neither a true nor a false positive).

The evaluator keeps, per validation image, the ground truth and the detections as COCO
annotations and results (masks as compressed RLE: a few hundred bytes each) and gives them to
pycocotools' ``COCOeval`` at the end, after gathering every ``torchrun`` process's share on every
process. Alongside AP it paints truth and prediction into class maps and counts a confusion matrix,
so an instance model also gets the semantic table (mIoU) and compares with semantic models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.metrics import ConfusionMatrix
from pixelwise.metrics.scores import SegmentationScores
from pixelwise.tasks.base import Evaluation, Evaluator, Task, register_task

Target = dict[str, Any]
Batch = tuple[list[Tensor], list[Target]]

MASK_THRESHOLD = 0.5
"""A mask probability at or above this is inside the object (torchvision's and Detectron2's choice)."""


@dataclass
class InstanceEvaluation:
    """What an instance evaluation holds: COCO AP (``coco``) and the painted semantic scores (``semantic``)."""

    coco: Any  # pixelwise.metrics.coco_eval.InstanceScores
    semantic: SegmentationScores

    images: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.coco.to_dict(), "images": self.images, "semantic": self.semantic.to_dict()}

    def format_table(self) -> str:
        """The AP table, then the semantic table of the painted class maps."""
        from pixelwise.metrics import format_table
        from pixelwise.metrics.instance_report import format_instance_table

        return (f"{format_instance_table(self.coco)}\n\ninstances painted into class maps (score >= 0.5):\n"
                f"{format_table(self.semantic)}")


class InstanceTask(Task):
    """Mask R-CNN's loss dict for training, COCO mask/box AP for validation.

    Args:
        class_names: Class names, background first.
        category_ids: The dataset's own category id of each label (index 0: background), so results
            files use the ids the ground truth uses.
        score_threshold: Detections below this score are not painted into the semantic class map
            (AP uses every detection the model returns).
    """

    name = "instance"
    channels_last = False
    find_unused_parameters = True  # a batch without positive RoIs gives the mask head no gradient

    def __init__(self, *, class_names: list[str], category_ids: list[int] | None = None, score_threshold: float = 0.5) -> None:
        self.class_names = list(class_names)
        self.category_ids = list(category_ids) if category_ids is not None else list(range(len(class_names)))
        self.score_threshold = score_threshold

    def collate(self, samples: list[Any]) -> Batch:
        """Lists of images and targets, nothing stacked (:func:`~pixelwise.data.instances.collate_instances`)."""
        from pixelwise.data.instances.collate import collate_instances

        return collate_instances(samples)

    def to_device(self, batch: Batch, device: torch.device, *, channels_last: bool) -> Batch:
        images, targets = batch
        moved = [{k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in t.items()} for t in targets]
        return [image.to(device, non_blocking=True) for image in images], moved

    def batch_size(self, batch: Batch) -> int:
        return len(batch[0])

    def losses(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """Mask R-CNN's terms (``loss_classifier``, ``loss_box_reg``, ``loss_mask``, ``loss_objectness``,
        ``loss_rpn_box_reg``), crowd regions left out of the targets."""
        images, targets = batch
        return model(images, [without_crowd(t) for t in targets])

    def infer(self, model: nn.Module, batch: Batch) -> list[dict[str, Tensor]]:
        """Per image: ``boxes`` xyxy, ``labels``, ``scores``, ``masks`` ``(N, 1, H, W)`` probabilities."""
        return model(batch[0])

    def evaluator(self, *, device: torch.device) -> InstanceEvaluator:
        return InstanceEvaluator(class_names=self.class_names, category_ids=self.category_ids,
                                 score_threshold=self.score_threshold, device=device)


def without_crowd(target: Target) -> Target:
    """The target without its ``iscrowd`` instances (boxes, labels, masks, area filtered alike)."""
    crowd = target.get("iscrowd")
    if crowd is None or not bool(crowd.any()):
        return target
    keep = crowd == 0
    return {k: v[keep] if isinstance(v, Tensor) and v.ndim >= 1 and len(v) == len(keep) else v for k, v in target.items()}


class InstanceEvaluator(Evaluator):
    """COCO AP over the images added, plus a confusion matrix of the painted class maps."""

    def __init__(self, *, class_names: list[str], category_ids: list[int], score_threshold: float = 0.5,
                 device: torch.device | str = "cpu") -> None:
        self.class_names, self.category_ids, self.score_threshold = class_names, category_ids, score_threshold
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.device = torch.device(device)
        self.confusion = ConfusionMatrix(num_classes=len(class_names), ignore_index=None, device=device)

    def update(self, outputs: list[dict[str, Tensor]], batch: Any) -> None:
        from pixelwise.inference.components import paint_instances
        from pixelwise.metrics.coco_results import detections_to_results, ground_truth_annotations

        images, targets = batch
        for image, target, output in zip(images, targets, outputs, strict=True):
            height, width = image.shape[-2:]
            image_id = int(target["image_id"])
            self.images.append({"id": image_id, "width": int(width), "height": int(height)})
            truth_masks = target["masks"].bool()
            self.annotations += ground_truth_annotations(
                image_id=image_id, boxes=target["boxes"].cpu(), labels=target["labels"].cpu(), masks=truth_masks.cpu(),
                iscrowd=target["iscrowd"].cpu(), area=target["area"].cpu(), category_ids=self.category_ids,
            )
            masks = output["masks"][:, 0] >= MASK_THRESHOLD  # (N, H, W)
            self.results += detections_to_results(
                image_id=image_id, boxes=output["boxes"].cpu(), labels=output["labels"].cpu(),
                scores=output["scores"].cpu(), masks=masks.cpu(), category_ids=self.category_ids,
            )
            keep = output["scores"] >= self.score_threshold
            shape = (int(height), int(width))
            truth = paint_instances(masks=truth_masks, labels=target["labels"], scores=torch.ones(len(truth_masks)), shape=shape)
            predicted = paint_instances(masks=masks[keep], labels=output["labels"][keep], scores=output["scores"][keep], shape=shape)
            self.confusion.update(predicted.to(self.device)[None], truth.to(self.device)[None])

    def all_reduce(self) -> None:
        self.confusion.all_reduce()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, (self.images, self.annotations, self.results))
            self.images = [image for part in gathered for image in part[0]]
            self.annotations = [a for part in gathered for a in part[1]]
            self.results = [r for part in gathered for r in part[2]]

    def compute(self) -> Evaluation:
        from pixelwise.metrics.coco_eval import evaluate_coco
        from pixelwise.metrics.coco_results import coco_ground_truth

        categories = [{"id": self.category_ids[label], "name": name}
                      for label, name in enumerate(self.class_names) if label > 0]
        # coco_ground_truth refuses two images under one id (COCO would merge their objects)
        truth = coco_ground_truth(images=self.images, annotations=self.annotations, categories=categories)
        coco = evaluate_coco(ground_truth=truth, results=self.results)
        semantic = self.confusion.compute(class_names=self.class_names)
        summary = {"mask_ap": coco.mask_ap, "box_ap": coco.box_ap, "miou": semantic.mean_iou}
        return Evaluation(primary=_finite(coco.mask_ap), primary_name="mask_ap", summary=summary,
                          scores=InstanceEvaluation(coco=coco, semantic=semantic, images=len(self.images)))


def _finite(value: float | None) -> float:
    """AP is undefined without ground truth; rank such a validation below any real one."""
    return float("-inf") if value is None or value != value else float(value)


@register_task("instance")
def build_instance_task(config: Any, train_set: Any, *, device: torch.device) -> InstanceTask:
    """The instance task of a training set (its class names and category ids)."""
    return InstanceTask(class_names=list(train_set.class_names), category_ids=getattr(train_set, "category_ids", None))
