"""``pixelwise evaluate`` for instance models: COCO box and mask AP, PR curves, truth | prediction panels.

The scores come from the same :class:`~pixelwise.tasks.instance.InstanceEvaluator` that validates
during training, so an evaluation of ``best.pt`` repeats the number its run logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor
from pixelwise.tasks.instance import InstanceEvaluation, InstanceEvaluator
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text


def evaluate_instances(
    predictor: Predictor,
    *,
    name: str,
    data: Any,
    out: Path | None,
    num_panels: int,
    panel_indices: set[int],
    where: str,
) -> InstanceEvaluation:
    """Score an instance predictor on an instance dataset (``data[i] -> (uint8 image, target)``).

    Writes into ``out`` (when given): ``metrics.json`` (AP per IoU type, per class, the painted semantic
    scores), ``ap.txt`` (the table ``evaluate`` prints), ``per_class_ap.csv``, ``pr_curves.png`` and
    ``panels.png`` (truth | prediction for ``num_panels`` images spread over the split).
    """
    if data.num_classes != predictor.labels.num_classes:
        raise PixelwiseError(f"{where}: the model knows {predictor.labels.num_classes} classes (background included) but "
                             f"{name} has {data.num_classes}; pass the dataset options it was trained with")
    evaluator = InstanceEvaluator(class_names=list(data.class_names), category_ids=list(data.category_ids))
    panels: list[tuple[torch.Tensor, dict, Any]] = []
    for index in range(len(data)):
        image, target = data[index]  # uint8 (3, H, W) and the untransformed target
        prediction = predictor.predict_batch(image[None])[0]
        output = {"boxes": prediction.boxes, "labels": prediction.labels, "scores": prediction.scores,
                  "masks": prediction.masks[:, None].float()}
        evaluator.update([output], ([image], [target]))
        if index in panel_indices:
            panels.append((image, target, prediction))
    evaluation = evaluator.compute().scores
    if out is not None:
        write_instance_evaluation(evaluation, panels, out=out)
    return evaluation


def write_instance_evaluation(evaluation: InstanceEvaluation, panels: list, *, out: Path) -> None:
    from pixelwise.metrics.instance_report import format_instance_table, plot_pr_curves, write_instance_csv
    from pixelwise.visual.instances import draw_instances

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", evaluation.to_dict())
    atomic_write_text(out / "ap.txt", format_instance_table(evaluation.coco) + "\n")
    write_instance_csv(evaluation.coco, out / "per_class_ap.csv")
    plot_pr_curves(evaluation.coco, out / "pr_curves.png")
    if panels:
        rows = []
        for image, target, prediction in panels:
            crowd = target["iscrowd"] == 0
            truth = draw_instances(image, masks=target["masks"][crowd].bool(), boxes=target["boxes"][crowd],
                                   labels=target["labels"][crowd], scores=None, class_names=prediction.class_names)
            predicted = draw_instances(image, masks=prediction.crops, boxes=prediction.boxes, labels=prediction.labels,
                                       scores=prediction.scores, class_names=prediction.class_names)
            rows.append((truth, predicted))
        _save_panels(rows, out / "panels.png")


def _save_panels(rows: list[tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    """Truth | prediction, one image per row."""
    from pixelwise.visual._figure import new_figure, save_figure

    figure = new_figure(width=8, height=3.2 * len(rows))
    for row, (truth, predicted) in enumerate(rows):
        for column, (picture, title) in enumerate(((truth, "truth"), (predicted, "prediction"))):
            axes = figure.add_subplot(len(rows), 2, row * 2 + column + 1)
            axes.imshow(picture)
            axes.set_axis_off()
            if row == 0:
                axes.set_title(title)
    save_figure(figure, path)
