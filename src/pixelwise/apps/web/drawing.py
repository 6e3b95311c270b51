"""Instance and panoptic predictions drawn for the page: an RGBA picture, transparent where nothing is drawn.

The page shows the same picture twice: alone, over a dark background (the "prediction" panel), and laid over
the photo with the opacity slider (the "overlay" panel), as it does with a semantic model's class map. The
drawing itself is :func:`~pixelwise.visual.instances.draw_instances` (each instance its own colour, its box
outlined and captioned ``class score``) or :func:`~pixelwise.visual.panoptic.draw_panoptic` (a colour family
per class, a shade per thing, outlines), made on a black canvas at full opacity; the alpha channel keeps what
they drew and clears the rest.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

from pixelwise.inference import InstancePrediction, PanopticPrediction
from pixelwise.visual.instances import draw_instances, instance_colors
from pixelwise.visual.palette import RGB
from pixelwise.visual.panoptic import draw_panoptic, segment_colors


def draw_instance_layer(prediction: InstancePrediction) -> tuple[np.ndarray, list[RGB]]:
    """The instances drawn on a transparent canvas, and each instance's colour (in the prediction's order).

    Returns:
        ``uint8 (H, W, 4)`` RGBA and one RGB colour per instance.
    """
    height, width = prediction.size
    canvas = torch.zeros(3, height, width, dtype=torch.uint8)  # (3, H, W) black
    rgb = draw_instances(canvas, masks=prediction.crops, boxes=prediction.boxes, labels=prediction.labels,
                         scores=prediction.scores, class_names=prediction.class_names, alpha=1.0)  # (H, W, 3)
    # instance colours are bright (value 0.95), so every drawn pixel -- mask, box line, caption -- is not black
    return _with_alpha(rgb, rgb.any(axis=-1)), instance_colors(len(prediction))


def draw_panoptic_layer(prediction: PanopticPrediction, *, palette: list[RGB]) -> tuple[np.ndarray, dict[int, RGB]]:
    """The segments drawn on a transparent canvas (void stays clear), and each segment id's colour.

    Returns:
        ``uint8 (H, W, 4)`` RGBA and ``{segment id: RGB}``.
    """
    segments = prediction.segments.cpu().numpy()  # (H, W) segment ids, 0 void
    canvas = np.zeros((*segments.shape, 3), dtype=np.uint8)  # (H, W, 3) black
    rgb = draw_panoptic(canvas, segments=segments, segments_info=prediction.segments_info,
                        class_names=prediction.class_names, things=prediction.things, palette=palette, alpha=1.0)
    colours = segment_colors(prediction.segments_info, things=prediction.things, palette=palette)
    return _with_alpha(rgb, segments != 0), colours


def rgba_png(picture: np.ndarray) -> str:
    """An ``(H, W, 4)`` ``uint8`` picture as a PNG, base64 (ASCII)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG")  # (H, W, 4) uint8: RGBA
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _with_alpha(rgb: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    alpha = np.where(drawn, 255, 0).astype(np.uint8)  # (H, W)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)  # (H, W, 4)
