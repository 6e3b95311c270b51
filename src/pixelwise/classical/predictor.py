"""A classical method and its fitted class mapping, behind the :class:`~pixelwise.inference.SemanticPredictor` contract.

So ``evaluate``, ``predict`` and the reports take it like a network, and it is saved in the one model
file format: ``spec.model`` is the method's name, ``spec.model_options`` its options, and the
``state_dict`` holds ``mapping`` (region id -> class) plus what the method learned (``method.*``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pixelwise.classical.base import ClassicalMethod, resize_labels, to_working
from pixelwise.classical.registry import create_method
from pixelwise.errors import PixelwiseError
from pixelwise.inference.predictor import SemanticPredictor
from pixelwise.modelfile.file import ModelFile, write_model_file
from pixelwise.modelfile.spec import Labels, ModelSpec, Preprocess


class ClassicalPredictor(SemanticPredictor):
    """Segments with a classical method and maps its regions to classes by a table fitted on the train split.

    Args:
        method: The method (fitted, if supervised).
        mapping: ``int64 (R,)``: the class of each region id (:mod:`pixelwise.classical.mapping`).
        labels: Class names, palette and ignore index of the dataset it was fitted on.
        in_channels: Channels of the images it reads.
        source: Provenance for the model file (dataset, fit split, ...).
    """

    def __init__(
        self,
        *,
        method: ClassicalMethod,
        mapping: np.ndarray | Tensor,
        labels: Labels,
        in_channels: int = 3,
        source: dict[str, Any] | None = None,
    ) -> None:
        self.method = method
        self.mapping = torch.as_tensor(mapping, dtype=torch.int64).cpu()
        self.labels = labels
        self.in_channels = in_channels
        self.source = dict(source or {})
        if len(self.mapping) != method.num_regions or not bool(((self.mapping >= 0) & (self.mapping < labels.num_classes)).all()):
            raise PixelwiseError(
                f"{method.name}: the class mapping {self.mapping.tolist()} does not send its {method.num_regions} regions "
                f"to the {labels.num_classes} classes; fit it again"
            )

    @property
    def spec(self) -> ModelSpec:
        """What its model file says: the method's name and options, the labels, where it was fitted."""
        return ModelSpec(
            model=self.method.name, model_options=self.method.options(), labels=self.labels, task="semantic",
            preprocess=Preprocess(in_channels=self.in_channels), source=self.source,
        )  # fmt: skip

    def label_map(self, image: Tensor) -> Tensor:
        """Classes ``int64 (H, W)`` of one ``uint8 (C, H, W)`` image."""
        regions = self.method.regions(to_working(image, self.method.max_side))  # (h, w)
        return resize_labels(self.mapping[torch.from_numpy(regions)], tuple(image.shape[-2:]))

    def class_scores(self, images: Tensor) -> Tensor:
        """One-hot scores ``(N, K, H, W)`` for ``uint8`` images ``(N, C, H, W)``."""
        classes = torch.stack([self.label_map(image) for image in images.cpu()])  # (N, H, W)
        return torch.nn.functional.one_hot(classes, self.labels.num_classes).permute(0, 3, 1, 2).float()

    def state_dict(self) -> dict[str, Tensor]:
        return {"mapping": self.mapping, **{f"method.{k}": v for k, v in self.method.state_dict().items()}}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write it as a pixelwise model file (``.pt``); :meth:`pixelwise.Predictor.from_file` reads it back."""
        return write_model_file(path, spec=self.spec, state_dict=self.state_dict())

    @classmethod
    def from_model_file(cls, contents: ModelFile) -> ClassicalPredictor:
        """Rebuild the predictor a read model file describes."""
        spec, state = contents.spec, {key: value.cpu() for key, value in contents.state_dict.items()}
        method = create_method(spec.model, **spec.model_options)
        method.load_state_dict({k[len("method."):]: v for k, v in state.items() if k.startswith("method.")})
        return cls(method=method, mapping=state["mapping"], labels=spec.labels,
                   in_channels=spec.preprocess.in_channels, source=spec.source)
