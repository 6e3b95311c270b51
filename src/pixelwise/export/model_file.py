"""``pixelwise export``: a trained model file -> an ONNX file with its preprocessing and labels, checked
in onnxruntime against PyTorch on a real image."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from pixelwise.errors import PixelwiseError
from pixelwise.export.onnx import export_onnx
from pixelwise.inference import Predictor
from pixelwise.inference.calibration import recorded_dataset
from pixelwise.inference.preprocess import read_input
from pixelwise.modelfile import load_model


@dataclass
class ExportReport:
    """An export and its check: the same image through PyTorch (fp32) and onnxruntime, same preprocessing.

    Attributes:
        path: The ``.onnx`` file written.
        image: What the check ran on (a file, or ``"<dataset> <split> #0"``).
        max_logit_difference: ``max |onnx - torch|`` over the image's logits (semantic models).
        argmax_agreement: Fraction of pixels whose predicted class is the same (instance models: in the
            class maps their detections paint).
        detections: Instance models: how many objects PyTorch and onnxruntime found (score >= 0.5).
        max_box_difference: Instance models: ``max |onnx - torch|`` over the box corners, in pixels, when
            both found the same number of objects.
    """

    path: Path
    image: str
    max_logit_difference: float | None
    argmax_agreement: float
    detections: tuple[int, int] | None = None
    max_box_difference: float | None = None

    def summary(self) -> str:
        """One line: how closely the export matches PyTorch."""
        same = f"same class on {100 * self.argmax_agreement:.3f}% of pixels"
        if self.detections is None:
            return f"checked on {self.image}: largest logit difference {self.max_logit_difference:.2e}, {same}"
        boxes = "" if self.max_box_difference is None else f", largest box difference {self.max_box_difference:.2e} px"
        return (f"checked on {self.image}: {self.detections[0]} objects in PyTorch, {self.detections[1]} in onnxruntime"
                f"{boxes}, {same} of the painted class maps")


def export_model(
    *,
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    image: str | os.PathLike[str] | None = None,
    opset: int = 18,
) -> ExportReport:
    """Export a model file to ONNX (spec in its metadata) and compare it with PyTorch on a real image.

    Args:
        model: A model file (``best.pt``, ``last.pt``, a ``save_pretrained`` folder).
        out: Destination ``.onnx`` file (written atomically).
        image: The image to check on; default: the first image of the validation split the model
            file records (its dataset must be readable here).
        opset: ONNX opset version.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise PixelwiseError(f"{out}: the exported file must end in .onnx")
    network = load_model(model)
    export_onnx(network, path=out, height=256, width=256, opset=opset, spec=network.pixelwise_spec)
    torch_predictor = Predictor.from_file(model, device="cpu", precision="fp32")
    onnx_predictor = Predictor.from_file(out)
    pixels, where = _check_image(torch_predictor, image)
    if network.pixelwise_spec.task == "instance":
        expected, actual = torch_predictor(pixels), onnx_predictor(pixels)
        same_count = len(expected) == len(actual)
        return ExportReport(
            path=out, image=where, max_logit_difference=None,
            argmax_agreement=float((expected.label_map == actual.label_map).float().mean()),
            detections=(len(expected), len(actual)),
            max_box_difference=float((expected.boxes - actual.boxes).abs().max()) if same_count and len(actual) else None,
        )  # fmt: skip
    expected = torch_predictor.class_scores(pixels[None])  # (1, K, H, W)
    actual = onnx_predictor.class_scores(pixels[None])
    return ExportReport(
        path=out,
        image=where,
        max_logit_difference=float((expected - actual).abs().max()),
        argmax_agreement=float((expected.argmax(1) == actual.argmax(1)).float().mean()),
    )


def _check_image(predictor, image) -> tuple[torch.Tensor, str]:
    if image is not None:
        return read_input(image, channels=predictor.in_channels), str(image)
    data, where = recorded_dataset(predictor.spec, split_keys=("val_split", "train_split"), fix="pass --image IMAGE")
    return data[0][0], f"{where} #0"
