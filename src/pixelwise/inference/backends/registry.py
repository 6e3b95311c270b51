"""The runtimes a semantic network can run in, by name: ``--backend NAME`` / ``Predictor.from_file(backend=...)``.

A builder takes the trained network (fp32, eval mode) and how to run it, and returns a
:class:`~pixelwise.inference.network.Backend`: normalised images ``(N, C, h, w)`` -> logits
``(N, K, h, w)``. Strategies (sliding windows, TTA) wrap any of them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry

AUTO = "auto"
"""The default: eager PyTorch for a ``.pt`` model file, ONNX Runtime for an ``.onnx`` one."""


@dataclass(frozen=True)
class BackendRequest:
    """What a backend builder gets.

    Attributes:
        network: The segmentation network in fp32 and eval mode, on ``device`` (``None`` for an ``.onnx``
            model file, which only the ONNX runtimes read).
        onnx: The ``.onnx`` file, when the model file is one.
        in_channels: Its input channels.
        device: Where eager PyTorch runs it (the other runtimes run on the CPU).
        amp_dtype: The autocast dtype ``precision`` asked for (``None``: fp32).
        calibration: Representative normalised inputs, as the strategy feeds the network (read only by
            int8 backends, which need them to choose their quantisation ranges).
    """

    network: nn.Module | None
    in_channels: int
    device: torch.device
    amp_dtype: torch.dtype | None
    calibration: Callable[[], list[Tensor]]
    onnx: Path | None = None

    def eager_network(self, backend: str) -> nn.Module:
        """The PyTorch network, or a one-line error for an ``.onnx`` model file."""
        if self.network is None:
            raise PixelwiseError(f"backend {backend!r} runs the PyTorch model file (.pt); an .onnx file runs in "
                                 f"{', '.join(ONNX_BACKENDS)}")
        return self.network

    @contextmanager
    def onnx_file(self) -> Iterator[Path]:
        """The model as an ONNX file: the model file itself, or the network exported to a temporary folder
        (dynamic batch, height and width) that is removed once the runtime has read it."""
        if self.onnx is not None:
            yield self.onnx
            return
        with temporary_onnx(self.eager_network("onnx export"), in_channels=self.in_channels) as path:
            yield path


@contextmanager
def temporary_onnx(network: nn.Module, *, in_channels: int) -> Iterator[Path]:
    """``network`` exported to ONNX in a temporary folder (any input size), removed when the block ends:
    for a runtime that reads the file once."""
    import tempfile

    from pixelwise.export.onnx import export_onnx

    with tempfile.TemporaryDirectory(prefix="pixelwise-") as folder:
        yield export_onnx(network, path=Path(folder) / "model.onnx", height=256, width=256, in_channels=in_channels)


ONNX_BACKENDS = ("onnxruntime", "openvino", "openvino-int8")
"""The backends that read ONNX (an ``.onnx`` model file runs in these)."""

BackendBuilder = Callable[[BackendRequest], object]
BACKENDS: Registry[BackendBuilder] = Registry("backend")
register_backend = BACKENDS.register


def list_backends() -> list[str]:
    """The names ``--backend`` takes (``auto`` first)."""
    _register_all()
    return [AUTO, *BACKENDS.names()]


def create_backend(name: str, request: BackendRequest):
    """The backend called ``name`` for ``request``'s network (a one-line error lists the valid names)."""
    _register_all()
    if name in ONNX_BACKENDS and request.device.type != "cpu":
        raise PixelwiseError(f"backend {name!r} runs on the CPU; pass --device cpu, or --backend torch or compile "
                             f"on {request.device}")
    return BACKENDS.get(name)(request)


def _register_all() -> None:
    from pixelwise.inference.backends import compiled, onnxruntime, openvino, torch  # noqa: F401  (each registers)
