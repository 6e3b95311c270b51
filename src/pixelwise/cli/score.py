"""``pixelwise score``: score any tool's output against the truth.

Three modes, one command:

- ``pixelwise score PRED_DIR TRUTH_DIR --num-classes N``: folders of label PNGs (semantic scores).
- ``pixelwise score --coco-gt GT.json --coco-results RESULTS.json``: COCO detections (box and mask AP).
- ``pixelwise score --panoptic-gt GT.json --panoptic-pred PRED.json``: COCO panoptic PNGs + JSON (PQ, SQ, RQ).
"""

from __future__ import annotations

import argparse

from pixelwise.cli.common import parse_class_names
from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import format_table
from pixelwise.metrics.folders import score_folders
from pixelwise.utils.atomic import atomic_write_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predicted label PNGs against truth PNGs, COCO detections (AP) or COCO panoptic maps (PQ)",
        description=(
            "Compare two folders of single-channel label PNGs matched by file name and print per-class IoU, Dice, "
            "precision, recall and F1 with mIoU, pixel accuracy and friends, computed from one dataset-level "
            "confusion matrix. With --coco-gt and --coco-results instead, print COCO box and mask AP (pycocotools' "
            "COCOeval) overall and per class. With --panoptic-gt and --panoptic-pred, print Panoptic Quality (PQ, SQ, RQ "
            "for All / Things / Stuff and per class, exactly as panopticapi's pq_compute). Exits with code 2 and one "
            "line naming the file on bad input."
        ),
    )
    parser.add_argument("pred_dir", metavar="PRED_DIR", nargs="?", help="folder of predicted label PNGs (one class index per pixel)")
    parser.add_argument("truth_dir", metavar="TRUTH_DIR", nargs="?", help="folder of ground-truth label PNGs with the same file names")
    parser.add_argument("--num-classes", type=int, default=None, metavar="N", help="number of classes; labels are 0..N-1 (label folders)")
    parser.add_argument(
        "--ignore-index", type=parse_ignore_index, default=IGNORE_INDEX, metavar="I",
        help=f"truth label that is not counted (default {IGNORE_INDEX}); 'none' counts every pixel",
    )  # fmt: skip
    parser.add_argument("--class-names", type=parse_class_names, default=None, metavar="a,b,...", help="comma-separated class names")
    coco = parser.add_argument_group("COCO instance scores (instead of PRED_DIR TRUTH_DIR)")
    coco.add_argument("--coco-gt", default=None, metavar="GT.json", help="COCO ground truth (images, annotations, categories)")
    coco.add_argument("--coco-results", default=None, metavar="RESULTS.json", help="detections in COCO's results format")
    coco.add_argument("--out", default=None, metavar="DIR",
                      help="write scores.json and per_class.csv (and pr_curves.png for COCO AP) into DIR")
    panoptic = parser.add_argument_group("COCO panoptic scores (instead of PRED_DIR TRUTH_DIR)")
    panoptic.add_argument("--panoptic-gt", default=None, metavar="GT.json", help="COCO panoptic truth JSON (annotations, categories with isthing)")
    panoptic.add_argument("--panoptic-gt-dir", default=None, metavar="DIR", help="the truth's PNGs (default: GT.json without .json)")
    panoptic.add_argument("--panoptic-pred", default=None, metavar="PRED.json", help="COCO panoptic prediction JSON")
    panoptic.add_argument("--panoptic-pred-dir", default=None, metavar="DIR", help="the prediction's PNGs (default: PRED.json without .json)")
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
    if any(getattr(args, name) is not None for name in _PANOPTIC_FLAGS):
        return run_panoptic(args)
    if args.coco_gt is not None or args.coco_results is not None:
        return run_coco(args)
    if args.out is not None:
        raise PixelwiseError("--out is for COCO and panoptic scores (--coco-gt, --panoptic-gt); for label folders use --json OUT")
    if args.pred_dir is None or args.truth_dir is None:
        raise PixelwiseError(
            "give PRED_DIR and TRUTH_DIR (folders of label PNGs), --coco-gt GT.json --coco-results RESULTS.json, "
            "or --panoptic-gt GT.json --panoptic-pred PRED.json"
        )
    if args.num_classes is None:
        raise PixelwiseError("--num-classes N is required to score label folders; give the number of classes")
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


def run_coco(args: argparse.Namespace) -> int:
    """``--coco-gt GT.json --coco-results RESULTS.json [--out DIR] [--json OUT]``."""
    from pixelwise.metrics.coco_eval import evaluate_coco_files
    from pixelwise.metrics.instance_report import format_instance_table, write_instance_outputs

    if args.coco_gt is None or args.coco_results is None:
        raise PixelwiseError("--coco-gt and --coco-results go together; give the ground-truth and the results JSON files")
    if args.pred_dir is not None:
        raise PixelwiseError("give either PRED_DIR TRUTH_DIR (label folders) or --coco-gt/--coco-results, not both")
    if args.num_classes is not None or args.class_names is not None:
        raise PixelwiseError("--num-classes and --class-names are for label folders; COCO files name their own categories")
    scores = evaluate_coco_files(ground_truth=args.coco_gt, results=args.coco_results)
    print(format_instance_table(scores))
    if args.json:
        atomic_write_json(args.json, scores.to_dict())
        print(f"wrote {args.json}")
    if args.out:
        for path in write_instance_outputs(scores, args.out):
            print(f"wrote {path}")
    return 0


_PANOPTIC_FLAGS = ("panoptic_gt", "panoptic_gt_dir", "panoptic_pred", "panoptic_pred_dir")


def run_panoptic(args: argparse.Namespace) -> int:
    """``--panoptic-gt GT.json --panoptic-pred PRED.json [--panoptic-gt-dir D] [--panoptic-pred-dir D] [--out DIR] [--json OUT]``."""
    from pixelwise.metrics.panoptic_files import evaluate_panoptic_files
    from pixelwise.metrics.panoptic_report import format_panoptic_table, write_panoptic_outputs

    if args.panoptic_gt is None or args.panoptic_pred is None:
        raise PixelwiseError("--panoptic-gt and --panoptic-pred go together; give the truth's and the prediction's panoptic JSON files")
    if args.pred_dir is not None or args.coco_gt is not None or args.coco_results is not None:
        raise PixelwiseError("give one of PRED_DIR TRUTH_DIR (label folders), --coco-gt/--coco-results or --panoptic-gt/--panoptic-pred")
    if args.num_classes is not None or args.class_names is not None:
        raise PixelwiseError("--num-classes and --class-names are for label folders; panoptic JSON files name their own categories")
    scores = evaluate_panoptic_files(
        gt_json=args.panoptic_gt, gt_dir=args.panoptic_gt_dir, pred_json=args.panoptic_pred, pred_dir=args.panoptic_pred_dir
    )
    print(format_panoptic_table(scores))
    if args.json:
        atomic_write_json(args.json, scores.to_dict())
        print(f"wrote {args.json}")
    if args.out:
        for path in write_panoptic_outputs(scores, args.out):
            print(f"wrote {path}")
    return 0
