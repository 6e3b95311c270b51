"""The Task contract: what differs between semantic, instance and panoptic training, behind one loop.

The training loop (:mod:`pixelwise.engine.train`) never looks inside a task. Per batch it asks
the task for its loss terms and sums them; per validation it asks the task's evaluator for
scores. A new task is a new file here plus a registration:

- **semantic** (:mod:`.semantic`): batch ``(images, masks)``; terms ``{"loss"}`` (+ ``"aux"``);
  evaluator: the confusion matrix -> mIoU.
- **instance** (Mask R-CNN): batch ``(images, targets)`` collated as lists; ``losses`` returns
  torchvision's ``model(images, targets)`` dict as it is (``loss_classifier``, ``loss_box_reg``,
  ``loss_mask``, ...); ``infer`` is ``model(images)`` in eval mode; evaluator: COCO AP through
  pycocotools, each process's detections gathered to rank 0 in ``all_reduce``.
- **panoptic**: the sum of both (a Panoptic FPN returns both dicts); evaluator: PQ from per-class
  TP / FP / FN / IoU sums, which add across images and processes like a confusion matrix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from pixelwise.registry import Registry


@dataclass
class Evaluation:
    """What an evaluator computed.

    Attributes:
        primary: The number that picks the best checkpoint (higher is better).
        primary_name: Its name (``"miou"``, ``"mask_ap"``, ``"pq"``).
        summary: Few numbers logged per validation as ``val_<name>`` (the primary one included).
        scores: The task's full scores (``to_dict()`` -> ``metrics.json``).
    """

    primary: float
    primary_name: str
    summary: dict[str, float] = field(default_factory=dict)
    scores: Any = None


class Evaluator(ABC):
    """Accumulates predictions against the truth over a dataset, across processes."""

    @abstractmethod
    def update(self, outputs: Any, batch: Any) -> None:
        """Add one batch: the task's :meth:`Task.infer` outputs and the batch they came from."""

    @abstractmethod
    def all_reduce(self) -> None:
        """Combine the states of every ``torchrun`` process (a no-op in one process)."""

    @abstractmethod
    def compute(self) -> Evaluation:
        """The scores of everything added so far."""


class Task(ABC):
    """What a training loop needs to know about a kind of prediction."""

    name: str
    channels_last: bool = True
    """Whether the task's networks run faster in channels_last (torchvision's detection models batch
    their inputs themselves and do not)."""
    find_unused_parameters: bool = False
    """Whether a training step may leave some parameters without a gradient (tells ``torchrun``'s DDP)."""

    def collate(self, samples: list[Any]) -> Any:
        """Samples -> a batch (default: stack tensors)."""
        return default_collate(samples)

    @abstractmethod
    def to_device(self, batch: Any, device: torch.device, *, channels_last: bool) -> Any:
        """The batch on ``device`` (images in channels_last when asked)."""

    @abstractmethod
    def batch_size(self, batch: Any) -> int:
        """Images in the batch."""

    @abstractmethod
    def losses(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        """The loss terms of one training batch (the loop sums them, backpropagates and logs each)."""

    @abstractmethod
    def infer(self, model: nn.Module, batch: Any) -> Any:
        """Inference outputs of an eval-mode model on a validation batch, for :meth:`Evaluator.update`."""

    @abstractmethod
    def evaluator(self, *, device: torch.device) -> Evaluator:
        """A fresh evaluator for one pass over the validation set."""


TaskBuilder = Callable[..., Task]
TASKS: Registry[TaskBuilder] = Registry("task")
"""Task name -> ``builder(config, train_set, *, device) -> Task``."""


def register_task(name: str) -> Callable[[TaskBuilder], TaskBuilder]:
    """Register ``builder(config: TrainConfig, train_set, *, device) -> Task`` under ``name``."""
    return TASKS.register(name)


def list_tasks() -> list[str]:
    import pixelwise.tasks  # noqa: F401  (registers every task)

    return TASKS.names()
