"""``pixelwise evaluate``: score a model file on a dataset split; table, JSON, CSV, heatmap, chart, panels."""

from __future__ import annotations

import argparse

from pixelwise.classical.registry import list_methods
from pixelwise.cli.common import add_strategy_arguments, parse_options, strategy_options
from pixelwise.engine.config import PRECISIONS
from pixelwise.engine.evaluate import INSTANCE_SPLITS, evaluate
from pixelwise.metrics import format_table
from pixelwise.metrics.panoptic_scores import PanopticScores
from pixelwise.tasks.instance import InstanceEvaluation


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
    add_strategy_arguments(parser)  # --window, --overlap, --window-batch, --blend, --scales, --flip
    parser.add_argument("--instance-checkpoint", default=None, metavar="MODEL",
                        help="an instance model file to fuse with the semantic --checkpoint into panoptic predictions "
                             "(stuff from the semantic model, things from this one); scored with PQ")
    parser.add_argument("--as-instances", nargs="?", const=True, default=False, choices=INSTANCE_SPLITS,
                        metavar="SPLIT",
                        help="score a semantic model as an instance model (the baseline Mask R-CNN is compared with); "
                             "COCO AP on the dataset's instances. SPLIT: components (each connected region of a class "
                             "is one object) or watershed (touching objects split at the peaks of the distance "
                             "transform); without SPLIT: watershed for --model watershed, components for the rest")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="how to compute: " + ", ".join(PRECISIONS) + " (default: %(default)s)")
    parser.add_argument("--html", action="store_true",
                        help="also write --out/report.html: one self-contained page (scores, charts, panels, curves, config; "
                             "AP tables and PR curves for instance models, PQ tables for panoptic ones)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scores = evaluate(
        checkpoint=args.checkpoint, model=args.model, model_options=parse_options(args.model_option) or None,
        dataset=args.dataset, root=args.root, split=args.split, out=args.out,
        dataset_options=parse_options(args.dataset_option), num_panels=args.panels, batch_size=args.batch_size,
        workers=args.workers, device=args.device, precision=args.precision, input_scale=args.input_scale,
        html=args.html, as_instances=args.as_instances, **strategy_options(args),
        instance_checkpoint=args.instance_checkpoint,
    )
    if isinstance(scores, PanopticScores):
        from pixelwise.metrics.panoptic_report import format_panoptic_table

        print(format_panoptic_table(scores))
        if args.out:
            print(f"wrote scores.json, per_class.csv, pq.txt, panoptic.json + panoptic/*.png, panel_*.png"
                  f"{', report.html' if args.html else ''} to {args.out}/")
        return 0
    if isinstance(scores, InstanceEvaluation):
        print(scores.format_table())
        if args.out:
            print(f"wrote metrics.json, ap.txt, per_class_ap.csv, pr_curves.png, panels.png"
                  f"{', report.html' if args.html else ''} to {args.out}/")
        return 0
    print(format_table(scores))
    if args.out:
        print(f"wrote metrics.json, per_class.csv, confusion.png, per_class_iou.png, panels.png"
              f"{', report.html' if args.html else ''} to {args.out}/")
    return 0
