"""``pixelwise report``: one self-contained HTML file for a training run or an evaluation folder."""

from __future__ import annotations

import argparse

from pixelwise.report import REPORT_NAME, report_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report (scores, charts, panels, curves, config) for a run folder",
        description=(
            "Write one HTML file that opens offline, with every picture embedded: the scores table, per-class IoU "
            "chart, confusion heatmap, sample panels, training curves and configuration (for instance models COCO's "
            "AP tables and PR curves, for panoptic models the PQ tables). RUN_DIR is a training "
            "run (pixelwise train --out; its eval/ evaluation is used when present) or an evaluation folder "
            "(pixelwise evaluate --out)."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a training run folder or an evaluation folder")
    parser.add_argument("--out", default=None, metavar="FILE", help=f"the HTML file (default: RUN_DIR/{REPORT_NAME})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = report_run(args.run_dir, out=args.out)
    print(f"wrote {path}")
    return 0
