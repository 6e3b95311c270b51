"""Turning an ``int64`` label map into what the losses need: a validity mask, a one-hot tensor.

Every loss in pixelwise takes logits ``(N, C, H, W)`` and a target ``(N, H, W)`` of class
indices in which ``ignore_index`` (default :data:`pixelwise.constants.IGNORE_INDEX`, 255)
marks pixels that must not count: they add nothing to the loss and receive no gradient.
``ignore_index=None`` counts every pixel.

Nothing here synchronises with the device (no ``.item()``, no data-dependent shapes), so
the losses stay fast inside a training step on a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_logits_and_target(logits: Tensor, target: Tensor, *, loss: str) -> None:
    """Raise ``ValueError`` unless ``logits`` is ``(N, C, *S)`` and ``target`` is an integer ``(N, *S)``."""
    if logits.ndim < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"{loss}: logits {tuple(logits.shape)} and target {tuple(target.shape)} do not match; "
            "expected logits (N, C, H, W) and target (N, H, W)"
        )
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"{loss}: target must hold int64 class indices, got dtype {target.dtype}")


def valid_mask(target: Tensor, *, ignore_index: int | None) -> Tensor:
    """``True`` where a pixel counts.

    Shape:
        target: ``(N, *S)``; returns a bool tensor of the same shape.
    """
    if ignore_index is None:
        return torch.ones_like(target, dtype=torch.bool)
    return target != ignore_index


def one_hot(target: Tensor, *, num_classes: int) -> Tensor:
    """Float one-hot encoding along a new axis 1; ignored (or out-of-range) labels give all zeros.

    Unlike ``F.one_hot`` this needs no range check, so it never waits for the device.

    Shape:
        target: ``(N, *S)``; returns ``(N, C, *S)`` float32.
    """
    classes = torch.arange(num_classes, device=target.device).view(1, num_classes, *([1] * (target.ndim - 1)))
    return (target.unsqueeze(1) == classes).float()  # (N, C, *S)


def safe_labels(target: Tensor, valid: Tensor) -> Tensor:
    """``target`` with ignored pixels set to class 0, so it can index a per-class table."""
    return torch.where(valid, target, torch.zeros_like(target))


def masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` over valid positions; 0 (with a zero gradient) when none is valid.

    Shape:
        values: any shape; valid: broadcastable to it.
    """
    valid = valid.expand_as(values)
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return total / valid.sum().clamp_min(1)


def as_class_weights(weights: Tensor | Sequence[float] | None) -> Tensor | None:
    """A per-class weight table as a 1-D float32 tensor (``None`` stays ``None``)."""
    if weights is None:
        return None
    tensor = torch.as_tensor(weights, dtype=torch.float32)
    if tensor.ndim != 1:
        raise ValueError(f"class weights must be one number per class, got shape {tuple(tensor.shape)}")
    return tensor


def check_class_weights(weights: Tensor | None, num_classes: int, *, loss: str) -> None:
    """Raise ``ValueError`` when a weight table's length differs from the logits' class count."""
    if weights is not None and weights.numel() != num_classes:
        raise ValueError(f"{loss}: {weights.numel()} class weights given for logits with {num_classes} classes")


def sigmoid_targets(logits: Tensor, target: Tensor, *, ignore_index: int | None) -> tuple[Tensor, Tensor]:
    """Per-channel 0/1 targets for losses that put a sigmoid on each logit channel.

    With one channel the task is binary: label 1 is the foreground and every other label
    (except ``ignore_index``) background. With ``C > 1`` channels each channel ``c`` is the
    one-vs-all problem "is this pixel class ``c``?".

    Returns:
        ``(targets, valid)``: float targets shaped like ``logits`` and a bool mask
        ``(N, 1, *S)`` that broadcasts over the channels.

    Shape:
        logits: ``(N, C, *S)``; target: ``(N, *S)``.
    """
    valid = valid_mask(target, ignore_index=ignore_index).unsqueeze(1)  # (N, 1, *S)
    if logits.shape[1] == 1:
        targets = (target == 1).unsqueeze(1).float()  # (N, 1, *S)
    else:
        targets = one_hot(target, num_classes=logits.shape[1])  # (N, C, *S)
    return targets, valid


def upcast(logits: Tensor) -> Tensor:
    """``logits`` in float32 at least: softmax sums and logs of fp16/bf16 values lose too much."""
    return logits if logits.dtype == torch.float64 else logits.float()
