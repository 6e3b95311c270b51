"""Upsampling, selectable where a paper leaves room: ``transpose``, ``nearest`` or ``bilinear``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.errors import PixelwiseError

UPSAMPLING_MODES = ("transpose", "nearest", "bilinear")

FP32_TRANSPOSE_KERNEL = 16
"""Transposed convolutions with a larger kernel run in fp32 under CPU bf16 autocast: oneDNN's bf16 kernels for
them are slow (measured on a 2-core AMX Xeon, 21 channels, one forward: 64x64 stride 32 at 16x16 input
1126 ms vs 52 in fp32; 32x32 stride 16: 213 vs 35; 16x16 stride 8: 34 vs 27, its training step 54 vs 103)."""


def check_upsampling(mode: str) -> str:
    """Return ``mode`` or raise a :class:`PixelwiseError` naming the valid modes."""
    if mode not in UPSAMPLING_MODES:
        raise PixelwiseError(f"unknown upsampling {mode!r}; choose one of {', '.join(UPSAMPLING_MODES)}")
    return mode


def resize(x: Tensor, size: tuple[int, int] | torch.Size, *, mode: str = "bilinear") -> Tensor:
    """Resize ``x`` to ``size`` with ``nearest`` or ``bilinear`` (``align_corners=False``) interpolation."""
    if mode == "bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return F.interpolate(x, size=size, mode="nearest")


def bilinear_kernel(channels: int, kernel_size: int) -> Tensor:
    """Weights that make a transposed convolution upsample each channel bilinearly (FCN's initialisation).

    Returns:
        ``(channels, channels, k, k)``: zero except a bilinear filter on the diagonal, so channel
        ``c`` of the output only reads channel ``c`` of the input.
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(kernel_size, dtype=torch.float32) - center).abs() / factor  # (k,)
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = taps[:, None] * taps[None, :]  # (k, k) on the diagonal
    return weight


class Upsample(nn.Module):
    """Upsample by an integer ``scale`` and map ``in_channels`` to ``out_channels``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        scale: Integer factor.
        mode: ``"transpose"``: a learned transposed convolution of ``kernel_size`` (default ``scale``,
            padding ``(kernel_size - scale) / 2`` so the output is exactly ``scale`` times larger);
            ``"nearest"``/``"bilinear"``: interpolation, then a 1x1 convolution when the channel
            count changes.
        kernel_size: Transposed-convolution kernel (FCN uses ``2 * scale``, U-Net ``2``).
        bias: Whether the convolution has a bias.
        bilinear_init: Start the transposed convolution as bilinear interpolation (FCN); needs
            ``in_channels == out_channels``.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, scale*H, scale*W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        scale: int,
        mode: str,
        kernel_size: int | None = None,
        bias: bool = True,
        bilinear_init: bool = False,
    ) -> None:
        super().__init__()
        check_upsampling(mode)
        self.scale = scale
        self.mode = mode
        self.conv: nn.Module
        if mode == "transpose":
            kernel_size = scale if kernel_size is None else kernel_size
            padding = (kernel_size - scale) // 2
            self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=scale, padding=padding, bias=bias)
            if bilinear_init:
                with torch.no_grad():
                    self.conv.weight.copy_(bilinear_kernel(in_channels, kernel_size))
                    if bias:
                        self.conv.bias.zero_()
        elif in_channels != out_channels:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)
        else:
            self.conv = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "transpose":
            if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and max(self.conv.kernel_size) > FP32_TRANSPOSE_KERNEL:
                with torch.autocast("cpu", enabled=False):
                    return self.conv(x.float())  # (N, C_out, s*H, s*W), fp32
            return self.conv(x)  # (N, C_out, s*H, s*W)
        size = (x.shape[-2] * self.scale, x.shape[-1] * self.scale)
        return self.conv(resize(x, size, mode=self.mode))  # (N, C_out, s*H, s*W)
