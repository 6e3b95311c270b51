"""Predictions and model descriptions as the JSON the web API returns.

The class map travels as a palette PNG (base64): its pixel values are the class indices, exactly, and a
browser shows it in the class colours as it is. ``rle`` gives runs instead, for clients that want numbers.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.inference import Prediction, Predictor, SemanticPrediction
from pixelwise.modelfile.spec import Labels
from pixelwise.visual.overlay import label_image
from pixelwise.visual.palette import RGB, default_palette

ENCODINGS = ("png", "rle")
"""How ``POST /api/predict`` returns the class map (query parameter ``encoding``)."""

_PNG_MAX_CLASSES = 256  # an 8-bit palette PNG holds indices 0..255


def palette_of(labels: Labels) -> list[RGB]:
    """The model's class colours, or the default palette when its file records none."""
    return [tuple(colour) for colour in labels.palette] if labels.palette else default_palette(labels.num_classes)


def describe_model(predictor: Predictor, *, title: str | None = None) -> dict[str, Any]:
    """``GET /api/model``: name, task, classes, palette and preprocessing of the served predictor."""
    spec = getattr(predictor, "spec", None)
    labels = predictor.labels
    return {
        "name": spec.model if spec is not None else type(predictor).__name__,
        "title": title or (spec.model if spec is not None else type(predictor).__name__),
        "task": predictor.task,
        "classes": list(labels.class_names),
        "palette": [list(colour) for colour in palette_of(labels)],
        "ignore_index": labels.ignore_index,
        "in_channels": predictor.in_channels,
        "dataset": (spec.dataset.get("name") if spec is not None else None),
    }


def encode_prediction(prediction: Prediction, *, labels: Labels, encoding: str = "png") -> dict[str, Any]:
    """``POST /api/predict``'s body for one prediction.

    Returns:
        ``{"task", "width", "height", "class_map": {...}, "areas": [{"index", "name", "fraction"}, ...]}``;
        ``class_map`` is ``{"encoding": "png", "data": BASE64}`` or
        ``{"encoding": "rle", "values": [...], "lengths": [...]}`` (runs over the row-major map).
    """
    if not isinstance(prediction, SemanticPrediction):
        raise PixelwiseError(f"the web app cannot encode a {type(prediction).__name__} yet; it serves semantic models")
    label_map = prediction.label_map.cpu().numpy()  # (H, W) int64
    height, width = label_map.shape
    if encoding == "png":
        class_map = {"encoding": "png", "data": class_map_png(label_map, palette=palette_of(labels))}
    else:
        class_map = {"encoding": "rle", **run_lengths(label_map)}
    return {
        "task": "semantic",
        "width": int(width),
        "height": int(height),
        "class_map": class_map,
        "areas": [
            {"index": index, "name": name, "fraction": fraction}
            for index, (name, fraction) in enumerate(prediction.class_areas().items())
        ],
    }


def check_encoding(encoding: str, *, labels: Labels) -> None:
    """Raise :class:`PixelwiseError` for an unknown encoding, or a PNG of more than 256 classes."""
    if encoding not in ENCODINGS:
        raise PixelwiseError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    if encoding == "png" and labels.num_classes > _PNG_MAX_CLASSES:
        raise PixelwiseError(f"the model has {labels.num_classes} classes, more than a PNG holds; ask for encoding=rle")


def class_map_png(label_map: np.ndarray, *, palette: list[RGB]) -> str:
    """A palette PNG of the class indices, base64 (ASCII).

    Shape:
        label_map: ``(H, W)`` integers below 256.
    """
    buffer = io.BytesIO()
    label_image(label_map, palette=palette, ignore_index=None).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def run_lengths(label_map: np.ndarray) -> dict[str, list[int]]:
    """Runs of equal labels over the row-major ``(H, W)`` map: ``{"values": [...], "lengths": [...]}``.

    Example:
        >>> run_lengths(np.array([[0, 0, 1], [1, 1, 2]]))
        {'values': [0, 1, 2], 'lengths': [2, 3, 1]}
    """
    flat = label_map.ravel()
    if flat.size == 0:
        return {"values": [], "lengths": []}
    starts = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1])  # (R,)
    lengths = np.diff(np.concatenate([starts, [flat.size]]))  # (R,)
    return {"values": flat[starts].tolist(), "lengths": lengths.tolist()}
