"""``pixelwise demo``: train and evaluate a small U-Net on synthetic shapes, offline."""

from __future__ import annotations

import argparse

from pixelwise.cli.common import format_scores
from pixelwise.engine.demo import DEMO_CONFIGS, run_demo


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train and evaluate a small U-Net on synthetic shapes (offline, a few minutes on a CPU)",
        description=(
            "Generate the synthetic 'shapes' dataset, train a small U-Net with the pixelwise engine, evaluate it on a "
            "held-out split and write metrics.json, curves.png and prediction panels into --out."
        ),
    )
    parser.add_argument("--out", default="pixelwise-demo", metavar="DIR", help="output folder (default: %(default)s)")
    parser.add_argument("--task", default="semantic", choices=list(DEMO_CONFIGS),
                        help="semantic: a U-Net on shapes; instance: a small Mask R-CNN on instance shapes, scored "
                             "with COCO AP (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None, metavar="N",
                        help="training epochs (default: the task's recipe, 12 semantic / 20 instance)")
    parser.add_argument("--train-images", type=int, default=512, metavar="N", help="synthetic training images (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, model and shuffling (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(out=args.out, task=args.task, epochs=args.epochs, train_images=args.train_images,
                      seed=args.seed, progress=not args.no_progress)
    print(format_scores(result.scores))
    score = (f"mask AP {result.scores.coco.mask_ap:.3f}" if args.task == "instance"
             else f"mIoU {result.scores.mean_iou:.3f}")
    print(f"\nvalidation {score} in {result.seconds / 60:.1f} min; files in {result.out}/ "
          f"(curves.png, eval/metrics.json, eval/panels.png)")
    return 0
