"""Average pooling to a fixed grid that exports to ONNX with dynamic input sizes.

``nn.AdaptiveAvgPool2d(bins)`` computes its windows from the input size. The TorchScript
ONNX exporter refuses it when H and W are dynamic, and the dynamo exporter bakes the
windows of the example input into the graph (other sizes then give wrong numbers). Here the
same windows are written as two small averaging matrices built from the input's shape with
ordinary tensor ops, so the exported graph recomputes them for every size.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _window_matrix(size: int, bins: int, like: Tensor) -> Tensor:
    """``(bins, size)`` matrix whose row ``i`` averages the window of adaptive pooling's bin ``i``.

    PyTorch's adaptive pooling gives bin ``i`` the window ``[floor(i*size/bins), ceil((i+1)*size/bins))``.
    """
    index = torch.arange(bins, device=like.device)
    start = torch.div(index * size, bins, rounding_mode="floor")  # (bins,)
    end = torch.div((index + 1) * size + bins - 1, bins, rounding_mode="floor")  # (bins,) ceil division
    position = torch.arange(size, device=like.device)  # (size,)
    inside = (position[None, :] >= start[:, None]) & (position[None, :] < end[:, None])  # (bins, size)
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


def adaptive_avg_pool2d(x: Tensor, bins: int) -> Tensor:
    """Exactly ``F.adaptive_avg_pool2d(x, bins)``, but exportable with dynamic H and W.

    Args:
        x: Feature map.
        bins: Output grid side (PSPNet uses 1, 2, 3 and 6).

    Returns:
        The pooled map.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, bins, bins)``.
    """
    rows = _window_matrix(x.shape[-2], bins, x)  # (bins, H)
    cols = _window_matrix(x.shape[-1], bins, x)  # (bins, W)
    return rows @ x @ cols.transpose(0, 1)  # (N, C, bins, H) @ (W, bins) -> (N, C, bins, bins)


def global_avg_pool2d(x: Tensor) -> Tensor:
    """Mean over H and W, keeping them as size 1 (DeepLab image pooling, LR-ASPP's attention).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, 1, 1)``.
    """
    return x.mean(dim=(2, 3), keepdim=True)
