"""Flag parsers shared by several subcommands."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from pixelwise.errors import PixelwiseError


def parse_class_names(text: str) -> list[str]:
    """``"sky,road,car"`` -> ``["sky", "road", "car"]``."""
    return [name.strip() for name in text.split(",")]


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PixelwiseError(f"option {pair!r} is not KEY=VALUE; write e.g. base_channels=32")
        options[key.strip()] = yaml.safe_load(value)
    return options


def format_scores(scores: Any) -> str:
    """The table of any task's scores (semantic scores, or an evaluation that formats itself)."""
    if hasattr(scores, "format_table"):
        return scores.format_table()
    from pixelwise.metrics import format_table
    from pixelwise.metrics.panoptic_scores import PanopticScores

    if isinstance(scores, PanopticScores):
        from pixelwise.metrics.panoptic_report import format_panoptic_table

        return format_panoptic_table(scores)

    return format_table(scores)


def parse_window(text: str) -> int | tuple[int, int]:
    """``"512"`` -> ``512``; ``"512,768"`` -> ``(512, 768)`` (height, width). Values are checked by
    :class:`~pixelwise.inference.Strategy`."""
    parts = [part.strip() for part in text.split(",")]
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size; write e.g. 512 or 512,768 (height,width)") from None
    if len(sizes) not in (1, 2):
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size; write e.g. 512 or 512,768 (height,width)")
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


def parse_scales(text: str) -> tuple[float, ...]:
    """``"0.75,1,1.25"`` -> ``(0.75, 1.0, 1.25)``. Values are checked by :class:`~pixelwise.inference.Strategy`."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of scales; write e.g. 0.75,1,1.25") from None


STRATEGY_OPTIONS = ("window", "overlap", "window_batch", "blend", "scales", "flip", "backend", "calibration")
"""The keyword names of the options :func:`add_strategy_arguments` adds (those of ``Predictor.from_file``)."""


def strategy_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed ``--window ... --flip`` values as ``Predictor.from_file`` keywords."""
    return {name: getattr(args, name) for name in STRATEGY_OPTIONS}


def add_strategy_arguments(parser: argparse.ArgumentParser) -> None:
    """The inference options ``predict``, ``evaluate`` and ``serve`` share, spelled as in the Python API
    (:class:`~pixelwise.inference.Strategy` and the backends): ``--window``, ``--overlap``, ``--window-batch``,
    ``--blend``, ``--scales``, ``--flip``, ``--backend``, ``--calibration``."""
    from pixelwise.inference.backends.registry import list_backends
    from pixelwise.inference.sliding import BLENDS
    from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH

    parser.add_argument("--window", type=parse_window, default=None, metavar="SIZE|H,W",
                        help="sliding windows of this size over the (resized) image, memory bounded by the window "
                             "(default: the whole image in one pass)")
    parser.add_argument("--overlap", type=float, default=OVERLAP, metavar="FRACTION",
                        help="share of a window its neighbour also covers, in [0, 1) (default: %(default)s)")
    parser.add_argument("--window-batch", type=int, default=WINDOW_BATCH, metavar="N",
                        help="windows per forward pass (default: %(default)s)")
    parser.add_argument("--blend", default="gaussian", choices=BLENDS,
                        help="how overlapping windows combine: gaussian (centre counts most) or mean (default: %(default)s)")
    parser.add_argument("--scales", type=parse_scales, default=(1.0,), metavar="S,S,...",
                        help="multi-scale test-time augmentation: softmax probabilities averaged over these multiples "
                             "of the input scale, e.g. 0.75,1,1.25 (default: 1)")
    parser.add_argument("--backend", default="auto", choices=list_backends(),
                        help="runtime of a semantic network: torch (eager), compile (torch.compile, frozen weights), "
                             "onnxruntime, openvino, openvino-int8 (post-training int8 that keeps >= 99.6%% of the calibration "
                             "pixels' fp32 class; docs/inference.md has the "
                             "measured speed and accuracy of each); an instance model runs in torch or onnxruntime; "
                             "auto: torch for .pt, onnxruntime for .onnx (default: %(default)s)")
    parser.add_argument("--calibration", default=None, metavar="FOLDER",
                        help="openvino-int8: images to measure activation ranges and check agreement on (default: "
                             "images of the training split the model file records)")
    parser.add_argument("--flip", action="store_true",
                        help="horizontal-flip test-time augmentation: average the logits of each image and its mirror "
                             "(at every scale)")
