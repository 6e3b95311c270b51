"""Fold BatchNorm into the convolution before it, for inference.

In eval mode a BatchNorm is a fixed per-channel affine map, so ``bn(conv(x))`` equals one
convolution with rescaled weights and a new bias. Folding it removes a full pass over every
feature map (one memory-bound read and write per BatchNorm) from each forward pass.

Which BatchNorm reads which convolution is found by running the model once and watching the
tensors, not from module names or types, so any architecture and any timm encoder is handled.
The folded model is then checked against the original on the same input; if they disagree
(a convolution's output also read elsewhere, say) the original model is returned unchanged.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


@torch.no_grad()
def fold_batchnorm(model: nn.Module, *, example: Tensor) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every foldable ``BatchNorm2d`` folded into its convolution.

    Args:
        model: Any model; it is not modified.
        example: An input batch, e.g. ``torch.randn(1, 3, 64, 64)``, used to see which convolution
            feeds which BatchNorm and to check the result.

    Returns:
        The folded copy, in eval mode, or an eval-mode copy without folding when the check fails.
    """
    folded = copy.deepcopy(model).eval()
    pairs = _conv_batchnorm_pairs(folded, example)
    if not pairs:
        return folded
    expected = _first(folded(example))  # the unfolded copy's answer, before it is changed
    parents = {module: (parent, name) for parent in folded.modules() for name, module in parent.named_children()}
    for conv, bn in pairs:
        _fold_into(conv, bn)
        parent, name = parents[bn]
        setattr(parent, name, nn.Identity())
    actual = _first(folded(example))
    tolerance = 1e-4 * float(expected.abs().max()) + 1e-5
    if expected.shape != actual.shape or float((expected - actual).abs().max()) > tolerance:
        return copy.deepcopy(model).eval()
    return folded


def _first(output: Tensor | tuple[Tensor, ...]) -> Tensor:
    return output[0] if isinstance(output, tuple) else output


def _conv_batchnorm_pairs(model: nn.Module, example: Tensor) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """``(conv, bn)`` pairs where ``bn``'s input is exactly ``conv``'s output in one forward pass."""
    produced: dict[int, tuple[nn.Conv2d, Tensor]] = {}  # id(output) -> (conv, output kept alive so ids stay unique)
    pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d]] = []
    seen: set[int] = set()

    def after_conv(conv: nn.Module, _inputs: tuple, output: Tensor) -> None:
        produced[id(output)] = (conv, output)

    def before_bn(bn: nn.Module, inputs: tuple) -> None:
        source = produced.get(id(inputs[0]))
        if source is not None and id(bn) not in seen:
            seen.add(id(bn))
            pairs.append((source[0], bn))

    handles = []
    for module in model.modules():
        # Exact types only: subclasses (timm's BatchNormAct2d) also apply an activation.
        if type(module) is nn.Conv2d:
            handles.append(module.register_forward_hook(after_conv))
        elif type(module) is nn.BatchNorm2d and module.track_running_stats and module.running_mean is not None:
            handles.append(module.register_forward_pre_hook(before_bn))
    try:
        model(example)
    finally:
        for handle in handles:
            handle.remove()
    # A convolution read by two BatchNorms (or called twice) cannot be folded.
    counts: dict[int, int] = {}
    for conv, _ in pairs:
        counts[id(conv)] = counts.get(id(conv), 0) + 1
    return [(conv, bn) for conv, bn in pairs if counts[id(conv)] == 1]


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """``conv`` becomes ``bn(conv(.))``: ``w' = w * g / s``, ``b' = (b - mean) * g / s + beta``."""
    scale = bn.running_var.add(bn.eps).rsqrt()  # (C_out,) 1 / s
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    shift = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))  # (C_out, C_in/g, k, k)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + shift)
