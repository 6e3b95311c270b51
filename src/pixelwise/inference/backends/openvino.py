"""OpenVINO on the CPU, in fp32 (or bf16 where ``precision`` asks for it) or int8.

The network goes through ONNX (dynamic batch, height and width) into OpenVINO's CPU plugin, which fuses
and picks oneDNN kernels for the machine. ``openvino-int8`` quantises it post-training with NNCF:
activation ranges measured on calibration images (:mod:`~pixelwise.inference.calibration`), weights per
channel, the first and last layers and the softmax-free logits as NNCF's default preset leaves them.
"""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np
import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.inference.backends.registry import BackendRequest, register_backend


def _import(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise PixelwiseError(f"this backend needs {module}; install it with: pip install 'pixelwise[openvino]'") from None


class OpenVinoBackend:
    """A compiled OpenVINO model: normalised ``(N, C, h, w)`` float32 -> logits ``(N, K, h, w)``.

    Args:
        model: An ``openvino.Model`` (read from ONNX, possibly quantised).
        threads: CPU threads for inference.
        precision: ``"f32"`` or ``"bf16"`` (OpenVINO's own default is bf16 on CPUs with AMX; pixelwise
            asks explicitly, so ``precision="fp32"`` means fp32 everywhere).
    """

    def __init__(self, model, *, threads: int, precision: str) -> None:
        ov = _import("openvino")
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        self.compiled = ov.Core().compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()

    def prepare(self, x: Tensor) -> Tensor:
        return x.cpu().contiguous()

    def __call__(self, x: Tensor) -> Tensor:
        result = self.request.infer({0: np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        return torch.from_numpy(np.array(result[0]))  # (N, K, H, W), copied out of the request's buffer


def _read(request: BackendRequest):
    ov = _import("openvino")
    with request.onnx_file() as path:
        return ov.Core().read_model(str(path))


def _precision(request: BackendRequest) -> str:
    return "bf16" if request.amp_dtype == torch.bfloat16 else "f32"


@register_backend("openvino")
def openvino_backend(request: BackendRequest) -> OpenVinoBackend:
    """The network in OpenVINO's CPU plugin (fp32, or bf16 where ``precision`` resolves to it)."""
    return OpenVinoBackend(_read(request), threads=torch.get_num_threads(), precision=_precision(request))


@register_backend("openvino-int8")
def openvino_int8_backend(request: BackendRequest) -> OpenVinoBackend:
    """The network quantised to int8 by NNCF's post-training quantisation on the calibration inputs."""
    nncf = _import("nncf")
    model = _read(request)
    inputs = [x.numpy() for x in request.calibration()]
    logging.getLogger("nncf").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bars
        quantized = nncf.quantize(model, nncf.Dataset(inputs), subset_size=len(inputs))
    return OpenVinoBackend(quantized, threads=torch.get_num_threads(), precision=_precision(request))
