"""Eager PyTorch: BatchNorm folded, channels_last, bf16 autocast where the hardware has it."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from pixelwise.inference.backends.registry import BackendRequest, register_backend
from pixelwise.models.fusion import fold_batchnorm


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``dtype``, or a no-op for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prepare_for_inference(model: nn.Module, *, in_channels: int) -> nn.Module:
    """Eval mode, BatchNorm folded into the convolutions, channels_last: the fastest eager form.

    Inputs should then be channels_last too (:meth:`TorchBackend.prepare` does it).
    """
    device = next(model.parameters()).device
    model = fold_batchnorm(model.eval(), example=torch.randn(1, in_channels, 64, 64, device=device))
    return model.to(memory_format=torch.channels_last)


class TorchBackend:
    """``model(x)`` under autocast, on ``device``, channels_last.

    Args:
        model: A segmentation network (prepared with :func:`prepare_for_inference` for speed).
        device: Where it runs.
        amp_dtype: Autocast dtype (``None``: fp32).
        channels_last: Feed inputs in the channels_last memory format.
    """

    def __init__(self, model: nn.Module, *, device: torch.device, amp_dtype: torch.dtype | None, channels_last: bool = True):
        self.model, self.device, self.amp_dtype, self.channels_last = model, device, amp_dtype, channels_last

    def prepare(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __call__(self, x: Tensor) -> Tensor:
        with autocast(self.device, self.amp_dtype):
            return self.model(x)


@register_backend("torch")
def torch_backend(request: BackendRequest) -> TorchBackend:
    """Eager PyTorch: BatchNorm folded, channels_last, autocast as ``precision`` says."""
    model = prepare_for_inference(request.eager_network("torch"), in_channels=request.in_channels)
    return TorchBackend(model, device=request.device, amp_dtype=request.amp_dtype)
