"""ONNX Runtime: an exported ``.onnx`` file, its preprocessing and labels read from the file's metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.inference.backends.registry import BackendRequest, register_backend
from pixelwise.modelfile.spec import ModelSpec

SPEC_KEY = "pixelwise.spec"
"""The ONNX ``metadata_props`` key holding the model's :class:`~pixelwise.modelfile.spec.ModelSpec` as JSON."""


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise PixelwiseError(
            "running an .onnx model needs onnxruntime; install it with: pip install 'pixelwise[onnx]'"
        ) from None
    return onnxruntime


class OnnxBackend:
    """An ONNX Runtime CPU session over an exported model (input ``images``, output ``logits``).

    Args:
        path: The ``.onnx`` file written by :func:`pixelwise.export_onnx` / ``pixelwise export``.
        threads: Intra-op threads (``None``: onnxruntime's default, one per core).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        ort = _onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise PixelwiseError(f"ONNX file {self.path} does not exist; export one with pixelwise export")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for bad files
            raise PixelwiseError(f"{self.path} is not a valid ONNX model ({str(error).splitlines()[0]}); export it again") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def spec(self) -> ModelSpec:
        """The spec ``pixelwise export`` stored in the file's metadata."""
        metadata = self.session.get_modelmeta().custom_metadata_map
        if SPEC_KEY not in metadata:
            raise PixelwiseError(
                f"{self.path} has no pixelwise metadata (was it exported by another tool?); export it with pixelwise export"
            )
        return ModelSpec.from_dict(json.loads(metadata[SPEC_KEY]), where=str(self.path))

    def prepare(self, x: Tensor) -> Tensor:
        return x.cpu().contiguous()

    def __call__(self, x: Tensor) -> Tensor:
        (logits,) = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        return torch.from_numpy(logits)  # (N, K, H, W)


class OnnxDetector:
    """An exported detection model (:mod:`pixelwise.export.onnx_detection`) in an ONNX Runtime session, called as
    torchvision's model is in eval mode: a list of ``(C, H, W)`` images in ``[0, 1]`` -> one dict per image
    (``boxes``, ``labels``, ``scores``, ``masks (N, 1, H, W)``). The graph reads one image, so a list runs
    image by image; the masks it returns at the mask head's resolution are pasted into their boxes here."""

    def __init__(self, backend: OnnxBackend) -> None:
        from pixelwise.export.onnx_detection import DETECTION_OUTPUTS, IMAGE_NAME

        if backend.input_name != IMAGE_NAME:
            raise PixelwiseError(f"{backend.path} is not an exported instance model (its input is {backend.input_name!r}); "
                                 "export it again with pixelwise export")
        self.backend, self.outputs = backend, list(DETECTION_OUTPUTS)

    def __call__(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        from torchvision.models.detection.roi_heads import paste_masks_in_image

        found = []
        for image in images:
            feed = {self.backend.input_name: np.ascontiguousarray(image.cpu().numpy(), dtype=np.float32)}
            output = dict(zip(self.outputs, map(torch.from_numpy, self.backend.session.run(self.outputs, feed)), strict=True))
            # the graph stops before the paste, which runs faster here (pixelwise.export.onnx_detection)
            output["masks"] = paste_masks_in_image(output["masks"], output["boxes"], tuple(image.shape[-2:]))
            found.append(output)
        return found


@register_backend("onnxruntime")
def onnxruntime_backend(request: BackendRequest) -> OnnxBackend:
    """ONNX Runtime on the CPU, as many threads as PyTorch uses, over the model file or its export."""
    with request.onnx_file() as path:
        return OnnxBackend(path, threads=torch.get_num_threads())
