"""``pixelwise serve``: a web page to try a model and a JSON API (needs the ``web`` extra)."""

from __future__ import annotations

import argparse

from pixelwise.apps.web.limits import ServeLimits
from pixelwise.cli.common import add_strategy_arguments, strategy_options
from pixelwise.engine.config import PRECISIONS
from pixelwise.errors import PixelwiseError

_DEFAULT = ServeLimits()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="a web page to try a model (drop an image, see prediction and overlay) and a JSON API",
        description=(
            "Serve a page where you choose or drop an image and see image | prediction | overlay with each class's "
            "share (and, for instance and panoptic models, each instance or segment), and a JSON API: POST /api/predict (multipart field 'image'), GET /api/model, GET /healthz. "
            "Binds 127.0.0.1 unless --host says otherwise. Needs: pip install -e \".[web]\"."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="MODEL",
                        help="a model file: best.pt or last.pt from pixelwise train, an exported .onnx, a save_pretrained folder")
    source.add_argument("--demo", action="store_true",
                        help="serve the model `pixelwise demo` trains in --demo-dir (trained first when missing)")
    parser.add_argument("--demo-dir", default="pixelwise-demo", metavar="DIR", help="the demo's folder (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default: %(default)s, this machine only; the app has no authentication)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 for any free one (default: %(default)s)")
    parser.add_argument("--max-upload-mb", type=float, default=_DEFAULT.max_upload_bytes / 2**20, metavar="MB",
                        help="largest upload in MiB; larger ones get 413 (default: %(default)s)")
    parser.add_argument("--max-pixels", type=int, default=_DEFAULT.max_pixels, metavar="N",
                        help="most pixels an image may have, checked from its header before decoding (default: %(default)s)")
    parser.add_argument("--max-running", type=int, default=_DEFAULT.max_running, metavar="N",
                        help="predictions computed at once (default: %(default)s)")
    parser.add_argument("--max-waiting", type=int, default=_DEFAULT.max_waiting, metavar="N",
                        help="requests that may wait for a free slot; more get 503 (default: %(default)s)")
    parser.add_argument("--score-threshold", type=float, default=0.5, metavar="S",
                        help="instance models: show instances at least this confident (default: %(default)s)")
    add_strategy_arguments(parser)  # --window, --overlap, --window-batch, --blend, --scales, --flip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="how to compute: " + ", ".join(PRECISIONS) + " (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from pixelwise.apps.web.server import serve  # FastAPI and uvicorn: only when serving
    except ImportError as error:
        raise PixelwiseError(
            f"pixelwise serve needs the web extra ({error.name} is missing): "
            'python3 -m pip install -c constraints.txt -e ".[web]"'
        ) from None

    limits = ServeLimits(
        max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
        max_running=args.max_running, max_waiting=args.max_waiting,
    )  # fmt: skip
    serve(checkpoint=args.checkpoint, demo=args.demo, demo_dir=args.demo_dir, host=args.host, port=args.port,
          limits=limits, device=args.device, precision=args.precision, score_threshold=args.score_threshold,
          strategy=strategy_options(args))
    return 0
