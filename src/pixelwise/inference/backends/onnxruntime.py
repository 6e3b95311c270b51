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


@register_backend("onnxruntime")
def onnxruntime_backend(request: BackendRequest) -> OnnxBackend:
    """ONNX Runtime on the CPU, as many threads as PyTorch uses, over the model file or its export."""
    with request.onnx_file() as path:
        return OnnxBackend(path, threads=torch.get_num_threads())
