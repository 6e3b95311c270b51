"""``pixelwise score PRED_DIR TRUTH_DIR``: score any tool's label PNGs against the truth."""

from __future__ import annotations

import argparse

from pixelwise.cli.common import parse_class_names
from pixelwise.constants import IGNORE_INDEX
from pixelwise.metrics import format_table
from pixelwise.metrics.folders import score_folders
from pixelwise.utils.atomic import atomic_write_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a folder of predicted label PNGs against a folder of truth PNGs",
        description=(
            "Compare two folders of single-channel label PNGs matched by file name and print per-class IoU, Dice, "
            "precision, recall and F1 with mIoU, pixel accuracy and friends, computed from one dataset-level "
            "confusion matrix. Exits with code 2 and one line naming the file on bad input."
        ),
    )
    parser.add_argument("pred_dir", metavar="PRED_DIR", help="folder of predicted label PNGs (one class index per pixel)")
    parser.add_argument("truth_dir", metavar="TRUTH_DIR", help="folder of ground-truth label PNGs with the same file names")
    parser.add_argument("--num-classes", type=int, required=True, metavar="N", help="number of classes; labels are 0..N-1")
    parser.add_argument(
        "--ignore-index", type=parse_ignore_index, default=IGNORE_INDEX, metavar="I",
        help=f"truth label that is not counted (default {IGNORE_INDEX}); 'none' counts every pixel",
    )  # fmt: skip
    parser.add_argument("--class-names", type=parse_class_names, default=None, metavar="a,b,...", help="comma-separated class names")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write every score to this JSON file")
    parser.set_defaults(func=run)


def parse_ignore_index(text: str) -> int | None:
    """``"255"`` -> 255; ``"none"`` -> ``None`` (every pixel is counted)."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a label; give an integer such as 255, or none") from None


def run(args: argparse.Namespace) -> int:
    scores = score_folders(
        pred_dir=args.pred_dir,
        truth_dir=args.truth_dir,
        num_classes=args.num_classes,
        ignore_index=args.ignore_index,
        class_names=args.class_names,
    )
    print(format_table(scores))
    if args.json:
        atomic_write_json(args.json, scores.to_dict())
        print(f"wrote {args.json}")
    return 0
