"""``pixelwise.evaluate``: score any predictor on a dataset split and draw what people look at."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from pixelwise.data import create_dataset
from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor
from pixelwise.inference.predictor import predict_labels
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH
from pixelwise.metrics import PER_CLASS_KEYS, ConfusionMatrix, SegmentationScores
from pixelwise.metrics.panoptic_scores import PanopticScores
from pixelwise.tasks.instance import InstanceEvaluation
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

INSTANCE_SPLITS = ("components", "watershed")
"""How ``as_instances`` cuts a semantic predictor's classes into objects (see :func:`evaluate`)."""


def evaluate(
    *,
    checkpoint: str | Path | None = None,
    predictor: Predictor | None = None,
    model: str | None = None,
    model_options: dict[str, Any] | None = None,
    dataset: str | None = None,
    root: str | None = None,
    split: str = "val",
    out: str | Path | None = None,
    dataset_options: dict[str, Any] | None = None,
    num_panels: int = 6,
    batch_size: int = 1,
    workers: int = 0,
    device: str = "auto",
    precision: str = "auto",
    input_scale: float | None = None,
    flip: bool = False,
    scales: Sequence[float] = (1.0,),
    window: int | tuple[int, int] | None = None,
    overlap: float = OVERLAP,
    window_batch: int = WINDOW_BATCH,
    blend: str = "gaussian",
    backend: str = "auto",
    calibration: str | Path | None = None,
    html: bool = False,
    as_instances: bool | str = False,
    instance_checkpoint: str | Path | None = None,
) -> SegmentationScores | InstanceEvaluation | PanopticScores:
    """Score a model file or any :class:`~pixelwise.Predictor` on ``dataset``/``split``.

    Args:
        checkpoint: A model file (``best.pt``, an exported ``.onnx``, ...); or give ``predictor``.
        predictor: Any predictor (a network in any runtime, a classical method).
        model, model_options: Or a classical method by name (:func:`pixelwise.classical.list_methods`) and its
            options: it is fitted on the ``"train"`` split of ``dataset`` (the forest, or the rule that maps
            its regions to classes; :mod:`pixelwise.classical.mapping`), then scored on ``split``.
        dataset, root, dataset_options: The data, as :func:`pixelwise.create_dataset` names it. Default:
            what the model file records it was trained on; options given here override the recorded ones.
        split: The split to score.
        out: Folder for ``metrics.json`` (the ``score`` schema), ``per_class.csv``, ``confusion.png``
            (row-normalised heatmap), ``per_class_iou.png`` and ``panels.png``
            (image | truth | prediction | error map). ``None``: write nothing.
        num_panels: Samples drawn in the panels, spread evenly over the split.
        batch_size: Images per forward pass (1 works for datasets of mixed sizes).
        workers: DataLoader worker processes.
        device, precision: Where and how a model file runs (see :class:`pixelwise.TrainConfig`).
        input_scale: Run the model on images resized by this factor (logits are upsampled back);
            ``None``: the scale the model was trained at.
        flip: Horizontal-flip test-time augmentation (average of the image's and its mirror's logits);
            report it apart from single-pass scores, as papers do.
        scales: Multi-scale test-time augmentation: softmax probabilities averaged over these multiples of
            the input scale (with ``flip`` at each), e.g. ``(0.75, 1.0, 1.25)``.
        window, overlap, window_batch, blend: Sliding-window inference (see :meth:`pixelwise.Predictor.from_file`).
        backend, calibration: The runtime of a semantic network (see :meth:`pixelwise.Predictor.from_file`).
        html: Also write ``out/report.html``: one self-contained page with the scores, charts, panels, and the
            training run's curves and configuration (needs ``out``).
        instance_checkpoint: An instance model file (Mask R-CNN) to fuse with the semantic ``checkpoint`` into
            panoptic predictions (:class:`~pixelwise.inference.panoptic.FusedPanopticPredictor`: stuff from the
            semantic model, things from the instance model, matched by class name), scored with Panoptic
            Quality on the panoptic form of the dataset: the two-model panoptic path.
        as_instances: Score a semantic predictor as an instance one, on the instance form of the dataset: the
            baseline that shows what an instance model buys. ``"components"``: each connected region of a class
            is one object (:class:`~pixelwise.inference.semantic_instances.ConnectedComponentsPredictor`);
            ``"watershed"``: touching objects are split by watershed on the distance transform
            (:class:`~pixelwise.classical.watershed_instances.WatershedInstancePredictor`); ``True``: the
            predictor's own way, watershed for the watershed method (with its ``min_distance``), components
            for every other.

    Returns:
        The dataset-level scores; for an instance model an :class:`~pixelwise.tasks.instance.InstanceEvaluation`
        (COCO box and mask AP, and the semantic scores of its instances painted into class maps).
    """
    if html and out is None:
        raise PixelwiseError("an HTML report needs a folder for its files; pass out (--out DIR)")
    if as_instances not in (False, True, *INSTANCE_SPLITS):
        raise PixelwiseError(f"as_instances={as_instances!r}; choose {' or '.join(INSTANCE_SPLITS)} "
                             "(or True: the predictor's own way)")
    if sum(given is not None for given in (checkpoint, predictor, model)) != 1:
        raise PixelwiseError("give exactly one of checkpoint (a model file), predictor or model (a classical method)")
    if model is not None:
        if dataset is None:
            raise PixelwiseError(f"classical method {model!r} needs a dataset (--dataset, --root): it is fitted on its train split")
        from pixelwise.classical.fit import fit_predictor

        predictor = fit_predictor(model, dataset=dataset, options=model_options, root=root, dataset_options=dataset_options)
    where = str(checkpoint) if checkpoint is not None else model or type(predictor).__name__
    if predictor is None:
        # score_threshold 0: AP ranks every detection the model returns
        predictor = Predictor.from_file(checkpoint, device=device, precision=precision, input_scale=input_scale, flip=flip,
                                        scales=scales, window=window, overlap=overlap, window_batch=window_batch,
                                        blend=blend, score_threshold=0.0, backend=backend,
                                        calibration=calibration)
    if instance_checkpoint is not None:
        predictor = fused_panoptic(predictor, Predictor.from_file(instance_checkpoint, device=device, precision=precision,
                                                                  score_threshold=0.0), where=where)
    if as_instances:
        predictor = semantic_as_instances(predictor, split=as_instances, where=where)
    name, data = open_dataset(predictor, dataset=dataset, root=root, split=split, options=dataset_options, where=where)
    if predictor.task in ("panoptic", "instance"):
        if predictor.task == "panoptic":
            from pixelwise.engine.evaluate_panoptic import evaluate_panoptic

            result = evaluate_panoptic(predictor, name=name, data=data, out=None if out is None else Path(out),
                                       panel_indices=spread_indices(len(data), num_panels), where=where)
        else:
            from pixelwise.engine.evaluate_instances import evaluate_instances

            result = evaluate_instances(predictor, name=name, data=data, out=None if out is None else Path(out),
                                        num_panels=num_panels, panel_indices=spread_indices(len(data), num_panels),
                                        where=where)  # fmt: skip
        if html:
            from pixelwise.report import write_evaluation_report

            write_evaluation_report(out=Path(out), predictor=predictor, checkpoint=checkpoint, dataset=name, split=split,
                                    images=len(data), palette=list(getattr(data, "palette", None) or []) or None)
        return result
    if data.num_classes != predictor.labels.num_classes:
        raise PixelwiseError(
            f"{where}: model predicts {predictor.labels.num_classes} classes but {name} {split} has {data.num_classes}; "
            "pass the dataset options it was trained with"
        )
    confusion = ConfusionMatrix(num_classes=data.num_classes, ignore_index=data.ignore_index)
    samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    panel_indices = spread_indices(len(data), num_panels)
    seen = 0
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=workers)
    for images, masks in loader:  # uint8 (N, C, H, W), int64 (N, H, W)
        predictions = torch.stack([p.label_map for p in predict_labels(predictor, images)])  # (N, H, W)
        confusion.update(predictions, masks)
        for i in range(images.shape[0]):
            if seen + i in panel_indices:
                samples.append((images[i], masks[i], predictions[i]))
        seen += images.shape[0]
    scores = confusion.compute(class_names=list(data.class_names))
    if out is not None:
        write_evaluation(scores, samples, out=Path(out), palette=list(data.palette), ignore_index=data.ignore_index)
    if html:
        from pixelwise.report import write_evaluation_report

        write_evaluation_report(out=Path(out), predictor=predictor, checkpoint=checkpoint, dataset=name, split=split,
                                images=len(data), palette=list(data.palette))
    return scores


def fused_panoptic(semantic: Predictor, instance: Predictor, *, where: str) -> Predictor:
    """The two-model panoptic predictor: the semantic model's classes are the panoptic classes, and those
    the instance model also knows (by name, its background aside) are the things."""
    from pixelwise.inference.panoptic import FusedPanopticPredictor

    if semantic.task != "semantic" or instance.task != "instance":
        raise PixelwiseError(f"{where}: fusing needs a semantic --checkpoint and an instance --instance-checkpoint, "
                             f"got {semantic.task} and {instance.task}")
    names = list(semantic.labels.class_names)
    things = [names.index(n) for n in instance.labels.class_names[1:] if n in names]
    if not things:
        raise PixelwiseError(f"{where}: the instance model's classes {list(instance.labels.class_names[1:])} are none of "
                             f"the semantic model's {names}; both must name the things alike")
    fused = FusedPanopticPredictor(semantic=semantic, instance=instance, class_names=names, things=things)
    fused.spec = getattr(semantic, "spec", None)  # the dataset the semantic model was trained on
    return fused


def semantic_as_instances(semantic: Predictor, *, split: bool | str, where: str) -> Predictor:
    """A semantic predictor as an instance one, its objects split by ``split`` (see :func:`evaluate`'s ``as_instances``)."""
    from pixelwise.classical.watershed import Watershed
    from pixelwise.classical.watershed_instances import MIN_DISTANCE, WatershedInstancePredictor
    from pixelwise.inference.semantic_instances import ConnectedComponentsPredictor

    if semantic.task != "semantic":
        raise PixelwiseError(f"{where} is already a {semantic.task} model; --as-instances is for semantic models")
    method = getattr(semantic, "method", None)
    if split is True:
        split = "watershed" if isinstance(method, Watershed) else "components"
    if split == "components":
        return ConnectedComponentsPredictor(semantic)
    if split == "watershed":
        distance = method.min_distance if isinstance(method, Watershed) else MIN_DISTANCE
        return WatershedInstancePredictor(semantic, min_distance=distance)
    raise PixelwiseError(f"as_instances={split!r}; choose {' or '.join(INSTANCE_SPLITS)} (or True: the predictor's own way)")


def open_dataset(
    predictor: Predictor, *, dataset: str | None, root: str | None, split: str, options: dict[str, Any] | None, where: str
):
    """``(dataset name, the split to score)``, name, root and options defaulting to the ones the model file records."""
    recorded = dict((getattr(predictor, "spec", None) and predictor.spec.dataset) or {})
    if dataset is None and not recorded.get("name"):
        raise PixelwiseError(f"{where} does not record the dataset it was trained on; pass --dataset (and --root)")
    same = dataset is None or dataset == recorded.get("name")
    name = dataset or recorded["name"]
    merged = {**(recorded.get("options") or {}), **(options or {})} if same else dict(options or {})
    merged.pop("cache", None)
    root = root if root is not None else (recorded.get("root") if same else None)
    if predictor.task == "panoptic":
        from pixelwise.data.panoptic import create_panoptic_dataset

        return name, create_panoptic_dataset(name, root=root, split=split, transform=None, **merged)
    if predictor.task == "instance":
        from pixelwise.data.instances import create_instance_dataset

        return name, create_instance_dataset(name, root=root, split=split, transform=None, **merged)
    return name, create_dataset(name, root=root, split=split, transform=None, **merged)


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
    from pixelwise.visual.charts import (  # matplotlib: only when drawing
        plot_confusion_heatmap,
        plot_per_class_iou,
    )
    from pixelwise.visual.panels import save_panels

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
        )


def _csv_number(value: float) -> str:
    return "" if value != value else f"{value:.6f}"  # NaN (undefined) -> empty cell
