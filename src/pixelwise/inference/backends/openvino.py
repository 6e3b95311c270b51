"""OpenVINO on the CPU, in fp32 (or bf16 where ``precision`` asks for it) or int8.

The network goes through ONNX (dynamic batch, height and width) into OpenVINO's CPU plugin, which fuses
and picks oneDNN kernels for the machine. ``openvino-int8`` quantises it post-training with NNCF:
activation ranges measured on calibration images (:mod:`~pixelwise.inference.calibration`), weights per
channel. Quantising every layer moved 0.7% of the CamVid recipe model's val pixels to another class; so
NNCF's accuracy control then measures, on the same calibration inputs, how often the int8 network's argmax
agrees with the fp32 one and puts the layers that cost the most agreement back in fp32 until it is at
least :data:`INT8_AGREEMENT`. Measured on that model (``benchmarks/RUNTIMES.md``, AVX2, one thread): val
agreement 99.32% -> 99.63%, at 1.15-1.23x eager's images/s instead of 1.51-1.61x, and 128 s to build.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from pixelwise.errors import PixelwiseError
from pixelwise.inference.backends.registry import BackendRequest, register_backend

INT8_AGREEMENT = 0.996
"""The share of calibration pixels whose class the int8 network must give as the fp32 network does."""


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


def read_model(request: BackendRequest):
    """The request's network as an ``openvino.Model`` (through ONNX)."""
    ov = _import("openvino")
    with request.onnx_file() as path:
        return ov.Core().read_model(str(path))


def _precision(request: BackendRequest) -> str:
    return "bf16" if request.amp_dtype == torch.bfloat16 else "f32"


@register_backend("openvino")
def openvino_backend(request: BackendRequest) -> OpenVinoBackend:
    """The network in OpenVINO's CPU plugin (fp32, or bf16 where ``precision`` resolves to it)."""
    return OpenVinoBackend(read_model(request), threads=torch.get_num_threads(), precision=_precision(request))


@register_backend("openvino-int8")
def openvino_int8_backend(request: BackendRequest) -> OpenVinoBackend:
    """The network quantised to int8 by NNCF on the calibration inputs, with argmax agreement with fp32
    of at least :data:`INT8_AGREEMENT` on them."""
    return int8_backend(request, agreement=INT8_AGREEMENT)


def int8_backend(request: BackendRequest, *, agreement: float | None) -> OpenVinoBackend:
    """The request's network quantised on its calibration inputs (``agreement``: as for :func:`quantize`),
    its remaining fp32 layers in the request's precision."""
    model = quantize(read_model(request), [x.numpy() for x in request.calibration()], agreement=agreement)
    return OpenVinoBackend(model, threads=torch.get_num_threads(), precision=_precision(request))


def quantize(model, inputs: list[np.ndarray], *, agreement: float | None):
    """``model`` (an ``openvino.Model``) with int8 weights and activations, ranges measured on ``inputs``
    (normalised ``(n, C, h, w)`` batches).

    Args:
        model: The fp32 network.
        inputs: Calibration batches.
        agreement: Keep the layers whose quantisation costs the most argmax agreement with the fp32 network
            (on ``inputs``) in fp32 until the agreement is at least this; ``None``: quantise every layer NNCF
            can (the fastest network, whatever it gets wrong).
    """
    nncf = _import("nncf")
    with _nncf_messages() as messages, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if agreement is None:
            return nncf.quantize(model, nncf.Dataset(inputs), subset_size=len(inputs))
        reference = OpenVinoBackend(model, threads=torch.get_num_threads(), precision="f32").compiled
        items = [(x, np.asarray(reference(x)[0]).argmax(1)) for x in inputs]

        def agreement_with_fp32(compiled, data) -> tuple[float, list[float]]:
            shares = [float((np.asarray(compiled(x)[0]).argmax(1) == labels).mean()) for x, labels in data]
            return float(np.mean(shares)), shares

        quantized = nncf.quantize_with_accuracy_control(
            model, nncf.Dataset(inputs), nncf.Dataset(items, lambda item: item[0]), agreement_with_fp32,
            max_drop=1.0 - agreement, subset_size=len(inputs),
        )
    if any("could not achieve" in message for message in messages):  # NNCF ran out of layers to put back
        reached, _ = agreement_with_fp32(OpenVinoBackend(quantized, threads=torch.get_num_threads(), precision="f32")
                                         .compiled, items)  # fmt: skip
        if reached < agreement:
            warnings.warn(f"openvino-int8 gives {reached:.2%} of the calibration pixels their fp32 class, short of "
                          f"{agreement:.1%} even with its most sensitive layers back in fp32; check it on your data "
                          "or use --backend openvino (fp32)", stacklevel=2)
    return quantized


@contextlib.contextmanager
def _nncf_messages() -> Iterator[list[str]]:
    """NNCF's log lines while the block runs, kept instead of printed."""
    logger = logging.getLogger("nncf")
    messages: list[str] = []
    keep = logging.Handler(logging.INFO)
    keep.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers, logger.propagate = [keep], False
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])
