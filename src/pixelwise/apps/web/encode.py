"""Predictions and model descriptions as the JSON the web API returns.

The class map travels as a palette PNG (base64): its pixel values are the class indices, exactly, and a
browser shows it in the class colours as it is. ``rle`` gives runs instead, for clients that want numbers.
Every task sends a class map and each class's share of the image: an instance model's instances painted in
rising score order (the most confident on top), a panoptic model's segments by class. An instance model adds
its instances (class, score, box, COCO RLE mask, area, colour), a panoptic model its segments and their id
map; both add the drawing the page shows (:mod:`pixelwise.apps.web.drawing`).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from pixelwise.apps.web.drawing import draw_instance_layer, draw_panoptic_layer, rgba_png
from pixelwise.errors import PixelwiseError
from pixelwise.inference import (
    InstancePrediction,
    PanopticPrediction,
    Prediction,
    Predictor,
    SemanticPrediction,
)
from pixelwise.modelfile.spec import Labels
from pixelwise.visual.overlay import label_image
from pixelwise.visual.palette import RGB, default_palette

ENCODINGS = ("png", "rle")
"""How ``POST /api/predict`` returns the class map (query parameter ``encoding``)."""

TASKS = ("semantic", "instance", "panoptic")
"""The tasks the web app serves."""

_TASK_OF = {SemanticPrediction: "semantic", InstancePrediction: "instance", PanopticPrediction: "panoptic"}

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
        "things": [int(index) for index in labels.things],
        "palette": [list(colour) for colour in palette_of(labels)],
        "ignore_index": labels.ignore_index,
        "in_channels": predictor.in_channels,
        "dataset": (spec.dataset.get("name") if spec is not None else None),
        "score_threshold": getattr(predictor, "score_threshold", None),  # instance models: the least score shown
    }


def encode_prediction(prediction: Prediction, *, labels: Labels, encoding: str = "png") -> dict[str, Any]:
    """``POST /api/predict``'s body for one prediction.

    Returns:
        ``{"task", "width", "height", "class_map": {...}, "areas": [{"index", "name", "fraction"}, ...]}``;
        ``class_map`` is ``{"encoding": "png", "data": BASE64}`` or
        ``{"encoding": "rle", "values": [...], "lengths": [...]}`` (runs over the row-major map).
        Instance predictions add ``"instances"`` (:func:`encode_instances`) and ``"drawing"``; panoptic ones
        ``"segments"``, ``"segment_map"``, ``"void"`` (:func:`encode_segments`) and ``"drawing"``.
    """
    if not isinstance(prediction, (SemanticPrediction, InstancePrediction, PanopticPrediction)):
        raise PixelwiseError(f"the web app cannot encode a {type(prediction).__name__}; it serves {', '.join(TASKS)} models")
    label_map = prediction.label_map.cpu().numpy()  # (H, W) int64
    height, width = label_map.shape
    if encoding == "png":
        class_map = {"encoding": "png", "data": class_map_png(label_map, palette=palette_of(labels))}
    else:
        class_map = {"encoding": "rle", **run_lengths(label_map)}
    body = {
        "task": _TASK_OF[type(prediction)],
        "width": int(width),
        "height": int(height),
        "class_map": class_map,
        "areas": [
            {"index": index, "name": name, "fraction": fraction}
            for index, (name, fraction) in enumerate(prediction.class_areas().items())
        ],
    }
    if isinstance(prediction, InstancePrediction):
        body.update(encode_instances(prediction))
    elif isinstance(prediction, PanopticPrediction):
        body.update(encode_segments(prediction, palette=palette_of(labels)))
    return body


def encode_instances(prediction: InstancePrediction) -> dict[str, Any]:
    """The instances, highest score first, and their drawing.

    Returns:
        ``{"instances": [...], "drawing": {"encoding": "png", "data": BASE64 RGBA}}``; each instance is
        ``{"id", "index", "class", "score", "box", "area", "mask", "color"}``: ``id`` counts from 1 in this
        order, ``box`` is ``[x1, y1, x2, y2]`` in pixels, ``area`` the mask's pixels, ``mask`` COCO's
        compressed RLE ``{"size": [H, W], "counts": str}`` (``pycocotools.mask.decode`` reads it) and
        ``color`` the RGB it is drawn in.
    """
    drawing, colours = draw_instance_layer(prediction)
    areas = prediction.crops.areas().tolist()  # (N,) pixels
    instances = [
        {
            "id": k + 1,
            "index": int(label),
            "class": prediction.class_names[int(label)],
            "score": round(float(score), 4),
            "box": [round(float(v), 1) for v in box],
            "area": int(area),
            "mask": rle,
            "color": list(colour),
        }
        for k, (label, score, box, area, rle, colour) in enumerate(zip(
            prediction.labels, prediction.scores, prediction.boxes, areas, prediction.crops.to_rle(), colours,
            strict=True))
    ]  # fmt: skip
    return {"instances": instances, "drawing": {"encoding": "png", "data": rgba_png(drawing)}}


def encode_segments(prediction: PanopticPrediction, *, palette: list[RGB]) -> dict[str, Any]:
    """The segments, their id map and their drawing.

    Returns:
        ``{"segments": [...], "segment_map": {"encoding": "rle", "values", "lengths"}, "void": fraction,
        "drawing": {"encoding": "png", "data": BASE64 RGBA}}``; each segment is ``{"id", "index", "class",
        "isthing", "area", "color"}`` and, for a thing, ``"score"``. ``segment_map`` holds the runs of segment
        ids over the row-major ``(H, W)`` map (0: void, no segment); ``void`` is the share of void pixels.
    """
    drawing, colours = draw_panoptic_layer(prediction, palette=palette)
    segments = []
    for info in prediction.segments_info:
        index = int(info["category_id"])
        segment = {"id": int(info["id"]), "index": index, "class": prediction.class_names[index],
                   "isthing": bool(info["isthing"]), "area": int(info["area"]), "color": list(colours[int(info["id"])])}
        if info["isthing"] and "score" in info:
            segment["score"] = round(float(info["score"]), 4)
        segments.append(segment)
    ids = prediction.segments.cpu().numpy()  # (H, W) segment ids
    return {
        "segments": segments,
        "segment_map": {"encoding": "rle", **run_lengths(ids)},
        "void": float((ids == 0).mean()) if ids.size else 0.0,
        "drawing": {"encoding": "png", "data": rgba_png(drawing)},
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
