"""The semantic-to-instance baseline: a semantic model's class map split into objects by connected components.

This is what nnU-Net and segmentation_models.pytorch users are told to do for instance
segmentation. Wrapped as an instance predictor, it goes through the same evaluation as Mask R-CNN
(``pixelwise evaluate --checkpoint semantic.pt --as-instances``), so one table shows what a real
instance model buys: touching objects of one class merge into one component, which COCO AP counts
as one false positive and several misses.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from pixelwise.inference.components import semantic_to_instances
from pixelwise.inference.prediction import InstancePrediction
from pixelwise.inference.predictor import Predictor, SemanticPredictor


class ConnectedComponentsPredictor(Predictor):
    """Instances from a semantic predictor: each 8-connected component of a "thing" class is one object,
    scored by its mean class probability, boxed by its extent.

    Args:
        semantic: Any semantic predictor (a network in any runtime, a classical method).
        thing_classes: The classes that are countable objects (default: every class but 0).
        min_area: Components smaller than this many pixels are dropped (specks).
    """

    task: ClassVar[str] = "instance"

    def __init__(self, semantic: SemanticPredictor, *, thing_classes: list[int] | None = None, min_area: int = 1) -> None:
        self.semantic, self.labels, self.in_channels = semantic, semantic.labels, semantic.in_channels
        self.spec = getattr(semantic, "spec", None)
        self.thing_classes = list(thing_classes) if thing_classes is not None else list(range(1, self.labels.num_classes))
        self.min_area = min_area

    def predict_batch(self, images: Tensor) -> list[InstancePrediction]:
        predictions = []
        for prediction in self.semantic.predict_batch(images):
            found = semantic_to_instances(prediction.label_map, probabilities=prediction.probabilities,
                                          thing_classes=self.thing_classes, min_area=self.min_area)
            order = torch.argsort(found["scores"], descending=True)
            predictions.append(InstancePrediction(
                boxes=found["boxes"][order], labels=found["labels"][order], scores=found["scores"][order],
                masks=found["masks"][order], class_names=self.labels.class_names,
            ))
        return predictions
