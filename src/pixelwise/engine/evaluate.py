"""``pixelwise.evaluate``: score a checkpoint on a dataset split and draw what people look at."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from pixelwise.data import create_dataset
from pixelwise.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform
from pixelwise.engine.loop import run_inference
from pixelwise.engine.trained import load_trained
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import PER_CLASS_KEYS, ConfusionMatrix, SegmentationScores
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text
from pixelwise.utils.hardware import autocast_dtype, resolve_device
from pixelwise.visual.charts import plot_confusion_heatmap, plot_per_class_iou
from pixelwise.visual.panels import save_panels


def evaluate(
    *,
    checkpoint: str | Path,
    dataset: str,
    root: str | None = None,
    split: str = "val",
    out: str | Path | None = None,
    dataset_options: dict | None = None,
    num_panels: int = 6,
    batch_size: int = 1,
    workers: int = 0,
    device: str = "auto",
    precision: str = "auto",
    input_scale: float | None = None,
    flip: bool = False,
) -> SegmentationScores:
    """Score ``checkpoint`` on ``dataset``/``split``.

    Args:
        checkpoint: A ``.pt`` file written by :func:`pixelwise.train`.
        dataset, root, split, dataset_options: The data, as :func:`pixelwise.create_dataset` names it.
        out: Folder for ``metrics.json`` (the ``score`` schema), ``per_class.csv``, ``confusion.png``
            (row-normalised heatmap), ``per_class_iou.png`` and ``panels.png``
            (image | truth | prediction | error map). ``None``: write nothing.
        num_panels: Samples drawn in the panels, spread evenly over the split.
        batch_size: Images per forward pass (1 works for datasets of mixed sizes).
        workers: DataLoader worker processes.
        device, precision: Where and how to run (see :class:`pixelwise.TrainConfig`).
        input_scale: Run the model on images resized by this factor (logits are upsampled back);
            ``None``: the scale the model was trained at.
        flip: Horizontal-flip test-time augmentation (average of the image's and its mirror's logits);
            report it apart from single-pass scores, as papers do.

    Returns:
        The dataset-level scores.
    """
    run_device = resolve_device(device)
    trained = load_trained(checkpoint, device=run_device)
    data = create_dataset(dataset, root=root, split=split, transform=eval_transform(), **(dataset_options or {}))
    if data.num_classes != trained.num_classes:
        raise PixelwiseError(
            f"{checkpoint}: model predicts {trained.num_classes} classes but {dataset} {split} has {data.num_classes}; "
            "pass the dataset options it was trained with"
        )
    confusion = ConfusionMatrix(num_classes=data.num_classes, ignore_index=data.ignore_index, device=run_device)
    samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    panel_indices = spread_indices(len(data), num_panels)
    seen = 0
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=workers)
    amp_dtype = autocast_dtype(run_device, precision)
    scale = trained.config.get("input_scale", 1.0) if input_scale is None else input_scale
    short_side = trained.config.get("input_size") if input_scale is None else None
    for image, mask, logits in run_inference(
        trained.model, loader, device=run_device, amp_dtype=amp_dtype, channels_last=True, scale=scale,
        short_side=short_side, flip=flip,
    ):
        prediction = logits.argmax(1)
        confusion.update(prediction, mask)
        for i in range(image.shape[0]):
            if seen + i in panel_indices:
                samples.append((image[i].cpu(), mask[i].cpu(), prediction[i].cpu()))
        seen += image.shape[0]
    scores = confusion.compute(class_names=list(data.class_names))
    if out is not None:
        write_evaluation(scores, samples, out=Path(out), palette=list(data.palette), ignore_index=data.ignore_index)
    return scores


def spread_indices(total: int, count: int) -> set[int]:
    """``count`` indices spread evenly over ``range(total)``, first and last included: consecutive frames of
    a video dataset look alike, so the panels sample the whole split."""
    count = min(count, total)
    if count == 1:
        return {0}
    return {round(i * (total - 1) / (count - 1)) for i in range(count)}


def write_evaluation(
    scores: SegmentationScores,
    samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    *,
    out: Path,
    palette: list[tuple[int, int, int]],
    ignore_index: int | None,
) -> None:
    """Write the JSON, CSV, heatmap, per-class chart and panels of one evaluation into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", scores.to_dict())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", *PER_CLASS_KEYS, "pixels"])
    truth_pixels = scores.confusion.sum(axis=1)
    for index, name in enumerate(scores.class_names):
        writer.writerow([name, *(_csv_number(scores.per_class[key][index]) for key in PER_CLASS_KEYS), int(truth_pixels[index])])
    atomic_write_text(out / "per_class.csv", buffer.getvalue())
    plot_confusion_heatmap(confusion=scores.confusion, class_names=scores.class_names, path=out / "confusion.png")
    plot_per_class_iou(scores=scores, path=out / "per_class_iou.png")
    if samples:
        images, truths, predictions = (list(column) for column in zip(*samples, strict=True))
        save_panels(
            images=images, truths=truths, predictions=predictions, path=out / "panels.png",
            class_names=scores.class_names, palette=palette, ignore_index=ignore_index, error_map=True,
            mean=IMAGENET_MEAN, std=IMAGENET_STD,
        )


def _csv_number(value: float) -> str:
    return "" if value != value else f"{value:.6f}"  # NaN (undefined) -> empty cell
