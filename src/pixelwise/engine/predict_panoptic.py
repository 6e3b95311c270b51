"""What ``pixelwise predict`` writes for a panoptic model, per image and for the whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pixelwise.inference.prediction import PanopticPrediction
from pixelwise.visual.overlay import save_label_png, save_png


class PanopticWriter:
    """Per image ``NAME``: ``NAME.png`` (the class map, palette embedded, void as 255),
    ``NAME_panoptic.png`` (the segment ids in COCO's RGB encoding) and ``NAME_overlay.png`` (one colour
    family per class, a shade per object, boundaries outlined). At the end ``panoptic.json`` (COCO panoptic
    format: ``segments_info`` per image, ``categories`` with ``isthing``).

    Args:
        out: The output folder.
        palette: One colour per class.
        class_names, things: The panoptic classes and which are things.
        alpha: Opacity of the colours in the overlays.
    """

    def __init__(self, *, out: Path, palette: list, class_names: list[str], things: list[int], alpha: float = 0.5) -> None:
        self.out, self.palette, self.alpha = out, palette, alpha
        self.class_names, self.things = list(class_names), list(things)
        self.categories = [{"id": k, "name": n, "isthing": k in self.things} for k, n in enumerate(self.class_names)]
        self.annotations: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []

    def write(self, prediction: PanopticPrediction, image: torch.Tensor, *, stem: Path, source: Path) -> list[Path]:
        from pixelwise.data.panoptic_format import write_panoptic
        from pixelwise.visual.panoptic import draw_panoptic

        image_id = len(self.images) + 1
        panoptic = stem.with_name(stem.name + "_panoptic.png")
        self.annotations.append(write_panoptic(panoptic.parent, file_name=panoptic.name, segments=prediction.numpy(),
                                               segments_info=prediction.segments_info, image_id=image_id,
                                               categories=self.categories))
        self.images.append({"id": image_id, "file_name": str(source), "height": int(image.shape[-2]),
                            "width": int(image.shape[-1])})
        drawn = draw_panoptic(image, segments=prediction.segments, segments_info=prediction.segments_info,
                              class_names=self.class_names, things=self.things, palette=self.palette, alpha=self.alpha)
        return [
            save_label_png(prediction.label_map, stem.with_name(stem.name + ".png"), palette=self.palette),
            panoptic,
            save_png(drawn, stem.with_name(stem.name + "_overlay.png")),
        ]

    def finish(self) -> list[Path]:
        """Write ``panoptic.json``."""
        from pixelwise.data.panoptic_format import write_panoptic_json

        return [write_panoptic_json(self.out / "panoptic.json", annotations=self.annotations,
                                    categories=self.categories, images=self.images)]
