"""Watershed as an instance method: a semantic predictor's foreground split into objects at its necks.

Connected components (:class:`~pixelwise.inference.semantic_instances.ConnectedComponentsPredictor`)
merge two touching pedestrians into one object. The classical fix: take the distance of each
foreground pixel to the background, put one marker on each peak of that distance (an object's
"centre"), and flood the inverted distance from the markers inside the foreground (scikit-image
``peak_local_max`` + ``watershed``, the same split as :class:`~pixelwise.classical.watershed.Watershed`
with ``markers="distance"``). Two discs joined by a neck become two objects.

The foreground is any semantic predictor's class map: a classical method fitted on the train split
(``pixelwise evaluate --model watershed --as-instances``: Otsu's side mapped to the pedestrian class by
the train split; ``--model superpixel_forest --as-instances watershed``: the forest's pedestrian mask) or
a network (``--checkpoint unet.pt --as-instances watershed``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from pixelwise.checks import check_int
from pixelwise.classical.watershed import _split_by_distance
from pixelwise.inference.components import split_into_instances
from pixelwise.inference.prediction import InstancePrediction
from pixelwise.inference.predictor import Predictor, SemanticPredictor

MIN_DISTANCE = 7
"""Default smallest distance (pixels) between two objects' centres: the watershed method's default."""


def watershed_instances(
    label_map: Tensor | np.ndarray,
    *,
    thing_classes: list[int],
    probabilities: Tensor | np.ndarray | None = None,
    min_distance: int = MIN_DISTANCE,
    min_area: int = 1,
) -> dict[str, Tensor]:
    """Split each thing class's pixels into objects by watershed on their distance transform.

    Args:
        label_map: ``(H, W)`` class indices.
        thing_classes: Classes made of countable objects (e.g. ``[1]`` for pedestrians).
        probabilities: ``(K, H, W)`` class probabilities; an object's score is the mean probability of its
            class over its pixels. ``None``: every score is 1.0.
        min_distance: Smallest distance (pixels) between two distance peaks, i.e. two objects' centres.
        min_area: Objects of fewer pixels are dropped (speckle).

    Returns:
        The torchvision detection dict, highest score first (ties keep the watershed's numbering, as
        connected components keep theirs, so neither order is favoured): ``boxes`` ``(N, 4)`` float32
        ``x1, y1, x2, y2`` (``x2, y2`` one past the last pixel, COCO's boxes of masks), ``labels`` ``(N,)``
        int64, ``scores`` ``(N,)`` float32, ``masks`` ``(N, H, W)`` bool; the masks never overlap.
    """
    check_int("min_distance", min_distance, minimum=1)
    check_int("min_area", min_area, minimum=1)
    found = split_into_instances(label_map, thing_classes=thing_classes, probabilities=probabilities, min_area=min_area,
                                 split=lambda mask: _split_by_distance(mask, min_distance=min_distance))
    order = torch.from_numpy(np.argsort(-found["scores"].numpy().astype(np.float64), kind="stable"))  # (N,)
    return {key: value[order] for key, value in found.items()}


class WatershedInstancePredictor(Predictor):
    """Instances from a semantic predictor's class map, touching objects split by distance-transform watershed.

    Args:
        semantic: Any semantic predictor (a fitted classical method, a network in any runtime).
        thing_classes: The classes that are countable objects (default: every class but 0).
        min_distance: Smallest distance (pixels of the input image) between two objects' centres.
        min_area: Objects smaller than this many pixels are dropped.
    """

    task: ClassVar[str] = "instance"

    def __init__(self, semantic: SemanticPredictor, *, thing_classes: list[int] | None = None,
                 min_distance: int = MIN_DISTANCE, min_area: int = 1) -> None:
        check_int("min_distance", min_distance, minimum=1)
        check_int("min_area", min_area, minimum=1)
        self.semantic, self.labels, self.in_channels = semantic, semantic.labels, semantic.in_channels
        self.spec = getattr(semantic, "spec", None)  # the dataset it was fitted or trained on
        self.thing_classes = list(thing_classes) if thing_classes is not None else list(range(1, self.labels.num_classes))
        self.min_distance, self.min_area = min_distance, min_area

    def predict_batch(self, images: Tensor) -> list[InstancePrediction]:
        """Instances for ``uint8`` images ``(N, C, H, W)``, highest score first."""
        predictions = []
        for prediction in self.semantic.predict_batch(images):
            found = watershed_instances(prediction.label_map, probabilities=prediction.probabilities,
                                        thing_classes=self.thing_classes, min_distance=self.min_distance,
                                        min_area=self.min_area)
            predictions.append(InstancePrediction(**found, class_names=self.labels.class_names))
        return predictions
