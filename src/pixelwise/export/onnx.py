"""Export a segmentation model to ONNX with dynamic batch, height and width.

The graph of a semantic network is traced by ``torch.export`` (the dynamo exporter) with symbolic sizes,
so one ``.onnx`` file serves every input size; the model pads internally exactly as in PyTorch (instance
models: :mod:`pixelwise.export.onnx_detection`).
Pooling to fixed grids (PSPNet, ASPP image pooling) is written with shape-derived averaging
matrices (:mod:`pixelwise.models.pooling`) because ``AdaptiveAvgPool2d`` does not export with
dynamic sizes. :func:`verify_onnx` runs the file in onnxruntime and compares with PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.inference.backends.onnxruntime import SPEC_KEY
from pixelwise.modelfile.spec import ModelSpec, spec_for_model
from pixelwise.utils.atomic import atomic_path

INPUT_NAME = "images"
OUTPUT_NAME = "logits"


class _LogitsOnly(nn.Module):
    """``model(x)`` with the default ``return_aux=False``: the graph has one input and one output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)


def export_onnx(
    model: nn.Module,
    *,
    path: str | os.PathLike[str],
    height: int = 512,
    width: int = 512,
    in_channels: int | None = None,
    opset: int = 18,
    spec: ModelSpec | None = None,
) -> Path:
    """Export ``model`` (in eval mode) to an ONNX file with dynamic batch, height and width.

    The file's metadata (``metadata_props["pixelwise.spec"]``) records the model's
    :class:`~pixelwise.modelfile.spec.ModelSpec` (preprocessing, labels, provenance), so the exported
    file is a model file like any other: ``pixelwise.Predictor.from_file("m.onnx")`` runs it in
    onnxruntime with the preprocessing it was trained with.

    Args:
        model: A segmentation model returning logits ``(N, K, H, W)``.
        path: Destination ``.onnx`` file, written atomically (weights inside the file).
        height: Height of the example input used for tracing; other sizes work too.
        width: Width of the example input.
        in_channels: Input channels; default from ``model.pixelwise_config`` or 3.
        opset: ONNX opset version.
        spec: What to record; default: the spec the model was loaded with (``model.pixelwise_spec``),
            else one made from its recipe.

    Returns:
        The path written. A semantic model: input ``"images"`` float32 ``(N, C, H, W)``, output
        ``"logits"`` float32 ``(N, K, H, W)``. An instance model (Mask R-CNN): one image ``"image"``
        ``(C, H, W)`` in ``[0, 1]``, outputs ``"boxes"``, ``"labels"``, ``"scores"``, ``"masks"``
        (:mod:`pixelwise.export.onnx_detection`; opset 17 at most, where torchvision's export is tested).

    Raises:
        PixelwiseError: The exporter failed (the message names the first failing operator).
    """
    channels = in_channels or getattr(model, "pixelwise_config", {}).get("in_channels", 3)
    from pixelwise.models.registry import model_task

    name = getattr(model, "pixelwise_config", {}).get("name", "")
    task = model_task(name)
    if task not in ("semantic", "instance"):
        raise PixelwiseError(f"ONNX export of {task} models ({name}) is not supported yet; "
                             "run the model file (best.pt) in PyTorch")
    was_training = model.training
    model.eval()
    try:
        if task == "instance":
            from pixelwise.export.onnx_detection import detection_proto

            proto = detection_proto(model, height=height, width=width, in_channels=channels, opset=min(opset, 17))
        else:
            proto = _semantic_proto(model, height=height, width=width, in_channels=channels, opset=opset)
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise PixelwiseError(f"ONNX export of {type(model).__name__} failed: {first_line}") from None
    finally:
        model.train(was_training)
    import onnx

    spec = spec or getattr(model, "pixelwise_spec", None)
    if spec is None and getattr(model, "pixelwise_config", None):
        spec = spec_for_model(model)
    if spec is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = SPEC_KEY, json.dumps(spec.to_dict())
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return path


def _semantic_proto(model: nn.Module, *, height: int, width: int, in_channels: int, opset: int):
    """The dynamo exporter's graph of a segmentation network: dynamic batch, height and width."""
    example = torch.randn(2, in_channels, height, width)
    # A batch of 2 in the example: a batch of 1 would be specialised (ONNX batch fixed to 1).
    sizes = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # exporter chatter: progress lines, deprecations
        program = torch.onnx.export(
            _LogitsOnly(model),
            (example,),
            dynamo=True,
            dynamic_shapes={INPUT_NAME: sizes},
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            verbose=False,
        )
    return program.model_proto


def verify_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    sizes: Sequence[tuple[int, int]] = ((64, 64), (97, 131)),
    batch_size: int = 1,
    seed: int = 0,
) -> float:
    """Run the ONNX file in onnxruntime on random inputs and return the largest difference from PyTorch.

    Args:
        model: The PyTorch model that was exported (evaluated in eval mode).
        path: The ``.onnx`` file.
        sizes: ``(height, width)`` pairs to compare at; use sizes other than the export size.
        batch_size: Images per comparison.
        seed: Seed for the random inputs.

    Returns:
        ``max |onnx - torch|`` over all sizes.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    channels = session.get_inputs()[0].shape[1]
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    worst = 0.0
    try:
        for height, width in sizes:
            images = torch.randn(batch_size, channels, height, width, generator=generator)
            with torch.no_grad():
                expected = model(images).numpy()
            (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
            if actual.shape != expected.shape:
                raise PixelwiseError(f"{path}: onnxruntime gave shape {actual.shape}, PyTorch {expected.shape}")
            worst = max(worst, float(abs(actual - expected).max()))
    finally:
        model.train(was_training)
    return worst
