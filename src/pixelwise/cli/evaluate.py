"""``pixelwise evaluate``: score a model file on a dataset split; table, JSON, CSV, heatmap, chart, panels."""

from __future__ import annotations

import argparse

from pixelwise.classical.registry import list_methods
from pixelwise.cli.common import parse_options
from pixelwise.engine.config import PRECISIONS
from pixelwise.engine.evaluate import evaluate
from pixelwise.metrics import format_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint on a dataset split and write table, JSON, CSV, heatmap, chart and panels",
        description=(
            "Run a trained checkpoint (or, with --model, a classical method fitted on the train split) over a dataset split, print the per-class table (IoU, Dice, precision, recall, "
            "F1) and write metrics.json (the `pixelwise score` schema), per_class.csv, confusion.png, "
            "per_class_iou.png and panels.png (image | truth | prediction | error map) into --out."
        ),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", metavar="MODEL",
                       help="a model file: best.pt or last.pt from pixelwise train, an exported .onnx, a save_pretrained folder")
    which.add_argument("--model", default=None, metavar="NAME", choices=list_methods(),
                       help="instead, a classical method, fitted on the dataset's train split: " + ", ".join(list_methods()))
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option of the --model method, YAML value (repeatable; `pixelwise models` lists them)")
    parser.add_argument("--dataset", default=None,
                        help="dataset format (see `pixelwise data list`; default: the one the model was trained on)")
    parser.add_argument("--root", default=None, help="dataset folder (default: the one the model was trained on)")
    parser.add_argument("--split", default="val", help="split to score (default: %(default)s)")
    parser.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dataset option recorded in the model file (repeatable)")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for the files (default: print only)")
    parser.add_argument("--panels", type=int, default=6, metavar="N", help="sample panels to draw (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default: %(default)s)")
    parser.add_argument("--input-scale", type=float, default=None,
                        help="run the model on images resized by this factor (default: the training scale)")
    parser.add_argument("--flip", action="store_true",
                        help="horizontal-flip test-time augmentation: average the logits of each image and its mirror")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="how to compute: " + ", ".join(PRECISIONS) + " (default: %(default)s)")
    parser.add_argument("--html", action="store_true",
                        help="also write --out/report.html: one self-contained page (scores, charts, panels, curves, config)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scores = evaluate(
        checkpoint=args.checkpoint, model=args.model, model_options=parse_options(args.model_option) or None,
        dataset=args.dataset, root=args.root, split=args.split, out=args.out,
        dataset_options=parse_options(args.dataset_option), num_panels=args.panels, batch_size=args.batch_size,
        workers=args.workers, device=args.device, precision=args.precision, input_scale=args.input_scale,
        flip=args.flip, html=args.html,
    )
    print(format_table(scores))
    if args.out:
        print(f"wrote metrics.json, per_class.csv, confusion.png, per_class_iou.png, panels.png"
              f"{', report.html' if args.html else ''} to {args.out}/")
    return 0
