"""The two loops every entry point shares: one training epoch, and inference over a dataset."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from pixelwise.engine.checkpoint import unwrap_model
from pixelwise.metrics import ConfusionMatrix


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``dtype``, or a no-op for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(image: Tensor, mask: Tensor, device: torch.device, channels_last: bool) -> tuple[Tensor, Tensor]:
    image = image.to(device, non_blocking=True)
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    return image, mask.to(device, non_blocking=True)


@dataclass
class StepContext:
    """What a training step needs besides the batch."""

    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool = False
    grad_clip: float | None = None
    grad_accum: int = 1
    aux_weight: float = 0.0


def train_one_epoch(
    ctx: StepContext,
    loader: DataLoader,
    *,
    before_step: Callable[[], bool],
    on_log: Callable[[float, float, int], None],
    log_every: int,
) -> tuple[float, int]:
    """Run one pass over ``loader``.

    Args:
        ctx: Model, loss, optimizer and precision settings.
        loader: Yields ``(image (N, C, H, W) float, mask (N, H, W) int64)``.
        before_step: Called before each batch (sets the LR); returning ``False`` stops the epoch early
            (time budget spent).
        on_log: Receives ``(mean loss since the last call, images/s, batches since the last call)`` every
            ``log_every`` batches; reading the loss is the only host synchronisation in the loop.
        log_every: Batches between read-outs.

    Returns:
        ``(mean training loss over the epoch, number of images seen)``.
    """
    ctx.model.train()
    running = torch.zeros((), device=ctx.device)
    epoch_sum, epoch_batches, window_batches, window_images, images_seen = 0.0, 0, 0, 0, 0
    window_start = time.perf_counter()
    ctx.optimizer.zero_grad(set_to_none=True)
    pending = False  # gradients accumulated but not yet applied
    for index, (image, mask) in enumerate(loader):
        if not before_step():
            break
        image, mask = to_device(image, mask, ctx.device, ctx.channels_last)
        with autocast(ctx.device, ctx.amp_dtype):
            loss = compute_loss(ctx, image, mask)
        ctx.scaler.scale(loss / ctx.grad_accum).backward()
        pending = (index + 1) % ctx.grad_accum != 0
        if not pending:
            _optimizer_step(ctx)
        running += loss.detach()
        window_batches += 1
        window_images += image.shape[0]
        images_seen += image.shape[0]
        if window_batches == log_every:
            window_loss = float(running) / window_batches  # the one sync per log_every steps
            epoch_sum += window_loss * window_batches
            epoch_batches += window_batches
            on_log(window_loss, window_images / max(time.perf_counter() - window_start, 1e-9), window_batches)
            running.zero_()
            window_batches, window_images, window_start = 0, 0, time.perf_counter()
    if window_batches:
        epoch_sum += float(running)
        epoch_batches += window_batches
        on_log(float(running) / window_batches, window_images / max(time.perf_counter() - window_start, 1e-9), window_batches)
    if pending:
        _optimizer_step(ctx)  # apply a partial accumulation at the end of the epoch
    return (epoch_sum / epoch_batches if epoch_batches else float("nan")), images_seen


def compute_loss(ctx: StepContext, image: Tensor, mask: Tensor) -> Tensor:
    """Main loss, plus ``aux_weight`` times the auxiliary head's loss when the model has one."""
    if ctx.aux_weight > 0 and getattr(unwrap_model(ctx.model), "aux_head", None) is not None:
        logits, aux = ctx.model(image, return_aux=True)
        return ctx.criterion(logits.float(), mask) + ctx.aux_weight * ctx.criterion(aux.float(), mask)
    return ctx.criterion(ctx.model(image).float(), mask)


def _optimizer_step(ctx: StepContext) -> None:
    if ctx.grad_clip is not None:
        ctx.scaler.unscale_(ctx.optimizer)
        torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), ctx.grad_clip)
    ctx.scaler.step(ctx.optimizer)
    ctx.scaler.update()
    ctx.optimizer.zero_grad(set_to_none=True)


def forward_at_scale(
    model: nn.Module, image: Tensor, *, scale: float = 1.0, short_side: int | None = None, flip: bool = False
) -> Tensor:
    """Logits at the input's size for a model run on the image resized by ``scale``
    (or resized so that its shorter side is ``short_side``).

    Shrinking the input (``scale < 1``) makes inference cheaper; the logits are upsampled
    bilinearly back, so scores still count every original pixel. ``flip`` is horizontal-flip
    test-time augmentation: the logits of the image and of its mirror image (mirrored back) are averaged,
    at twice the cost.
    """
    if flip:
        both = forward_at_scale(model, torch.cat([image, image.flip(-1)]), scale=scale, short_side=short_side)
        plain, mirrored = both.chunk(2)
        return (plain + mirrored.flip(-1)) / 2
    if short_side is not None:
        scale = short_side / min(image.shape[-2:])
    if scale == 1.0:
        return model(image)
    small = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False, antialias=scale < 1)
    logits = model(small)  # (N, K, sH, sW)
    return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)  # (N, K, H, W)


@torch.no_grad()
def run_inference(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    channels_last: bool = False,
    scale: float = 1.0,
    short_side: int | None = None,
    flip: bool = False,
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Yield ``(image, mask, logits float32)`` for every batch, the model in eval mode (see :func:`forward_at_scale`)."""
    model.eval()
    for image, mask in loader:
        image, mask = to_device(image, mask, device, channels_last)
        with autocast(device, amp_dtype):
            logits = forward_at_scale(model, image, scale=scale, short_side=short_side, flip=flip)
        yield image, mask, logits.float()


def validate(
    model: nn.Module,
    loader: DataLoader,
    *,
    num_classes: int,
    ignore_index: int | None,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    criterion: nn.Module | None = None,
    channels_last: bool = False,
    scale: float = 1.0,
    short_side: int | None = None,
) -> tuple[ConfusionMatrix, float]:
    """Confusion matrix (summed over all processes) and mean loss over ``loader``."""
    confusion = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index, device=device)
    loss_sum = torch.zeros(2, device=device, dtype=torch.float64)  # (sum of batch losses, batches)
    for _, mask, logits in run_inference(
        model, loader, device=device, amp_dtype=amp_dtype, channels_last=channels_last, scale=scale, short_side=short_side
    ):
        confusion.update(logits.argmax(1), mask)
        if criterion is not None:
            loss_sum += torch.stack([criterion(logits, mask).double(), torch.ones((), device=device, dtype=torch.float64)])
    confusion.all_reduce()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(loss_sum)
    mean_loss = float(loss_sum[0] / loss_sum[1]) if float(loss_sum[1]) > 0 else float("nan")
    return confusion, mean_loss
