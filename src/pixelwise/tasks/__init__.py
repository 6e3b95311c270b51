"""Tasks: what differs per kind of prediction (losses, evaluator), behind one training loop."""

from pixelwise.tasks.base import TASKS, Evaluation, Evaluator, Task, list_tasks, register_task
from pixelwise.tasks.instance import InstanceEvaluator, InstanceTask
from pixelwise.tasks.panoptic import PanopticEvaluator, PanopticTask
from pixelwise.tasks.semantic import SemanticEvaluator, SemanticTask

__all__ = ["TASKS", "Evaluation", "Evaluator", "InstanceEvaluator", "InstanceTask", "PanopticEvaluator", "PanopticTask", "SemanticEvaluator", "SemanticTask", "Task", "list_tasks", "register_task"]
