"""What ``pixelwise predict`` writes for an instance model, per image and for the whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixelwise.inference.prediction import InstancePrediction
from pixelwise.utils.atomic import atomic_path, atomic_write_json
from pixelwise.visual.instances import draw_instances
from pixelwise.visual.overlay import save_label_png, save_png


class InstanceWriter:
    """Per image ``NAME``: ``NAME.png`` (the painted class map, palette embedded), ``NAME_instances.png``
    (instance ids 1..N, 0 background; 16-bit when an image has more than 255 instances) and
    ``NAME_overlay.png`` (each instance in its own colour with its box, class and score). At the end,
    ``results.json`` (COCO results format: any COCO tool reads it; ``image_id`` indexes ``images.json``)
    and ``images.json`` (``id``, ``file_name``, ``width``, ``height``).

    Args:
        out: The output folder.
        palette: One colour per class, for the class-map PNGs.
        category_ids: The dataset's category id of each label (the model file's labels are contiguous).
        alpha: Opacity of the masks in the overlays.
    """

    def __init__(self, *, out: Path, palette: list, category_ids: list[int] | None = None, alpha: float = 0.5) -> None:
        self.out, self.palette, self.category_ids, self.alpha = out, palette, category_ids, alpha
        self.images: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    def write(self, prediction: InstancePrediction, image: torch.Tensor, *, stem: Path, source: Path) -> list[Path]:
        """Write one image's files; remember its COCO results."""
        image_id = len(self.images) + 1
        height, width = image.shape[-2:]
        self.images.append({"id": image_id, "file_name": str(source), "width": int(width), "height": int(height)})
        self.results += prediction.to_coco(image_id=image_id, category_ids=self.category_ids)
        drawn = draw_instances(image, masks=prediction.crops, boxes=prediction.boxes, labels=prediction.labels,
                               scores=prediction.scores, class_names=prediction.class_names, alpha=self.alpha)
        return [
            save_label_png(prediction.label_map, stem.with_name(stem.name + ".png"), palette=self.palette),
            save_instance_png(prediction.instance_map, stem.with_name(stem.name + "_instances.png")),
            save_png(drawn, stem.with_name(stem.name + "_overlay.png")),
        ]

    def finish(self) -> list[Path]:
        """Write ``results.json`` and ``images.json``."""
        atomic_write_json(self.out / "results.json", self.results)
        atomic_write_json(self.out / "images.json", self.images)
        return [self.out / "results.json", self.out / "images.json"]


def save_instance_png(ids: torch.Tensor, path: Path) -> Path:
    """An instance-id map as a greyscale PNG: 8-bit up to 255 instances, 16-bit beyond (written atomically)."""
    array = ids.cpu().numpy()
    picture = Image.fromarray(array.astype(np.uint8)) if array.max(initial=0) <= 255 else Image.fromarray(array.astype(np.uint16))
    with atomic_path(path) as temporary:
        picture.save(temporary, format="PNG")
    return path
