"""Calibration inputs for int8 runtimes: representative images, turned into exactly the normalised
tensors the strategy feeds the network (resized, windowed, mirrored, at each TTA scale).

The images come from a folder the user names or, by default, from the training split of the dataset
the model file records: never the validation split, whose scores the quantised model is judged by.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.inference.preprocess import read_input
from pixelwise.inference.strategies import Strategy
from pixelwise.modelfile.spec import ModelSpec

CALIBRATION_IMAGES = 32
"""Images the int8 ranges are measured on by default."""


def calibration_images(
    *, spec: ModelSpec, source: str | os.PathLike[str] | None = None, count: int = CALIBRATION_IMAGES
) -> list[Tensor]:
    """``count`` images ``uint8 (C, H, W)`` spread over ``source`` (a folder of images), or over the training
    split of the model file's dataset when ``source`` is ``None``."""
    from pixelwise.data.files import image_files
    from pixelwise.engine.evaluate import spread_indices

    channels = spec.preprocess.in_channels
    if source is not None:
        folder = Path(source)
        files = image_files(folder) if folder.is_dir() else []
        if not files:
            raise PixelwiseError(f"calibration folder {folder} holds no images; pass --calibration FOLDER of images "
                                 "like those the model will see")
        return [read_input(files[i], channels=channels) for i in sorted(spread_indices(len(files), count))]
    data, _ = recorded_dataset(spec, split_keys=("train_split",), fix="pass --calibration FOLDER of images")
    return [data[i][0] for i in sorted(spread_indices(len(data), count))]


def recorded_dataset(spec: ModelSpec, *, split_keys: tuple[str, ...], fix: str):
    """``(dataset, "name split")``: the first split the model file records under ``split_keys`` (e.g.
    ``("val_split", "train_split")``) of the dataset it was trained on, without transforms; a one-line error
    ending in ``fix`` when the file records none or the dataset cannot be opened here."""
    dataset = spec.dataset
    if not dataset.get("name"):
        raise PixelwiseError(f"the model file records no dataset to read images from; {fix}")
    from pixelwise.data import create_dataset

    split = next((dataset[key] for key in split_keys if dataset.get(key)), split_keys[0].removesuffix("_split"))
    options = {k: v for k, v in (dataset.get("options") or {}).items() if k != "cache"}
    try:
        data = create_dataset(dataset["name"], root=dataset.get("root"), split=split, **options)
    except PixelwiseError as error:
        raise PixelwiseError(f"cannot open the model's dataset {dataset['name']!r} ({error}); {fix}") from None
    return data, f"{dataset['name']} {split}"


class _Recorder:
    """A stand-in backend that keeps what it is fed and returns zero logits."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.inputs: list[Tensor] = []

    def prepare(self, x: Tensor) -> Tensor:
        return x

    def __call__(self, x: Tensor) -> Tensor:
        self.inputs.append(x.clone())
        return torch.zeros(x.shape[0], self.num_classes, *x.shape[-2:])


def network_inputs(*, spec: ModelSpec, strategy: Strategy, images: list[Tensor]) -> list[Tensor]:
    """The normalised batches ``(n, C, h, w)`` the network receives when ``strategy`` predicts ``images``."""
    from pixelwise.inference.network import NetworkPredictor

    recorder = _Recorder(spec.labels.num_classes)
    predictor = NetworkPredictor(backend=recorder, spec=spec, strategy=strategy)
    for image in images:
        predictor.class_scores(image[None])
    return recorder.inputs
