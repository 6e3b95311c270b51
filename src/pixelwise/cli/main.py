"""Entry point of the ``pixelwise`` command.

Each subcommand lives in its own module of this package, exposing
``add_parser(subparsers)`` (which sets ``func`` to the handler) and a handler
``run(args) -> int``. Handlers only translate flags into a call of the Python API.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pixelwise.errors import PixelwiseError

# One module per subcommand, in the order ``pixelwise --help`` lists them.
COMMANDS = ("demo", "train", "evaluate", "predict", "export", "score", "serve", "report", "data", "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelwise",
        description="Deep image segmentation: train, evaluate, predict and score segmentation models.",
    )
    parser.add_argument("--version", action="version", version=f"pixelwise {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"pixelwise.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PixelwiseError as error:
        print(f"pixelwise: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pixelwise: interrupted", file=sys.stderr)
        return 130


def one_line(error: BaseException) -> str:
    """The user's message of an error, without the worker traceback a DataLoader worker wraps around it.

    An error raised in a DataLoader worker comes back as ``Caught PixelwiseError in DataLoader worker
    process 0. Original Traceback (most recent call last): ... PixelwiseError: MESSAGE``: keep MESSAGE.
    """
    text = str(error)
    if "Original Traceback" in text:
        last = text.strip().splitlines()[-1]
        text = last.split("PixelwiseError: ", 1)[-1]
    return text.strip()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pixelwise")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
