"""``pixelwise data list|verify|download``: see the dataset formats, check a dataset, fetch a public one."""

from __future__ import annotations

import argparse
import inspect
import os

from pixelwise.cli.common import parse_options
from pixelwise.data import list_datasets
from pixelwise.data.download import SOURCES, default_cache_dir, download_dataset
from pixelwise.data.instances import INSTANCE_DATASETS, list_instance_datasets
from pixelwise.data.instances.registry import TASKS
from pixelwise.data.registry import DATASETS
from pixelwise.data.verify import verify_dataset
from pixelwise.data.verify_report import format_report, plot_class_shares
from pixelwise.registry import Registry
from pixelwise.utils.atomic import atomic_write_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="list dataset formats, verify a dataset on disk, download a public dataset",
        description="Work with datasets: `data list`, `data verify`, `data download` (see each one's --help).",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list the dataset formats and their options",
                                 description="List every dataset format --dataset accepts, with its options.")
    listing.set_defaults(func=run_list)

    verify = actions.add_parser(
        "verify",
        help="check every image/mask pair (or instance annotation) of a dataset and report per-split counts and class shares",
        description=(
            "Pair every image with its mask; check that every file decodes, sizes match and labels are classes "
            "or the ignore index; list files that belong to no split. Instance data (--task instance): check every "
            "annotation (unknown image or category, duplicate ids, polygons under 3 points, empty masks, boxes "
            "outside the image) and every image. Prints counts per split, each class's pixel (or instance) "
            "share, and every problem with its file and fix. Exits 1 when there is an error (warnings alone pass), "
            "2 on bad arguments."
        ),
    )
    names = sorted(set(list_datasets()) | set(list_instance_datasets()))
    verify.add_argument("--dataset", required=True, metavar="NAME", choices=names,
                        help=f"dataset format: {', '.join(names)}; `pixelwise data list` shows their options")
    verify.add_argument("--task", default=None, choices=TASKS,
                        help="read the files as semantic masks or as instances (default: semantic when the format "
                             "has a semantic reading, else instance, e.g. coco)")
    verify.add_argument("--root", required=True, metavar="PATH", help="the dataset folder")
    verify.add_argument("--split", default=None, metavar="S", help="check only this split (default: every split found)")
    verify.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="format option, YAML value (repeatable), e.g. num_classes=12 or mode=binary")
    verify.add_argument("--plot", default=None, metavar="PNG", help="also draw the class pixel shares as a bar chart")
    verify.add_argument("--json", default=None, metavar="OUT", help="also write the full report (every problem) as JSON")
    verify.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), metavar="N",
                        help="processes that check files in parallel (default: up to 4; 0: this process)")
    verify.add_argument("--max-problems", type=int, default=50, metavar="N",
                        help="problems printed per severity (default 50; --json has all)")
    verify.set_defaults(func=run_verify)

    download = actions.add_parser(
        "download",
        help="download and extract a public dataset (checksums verified, interrupted downloads resumed)",
        description=(
            "Download a public dataset from its canonical address into DIR/NAME, verify checksums, extract it "
            "and print the folder to pass as --root. Running it again resumes an interrupted download. "
            f"Sources: {', '.join(sorted(SOURCES))}."
        ),
    )
    download.add_argument("--dataset", required=True, metavar="NAME", choices=sorted(SOURCES), help="what to download")
    download.add_argument("--dir", default=None, metavar="DIR",
                          help=f"cache folder (default $PIXELWISE_DATA or {default_cache_dir()})")
    download.set_defaults(func=run_download)


def run_list(args: argparse.Namespace) -> int:
    print("semantic datasets (--task semantic):")
    _print_formats(DATASETS, list_datasets())
    print("\ninstance datasets (--task instance):")
    _print_formats(INSTANCE_DATASETS, list_instance_datasets())
    return 0


def _print_formats(registry: Registry, names: list[str]) -> None:
    for name in names:
        builder = registry.get(name)
        options = [p for p in inspect.signature(builder).parameters if p not in ("root", "split", "transform")]
        module_doc = (inspect.getmodule(builder).__doc__ or "").strip().splitlines()
        summary = module_doc[0].split(": ", 1)[-1] if module_doc else ""
        print(f"{name:12s} {summary}")
        print(f"{'':12s} options: {', '.join(options)}")


def run_verify(args: argparse.Namespace) -> int:
    options = parse_options(args.dataset_option)
    report = verify_dataset(
        dataset=args.dataset, root=args.root, split=args.split, workers=args.workers, task=args.task, **options
    )
    print(format_report(report, max_problems=args.max_problems))
    if args.json:
        atomic_write_json(args.json, report.to_dict())
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_class_shares(report, args.plot)}")
    return 0 if report.ok else 1


def run_download(args: argparse.Namespace) -> int:
    root = download_dataset(name=args.dataset, cache_dir=args.dir)
    print(f"done: use --root {root}")
    return 0
