"""``pixelwise export``: a model file -> ONNX with its preprocessing and labels, checked in onnxruntime."""

from __future__ import annotations

import argparse

from pixelwise.export.model_file import export_model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model file to ONNX (preprocessing and labels in its metadata) and check it",
        description=(
            "Export a trained model file to ONNX with dynamic batch, height and width; its preprocessing "
            "(mean/std, input scale) and labels go into the ONNX metadata, so `pixelwise predict --checkpoint "
            "m.onnx` runs it in onnxruntime as it was trained. The export is checked against PyTorch on a real "
            "image: the largest logit difference and the share of pixels with the same class are printed (instance "
            "models: the objects each found, the largest box difference and the agreement of their class maps)."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="best.pt, last.pt or a save_pretrained folder")
    parser.add_argument("--out", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    parser.add_argument("--image", default=None,
                        help="image to check the export on (default: the first image of the model's validation split)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = export_model(model=args.model, out=args.out, image=args.image, opset=args.opset)
    print(f"wrote {report.path}")
    print(report.summary())
    return 0
