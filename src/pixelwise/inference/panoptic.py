"""The two-model panoptic path: any semantic predictor for stuff plus any instance predictor for things, fused.

Each model keeps its own class list; this predictor maps both onto the panoptic classes (by name,
with renames where they differ) and fuses with Detectron2's rule
(:func:`~pixelwise.inference.panoptic_fusion.fuse_panoptic`). Pixels the semantic model gives a thing
class are left for the instances; where no instance covers them they are void. Example, Penn-Fudan::

    panoptic = FusedPanopticPredictor(
        semantic=Predictor.from_file("runs/pennfudan-unet/best.pt"),        # background, pedestrian
        instance=Predictor.from_file("runs/pennfudan-maskrcnn/best.pt"),    # background, pedestrian
        class_names=["background", "pedestrian"], things=[1],
    )
    prediction = panoptic("FudanPed00001.png")  # PanopticPrediction
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.inference.panoptic_fusion import (
    OVERLAP_THRESHOLD,
    SCORE_THRESHOLD,
    STUFF_AREA_FRACTION,
    fuse_panoptic,
)
from pixelwise.inference.prediction import InstancePrediction, PanopticPrediction, Prediction
from pixelwise.inference.predictor import Predictor, predict_labels
from pixelwise.modelfile.spec import Labels


class FusedPanopticPredictor(Predictor):
    """Panoptic predictions from a semantic and an instance predictor.

    Args:
        semantic: A predictor of task ``"semantic"`` (a network in any runtime, a classical method).
        instance: A predictor of task ``"instance"`` (Mask R-CNN, the connected-components baseline).
        class_names: The panoptic classes, stuff and things, in label order.
        things: The panoptic class indices that are things.
        semantic_classes: Renames from semantic model class names to panoptic class names; ``None``
            as a value makes that class's pixels void. Classes not listed keep their name, which must
            be a panoptic class.
        instance_classes: The same for the instance model (its class 0, the background, is never a
            label); an instance of a class renamed to ``None`` is dropped. Every class must land on a thing.
        palette: One colour per panoptic class (default: the semantic model's where the class names
            agree, else PASCAL VOC's).
        overlap_threshold, score_threshold, stuff_area_fraction: The fusion's options (Detectron2's defaults).
    """

    task: ClassVar[str] = "panoptic"

    def __init__(
        self,
        *,
        semantic: Predictor,
        instance: Predictor,
        class_names: Sequence[str],
        things: Collection[int],
        semantic_classes: Mapping[str, str | None] | None = None,
        instance_classes: Mapping[str, str | None] | None = None,
        palette: Sequence[tuple[int, int, int]] | None = None,
        overlap_threshold: float = OVERLAP_THRESHOLD,
        score_threshold: float = SCORE_THRESHOLD,
        stuff_area_fraction: float = STUFF_AREA_FRACTION,
    ) -> None:
        if semantic.task != "semantic" or instance.task != "instance":
            raise PixelwiseError(
                f"FusedPanopticPredictor takes a semantic and an instance predictor, got {semantic.task!r} and {instance.task!r}"
            )
        if semantic.in_channels != instance.in_channels:
            raise PixelwiseError(
                f"the semantic model reads {semantic.in_channels}-channel images and the instance model "
                f"{instance.in_channels}-channel ones; give two models of the same input"
            )
        names = tuple(str(n) for n in class_names)
        thing_set = {int(t) for t in things}
        if len(set(names)) != len(names) or not thing_set <= set(range(len(names))):
            raise PixelwiseError(f"class_names must be distinct and things indices of them; got {list(names)} and {sorted(thing_set)}")
        self.semantic, self.instance = semantic, instance
        self.things = tuple(sorted(thing_set))
        self.in_channels = semantic.in_channels
        self.spec = None  # no single model file describes a pair
        self.labels = Labels(class_names=names, palette=tuple(palette) if palette is not None else _palette(names, semantic.labels),
                             ignore_index=IGNORE_INDEX, things=self.things)  # fmt: skip
        self.semantic_table = _class_table(semantic.labels.class_names, names, semantic_classes, model="semantic", void=IGNORE_INDEX)
        self.instance_table = _class_table(instance.labels.class_names, names, instance_classes, model="instance", void=-1,
                                           skip_first=True)  # fmt: skip
        stray = sorted({int(c) for c in self.instance_table.tolist() if c >= 0} - thing_set)
        if stray:
            raise PixelwiseError(
                f"instance classes land on panoptic class(es) {[names[c] for c in stray]}, which are not things; "
                "rename them with instance_classes or add them to things"
            )
        self.options = {"overlap_threshold": overlap_threshold, "score_threshold": score_threshold,
                        "stuff_area_fraction": stuff_area_fraction}  # fmt: skip

    def predict_batch(self, images: Tensor) -> list[PanopticPrediction]:
        """Panoptic predictions for ``uint8`` images ``(N, C, H, W)`` of one size."""
        semantic = predict_labels(self.semantic, images)
        instances = self.instance.predict_batch(images)
        return [self._fuse(s.label_map, i) for s, i in zip(semantic, instances, strict=True)]

    def _fuse(self, label_map: Tensor, found: Prediction) -> PanopticPrediction:
        assert isinstance(found, InstancePrediction), f"the instance model returned {type(found).__name__}"
        classes = self.semantic_table[label_map.cpu().long()]  # (H, W) panoptic classes, void -> IGNORE_INDEX
        labels = self.instance_table[found.labels.cpu().long()]  # (N,) panoptic things, dropped -> -1
        keep = labels >= 0
        mapped = InstancePrediction(boxes=found.boxes[keep], labels=labels[keep], scores=found.scores[keep],
                                    masks=found.crops.select(keep), class_names=self.labels.class_names)  # fmt: skip
        segments, info = fuse_panoptic(semantic=classes, instances=mapped, things=self.things, **self.options)
        return PanopticPrediction(segments=segments, segments_info=info, class_names=self.labels.class_names, things=self.things)


def _class_table(
    model_names: Sequence[str],
    panoptic_names: Sequence[str],
    renames: Mapping[str, str | None] | None,
    *,
    model: str,
    void: int,
    skip_first: bool = False,
) -> Tensor:
    """Model class index -> panoptic class index (``void`` for classes renamed to ``None`` and for a skipped class 0)."""
    renames = dict(renames or {})
    unknown = sorted(set(renames) - set(model_names))
    if unknown:
        raise PixelwiseError(f"{model}_classes renames {unknown}, which the {model} model does not have; its classes: {list(model_names)}")
    position = {name: k for k, name in enumerate(panoptic_names)}
    table = []
    for k, name in enumerate(model_names):
        target = renames.get(name, name)
        if (skip_first and k == 0) or target is None:
            table.append(void)
        elif target in position:
            table.append(position[target])
        else:
            raise PixelwiseError(
                f"the {model} model's class {name!r} is no panoptic class ({', '.join(panoptic_names)}); "
                f"pass {model}_classes={{{name!r}: 'PANOPTIC CLASS' or None}}"
            )
    return torch.tensor(table, dtype=torch.int64)


def _palette(names: Sequence[str], semantic: Labels) -> tuple[tuple[int, int, int], ...]:
    """The semantic model's colour of each class it shares by name, PASCAL VOC's for the rest."""
    from pixelwise.data.panoptic.base import panoptic_info

    default = panoptic_info(names).palette
    known = dict(zip(semantic.class_names, semantic.palette, strict=False)) if semantic.palette else {}
    return tuple(known.get(name, default[k]) for k, name in enumerate(names))
