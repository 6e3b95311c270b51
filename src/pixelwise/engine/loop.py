"""The two loops every task shares: one training epoch, and one pass of validation.

Neither looks inside a task: a training step sums the loss terms :meth:`Task.losses` returns,
and validation feeds :meth:`Task.infer`'s outputs to the task's evaluator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from pixelwise.inference.backends.torch import autocast
from pixelwise.tasks.base import Evaluation, Task

LogCallback = Callable[[float, float, int, dict[str, float]], None]


@dataclass
class StepContext:
    """What a training step needs besides the batch."""

    model: nn.Module
    task: Task
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool = False
    grad_clip: float | None = None
    grad_accum: int = 1


def train_one_epoch(
    ctx: StepContext,
    loader: DataLoader,
    *,
    before_step: Callable[[], bool],
    on_log: LogCallback,
    log_every: int,
) -> tuple[float, int]:
    """Run one pass over ``loader``.

    Args:
        ctx: Model, task, optimizer and precision settings.
        loader: Yields the task's batches.
        before_step: Called before each batch (sets the LR); returning ``False`` stops the epoch early
            (time budget spent).
        on_log: Receives ``(mean loss since the last call, images/s, batches since the last call,
            mean of each loss term)`` every ``log_every`` batches; reading the losses is the only host
            synchronisation in the loop.
        log_every: Batches between read-outs.

    Returns:
        ``(mean training loss over the epoch, number of images seen)``.
    """
    ctx.model.train()
    running: dict[str, Tensor] = {}
    epoch_sum, epoch_batches, window_batches, window_images, images_seen = 0.0, 0, 0, 0, 0
    window_start = time.perf_counter()
    ctx.optimizer.zero_grad(set_to_none=True)
    pending = False  # gradients accumulated but not yet applied

    def read_out() -> None:
        nonlocal epoch_sum, epoch_batches, window_batches, window_images, window_start
        terms = {name: float(value) / window_batches for name, value in running.items()}  # the one sync
        window_loss = terms.pop("total")
        epoch_sum += window_loss * window_batches
        epoch_batches += window_batches
        on_log(window_loss, window_images / max(time.perf_counter() - window_start, 1e-9), window_batches, terms)
        running.clear()
        window_batches, window_images, window_start = 0, 0, time.perf_counter()

    for index, batch in enumerate(loader):
        if not before_step():
            break
        batch = ctx.task.to_device(batch, ctx.device, channels_last=ctx.channels_last)
        with autocast(ctx.device, ctx.amp_dtype):
            terms = ctx.task.losses(ctx.model, batch)
        loss = sum(terms.values())
        ctx.scaler.scale(loss / ctx.grad_accum).backward()
        pending = (index + 1) % ctx.grad_accum != 0
        if not pending:
            _optimizer_step(ctx)
        for name, value in {"total": loss, **(terms if len(terms) > 1 else {})}.items():
            running[name] = running.get(name, 0) + value.detach()
        window_batches += 1
        size = ctx.task.batch_size(batch)
        window_images += size
        images_seen += size
        if window_batches == log_every:
            read_out()
    if window_batches:
        read_out()
    if pending:
        _optimizer_step(ctx)  # apply a partial accumulation at the end of the epoch
    return (epoch_sum / epoch_batches if epoch_batches else float("nan")), images_seen


def _optimizer_step(ctx: StepContext) -> None:
    if ctx.grad_clip is not None:
        ctx.scaler.unscale_(ctx.optimizer)
        torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), ctx.grad_clip)
    ctx.scaler.step(ctx.optimizer)
    ctx.scaler.update()
    ctx.optimizer.zero_grad(set_to_none=True)


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, *, task: Task, device: torch.device, channels_last: bool = False) -> Evaluation:
    """The task's evaluation of ``model`` over ``loader``, summed over every ``torchrun`` process."""
    model.eval()
    evaluator = task.evaluator(device=device)
    for batch in loader:
        batch = task.to_device(batch, device, channels_last=channels_last)
        evaluator.update(task.infer(model, batch), batch)
    evaluator.all_reduce()
    return evaluator.compute()
