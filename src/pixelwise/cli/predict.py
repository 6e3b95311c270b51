"""``pixelwise predict``: segment images, folders or globs with any model file."""

from __future__ import annotations

import argparse
from pathlib import Path

from pixelwise.cli.common import add_strategy_arguments, strategy_options
from pixelwise.engine.config import PRECISIONS
from pixelwise.engine.predict import predict


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="write label, colour and overlay PNGs for images, folders or globs",
        description=(
            "Segment every input with a trained checkpoint and write NAME.png (index labels, palette embedded), "
            "NAME_color.png and NAME_overlay.png per image into --out. Unreadable inputs are reported and skipped; "
            "the exit code is 1 when any input failed."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or glob patterns")
    parser.add_argument("--checkpoint", required=True, metavar="MODEL",
                        help="a model file: best.pt or last.pt from pixelwise train, an exported .onnx, a save_pretrained folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default: %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity of the colour mask (default: %(default)s)")
    parser.add_argument("--input-scale", type=float, default=None,
                        help="run the model on images resized by this factor (default: the scale recorded in the model file)")
    add_strategy_arguments(parser)  # --window, --overlap, --window-batch, --blend, --scales, --flip
    parser.add_argument("--score-threshold", type=float, default=0.5, metavar="S",
                        help="instance models: write only instances at least this confident (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="how to compute: " + ", ".join(PRECISIONS) + " (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = predict(
        checkpoint=args.checkpoint, inputs=args.inputs, out=args.out, batch_size=args.batch_size,
        device=args.device, precision=args.precision, alpha=args.alpha, progress=not args.no_progress,
        input_scale=args.input_scale, score_threshold=args.score_threshold, **strategy_options(args),
    )
    files = sum(len(paths) for paths in report.written.values())
    images = sum(1 for path in report.written if path != Path(args.out))  # an instance run adds results.json
    print(f"wrote {files} files for {images} images to {args.out}/")
    for path, reason in report.failed.items():
        print(f"failed: {path}: {reason}")
    return 1 if report.failed else 0
