"""Fitting a classical method on a train split: the forest, or the region -> class mapping.

:func:`fit_method` reads the split it is given and nothing else; ``pixelwise evaluate --model NAME``
gives it the dataset's train split, and ``pixelwise train --model NAME`` (:func:`fit_classical`) the
config's ``train_split``, then scores the result on ``val_split`` and writes ``best.pt``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from tqdm.auto import tqdm

from pixelwise.classical.base import ClassicalMethod, resize_labels, to_working
from pixelwise.classical.mapping import fit_mapping, region_confusion
from pixelwise.classical.predictor import ClassicalPredictor
from pixelwise.classical.registry import create_method
from pixelwise.data import SegmentationDataset, create_dataset
from pixelwise.engine.evaluate import spread_indices
from pixelwise.modelfile.spec import Labels

if TYPE_CHECKING:
    from pixelwise.engine.config import TrainConfig
    from pixelwise.engine.train import TrainResult


def training_pairs(
    method: ClassicalMethod, data: SegmentationDataset, *, progress: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(image uint8 (h, w, C), mask int64 (h, w))`` at the method's working size, for ``method.fit_images``
    images spread evenly over ``data`` (all when 0)."""
    count = len(data) if method.fit_images == 0 else min(method.fit_images, len(data))
    for index in tqdm(sorted(spread_indices(len(data), count)), desc=f"fit {method.name}", disable=not progress, leave=False):
        image, mask = data.load(index)  # uint8 (C, H, W), int64 (H, W)
        working = to_working(image, method.max_side)
        yield working, resize_labels(mask, working.shape[:2]).numpy()


def fit_method(
    method: ClassicalMethod, data: SegmentationDataset, *, source: dict[str, Any] | None = None, progress: bool = False
) -> ClassicalPredictor:
    """Fit ``method`` on ``data`` (a train split) and wrap it as a predictor of ``data``'s classes.

    A supervised method learns the classes (its mapping is the identity); an unsupervised one gets the
    mapping of :mod:`pixelwise.classical.mapping`, fitted on these pairs.
    """
    pairs = training_pairs(method, data, progress=progress)
    num_classes = data.num_classes
    if method.supervised:
        method.fit(pairs, num_classes=num_classes, ignore_index=data.ignore_index)
        mapping = np.arange(num_classes)
    else:
        confusion = np.zeros((method.num_regions, num_classes), dtype=np.int64)
        for image, mask in pairs:
            confusion += region_confusion(method.regions(image), mask, num_regions=method.num_regions,
                                          num_classes=num_classes, ignore_index=data.ignore_index)
        mapping = fit_mapping(confusion)
    labels = Labels(class_names=data.class_names, palette=data.palette, ignore_index=data.ignore_index)
    return ClassicalPredictor(method=method, mapping=mapping, labels=labels, in_channels=data.info.image_channels,
                              source=source)


def fit_predictor(
    name: str,
    *,
    dataset: str,
    options: dict[str, Any] | None = None,
    root: str | None = None,
    dataset_options: dict[str, Any] | None = None,
    split: str = "train",
    progress: bool = False,
) -> ClassicalPredictor:
    """Build the classical method ``name`` and fit it on ``split`` of a dataset (never another split).

    Args:
        name: A name from :func:`pixelwise.classical.list_methods`.
        dataset, root, dataset_options: The data, as :func:`pixelwise.create_dataset` names it.
        options: The method's options.
        split: The split it learns from.
        progress: Show a progress bar.
    """
    method = create_method(name, **(options or {}))
    data_options = {k: v for k, v in (dataset_options or {}).items() if k != "cache"}
    data = create_dataset(dataset, root=root, split=split, transform=None, **data_options)
    source = {"dataset": {"name": dataset, "root": root, "options": data_options, "train_split": split},
              "fit": {"split": split, "images": len(data) if method.fit_images == 0 else min(method.fit_images, len(data))}}
    return fit_method(method, data, source=source, progress=progress)


def fit_classical(config: TrainConfig) -> TrainResult:
    """``pixelwise train`` for a classical method: fit on ``config.train_split``, write ``config.yaml`` and
    ``best.pt`` into ``config.out``, score ``config.val_split`` (``metrics.json``).

    Args:
        config: A :class:`pixelwise.TrainConfig` whose ``model`` is a classical method; ``model_options``
            are its options (``seed`` defaults to ``config.seed``). Epochs, budget and optimiser do not apply.

    Returns:
        A :class:`pixelwise.engine.train.TrainResult` (``epochs_run`` 1: one pass over the fitted images).
    """
    from pixelwise.classical.registry import method_options
    from pixelwise.engine.evaluate import evaluate
    from pixelwise.engine.train import TrainResult
    from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

    options = dict(config.model_options)
    if "seed" in method_options(config.model):
        options.setdefault("seed", config.seed)
    predictor = fit_predictor(config.model, dataset=config.dataset, options=options, root=config.root,
                              dataset_options=config.dataset_options, split=config.train_split, progress=config.progress)
    predictor.source["train_config"] = config.to_dict()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    predictor.save(out / "best.pt")
    if config.val_split is None:
        return TrainResult(out=out, best_score=-math.inf, epochs_run=1)
    scores = evaluate(predictor=predictor, dataset=config.dataset, root=config.root, split=config.val_split,
                      dataset_options=config.dataset_options)
    atomic_write_json(out / "metrics.json", scores.to_dict())
    return TrainResult(out=out, best_score=scores.mean_iou, epochs_run=1, metric="miou", scores=scores)
