"""Semantic segmentation: one class per pixel, a loss on the logits, a confusion matrix for scores."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.engine.checkpoint import unwrap_model
from pixelwise.inference.backends.torch import autocast
from pixelwise.inference.strategies import Strategy
from pixelwise.metrics import ConfusionMatrix
from pixelwise.tasks.base import Evaluation, Evaluator, Task, register_task

Batch = tuple[Tensor, Tensor]  # images (N, C, H, W) float, masks (N, H, W) int64


class SemanticTask(Task):
    """Logits ``(N, K, H, W)`` against masks ``(N, H, W)``.

    Args:
        criterion: The loss on ``(logits float32, mask)``.
        num_classes, ignore_index, class_names: What the confusion matrix counts.
        aux_weight: Weight of the auxiliary head's loss (PSPNet, DeepLab) when the model has one.
        strategy: How validation runs the model (the training scale; no TTA).
        amp_dtype: Autocast dtype of validation forwards (``None``: fp32).
    """

    name = "semantic"

    def __init__(
        self,
        *,
        criterion: nn.Module,
        num_classes: int,
        ignore_index: int | None,
        class_names: list[str],
        aux_weight: float = 0.0,
        strategy: Strategy | None = None,
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.criterion = criterion
        self.num_classes, self.ignore_index, self.class_names = num_classes, ignore_index, list(class_names)
        self.aux_weight = aux_weight
        self.strategy = strategy or Strategy()
        self.amp_dtype = amp_dtype

    def to_device(self, batch: Batch, device: torch.device, *, channels_last: bool) -> Batch:
        image, mask = batch
        image = image.to(device, non_blocking=True)
        if channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return image, mask.to(device, non_blocking=True)

    def batch_size(self, batch: Batch) -> int:
        return batch[0].shape[0]

    def losses(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """``{"loss"}``, plus ``{"aux"}`` (already weighted) when the model has an auxiliary head."""
        image, mask = batch
        if self.aux_weight > 0 and getattr(unwrap_model(model), "aux_head", None) is not None:
            logits, aux = model(image, return_aux=True)
            return {"loss": self.criterion(logits.float(), mask), "aux": self.aux_weight * self.criterion(aux.float(), mask)}
        return {"loss": self.criterion(model(image).float(), mask)}

    def infer(self, model: nn.Module, batch: Batch) -> Tensor:
        """Logits ``(N, K, H, W)`` float32 at the mask's size."""
        device = batch[0].device
        with autocast(device, self.amp_dtype):
            logits = self.strategy(model, batch[0])
        return logits.float()

    def evaluator(self, *, device: torch.device) -> SemanticEvaluator:
        return SemanticEvaluator(
            num_classes=self.num_classes, ignore_index=self.ignore_index, class_names=self.class_names,
            criterion=self.criterion, device=device,
        )


class SemanticEvaluator(Evaluator):
    """A dataset-level confusion matrix, and the mean validation loss when given the criterion."""

    def __init__(
        self,
        *,
        num_classes: int,
        ignore_index: int | None,
        class_names: list[str],
        criterion: nn.Module | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.confusion = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index, device=device)
        self.class_names = class_names
        self.criterion = criterion
        self.loss_sum = torch.zeros(2, device=device, dtype=torch.float64)  # (sum of batch losses, batches)

    def update(self, outputs: Tensor, batch: Any) -> None:
        mask = batch[1]
        self.confusion.update(outputs.argmax(1), mask)
        if self.criterion is not None:
            one = torch.ones((), device=self.loss_sum.device, dtype=torch.float64)
            self.loss_sum += torch.stack([self.criterion(outputs, mask).double(), one])

    def all_reduce(self) -> None:
        self.confusion.all_reduce()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(self.loss_sum)

    def compute(self) -> Evaluation:
        scores = self.confusion.compute(class_names=self.class_names)
        summary = {"miou": scores.mean_iou, "pixel_accuracy": scores.pixel_accuracy}
        if self.criterion is not None:
            batches = float(self.loss_sum[1])
            summary = {"loss": float(self.loss_sum[0]) / batches if batches > 0 else float("nan"), **summary}
        return Evaluation(primary=scores.mean_iou, primary_name="miou", summary=summary, scores=scores)


@register_task("semantic")
def build_semantic_task(config: Any, train_set: Any, *, device: torch.device) -> SemanticTask:
    """The semantic task a :class:`~pixelwise.TrainConfig` describes (loss with class weights from the
    training masks, auxiliary weight, validation at the training scale)."""
    from pixelwise.engine.builders import build_criterion
    from pixelwise.utils.hardware import autocast_dtype

    return SemanticTask(
        criterion=build_criterion(config, train_set),
        num_classes=train_set.num_classes,
        ignore_index=train_set.ignore_index,
        class_names=list(train_set.class_names),
        aux_weight=config.aux_weight,
        strategy=Strategy(scale=config.input_scale, short_side=config.input_size),
        amp_dtype=autocast_dtype(device, config.precision),
    )
