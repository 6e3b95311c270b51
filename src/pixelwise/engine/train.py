"""``pixelwise.train``: any zoo model on any dataset, resumable, single- or multi-process.

Reads top to bottom: data, model, loss, optimizer, (resume), then epochs of
train -> validate -> checkpoint -> log, stopping on the epoch count, the time budget
or early stopping.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from pixelwise.engine.budget import BudgetClock
from pixelwise.engine.builders import (
    build_criterion,
    build_datasets,
    build_loader,
    build_model,
    build_optimizer,
    build_train_transform,
)
from pixelwise.engine.checkpoint import load_checkpoint, restore_rng_states, save_checkpoint, unwrap_model
from pixelwise.engine.config import TrainConfig
from pixelwise.engine.distributed import broadcast_flag, cleanup_distributed, init_distributed
from pixelwise.engine.loop import StepContext, train_one_epoch, validate
from pixelwise.engine.run_log import RunLog
from pixelwise.engine.schedule import lr_factor, resize_factor
from pixelwise.metrics import SegmentationScores
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text
from pixelwise.utils.hardware import autocast_dtype, resolve_device


@dataclass
class TrainResult:
    """What a finished run produced."""

    out: Path
    best_miou: float
    epochs_run: int
    history: list[dict[str, Any]] = field(default_factory=list)
    scores: SegmentationScores | None = None  # validation scores of the best checkpoint


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(config: TrainConfig) -> TrainResult:
    """Train a model as ``config`` says; files go to ``config.out`` (rank 0 only).

    Returns:
        A :class:`TrainResult` with the best validation mIoU and the epoch history.
    """
    group, device = init_distributed(resolve_device(config.device))
    try:
        return _train(config, group, device)
    finally:
        cleanup_distributed()


def _train(config: TrainConfig, group, device: torch.device) -> TrainResult:
    out = Path(config.out)
    seed_everything(config.seed)
    train_set, val_set = build_datasets(config)
    model = build_model(config, num_classes=train_set.num_classes, in_channels=train_set.info.image_channels).to(device)
    if config.sync_batchnorm and group.distributed:
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif group.is_main:  # PyTorch's SyncBatchNorm runs on GPUs only
            warnings.warn("sync_batchnorm needs GPUs; on CPU each process keeps its own BatchNorm statistics", stacklevel=2)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    criterion = build_criterion(config, train_set).to(device)
    optimizer = build_optimizer(config, model)
    amp_dtype = autocast_dtype(device, config.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    state = {"epoch": 0, "step": 0, "elapsed": 0.0, "best_miou": -math.inf, "stale": 0, "history": []}
    if config.resume and (out / "last.pt").exists():
        checkpoint = load_checkpoint(out / "last.pt", map_location=device)
        unwrap_model(model).load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
        state.update(checkpoint["extra"])
        restore_rng_states(checkpoint["rng"])
    wrapped = model
    if group.distributed:
        # An auxiliary head that no loss reads (aux_weight 0) gets no gradient; DDP must be told.
        unused = getattr(model, "aux_head", None) is not None and config.aux_weight == 0
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
        )
    if config.compile:
        wrapped = torch.compile(wrapped)

    if group.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    log = RunLog(out, history=state["history"], tensorboard=config.tensorboard) if group.is_main else None
    ctx = StepContext(
        model=wrapped, criterion=criterion, optimizer=optimizer, scaler=scaler, device=device, amp_dtype=amp_dtype,
        channels_last=config.channels_last, grad_clip=config.grad_clip, grad_accum=config.grad_accum,
        aux_weight=config.aux_weight,
    )
    steps_per_epoch = max(1, math.ceil(len(train_set) / (config.batch_size * group.world_size)))
    total_steps = (config.epochs or 0) * steps_per_epoch
    budget = (config.budget_minutes or 0) * 60
    started = time.perf_counter() - state["elapsed"]
    for g in optimizer.param_groups:  # the peak LR; a resumed optimizer already carries it
        g.setdefault("initial_lr", g["lr"])

    clock = BudgetClock(budget_s=budget, started=started, device=device, distributed=group.distributed) if budget else None

    def progress(*, exact: bool = True) -> float:
        """Fraction of the run done: steps over total steps, or the budget spent on rank 0's clock."""
        if clock is not None:
            return clock.read(exact=exact)
        return state["step"] / total_steps

    def before_step() -> bool:
        done = progress(exact=False)  # under torchrun, rank 0's clock is read every few steps, not every step
        if budget and done >= 1.0:
            return False
        factor = lr_factor(done, schedule=config.schedule, warmup=config.warmup)
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"] * factor
        state["step"] += 1
        return True

    scores = None
    resolution = 1.0
    while True:
        epoch = state["epoch"] + 1
        factor = resize_factor(progress(), config.resize_schedule)
        if factor != resolution:  # progressive resizing: a new crop size from this epoch on
            resolution = factor
            train_set.transform = build_train_transform(config, train_set, factor=resolution)
        # Augmentation and shuffling are a function of (seed, epoch, rank), so a resumed run repeats them.
        seed_everything(config.seed * 100_003 + epoch + 7919 * group.rank)
        loader = build_loader(train_set, batch_size=config.batch_size, workers=config.workers, shuffle=True,
                              seed=config.seed * 100_003 + epoch, group=group, drop_last=True)
        if group.distributed:
            loader.sampler.set_epoch(epoch)
        bar = tqdm(total=len(loader), desc=f"epoch {epoch}", disable=not (config.progress and group.is_main), leave=False)

        def on_log(loss: float, images_per_s: float, batches: int, bar=bar) -> None:
            bar.update(batches)
            bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{images_per_s * group.world_size:.1f}")
            if log is not None:
                log.scalar("train/loss", loss, state["step"])

        train_loss, images = train_one_epoch(ctx, loader, before_step=before_step, on_log=on_log, log_every=config.log_every)
        bar.close()
        if images == 0 and state["epoch"] > 0:
            # The budget ran out between epochs (saving carried the last one over it): nothing was
            # trained, so this pass only validates the last epoch's weights, under its number.
            epoch = state["epoch"]
            train_loss = state["history"][-1]["train_loss"] if state["history"] else float("nan")
        state["epoch"] = epoch
        finished = (config.epochs is not None and epoch >= config.epochs) or (budget and progress() >= 1.0)
        row: dict[str, Any] = {"epoch": epoch, "step": state["step"], "train_loss": train_loss,
                               "lr": optimizer.param_groups[0]["lr"], "time_s": round(time.perf_counter() - started, 1)}
        if config.resize_schedule is not None:
            row["resolution"] = resolution
        improved = False
        if val_set is not None and (epoch % config.eval_every == 0 or finished):
            confusion, val_loss = validate(
                model, build_loader(val_set, batch_size=config.eval_batch_size, workers=config.workers, shuffle=False,
                                    seed=0, group=group),
                num_classes=val_set.num_classes, ignore_index=val_set.ignore_index, device=device, amp_dtype=amp_dtype,
                criterion=criterion, channels_last=config.channels_last, scale=config.input_scale,
                short_side=config.input_size,
            )
            epoch_scores = confusion.compute(class_names=list(val_set.class_names))
            row.update(val_loss=val_loss, val_miou=epoch_scores.mean_iou, val_pixel_accuracy=epoch_scores.pixel_accuracy)
            improved = epoch_scores.mean_iou > state["best_miou"]
            if improved:
                state["best_miou"], state["stale"], scores = epoch_scores.mean_iou, 0, epoch_scores
            else:
                state["stale"] += 1
        state["elapsed"] = time.perf_counter() - started
        if group.is_main:
            log.epoch(row)
            state["history"] = log.history
            _save(out / "last.pt", model, optimizer, scaler, config, train_set, state, row)
            if improved or val_set is None:
                _save(out / "best.pt", model, optimizer, scaler, config, train_set, state, row)
                if scores is not None:
                    atomic_write_json(out / "metrics.json", scores.to_dict())
            tqdm.write(_summary(row, config, budget))
        # A validation may carry the run past its budget: stop then rather than start an empty epoch.
        finished = finished or bool(budget and "val_miou" in row and progress() >= 1.0)
        stop = finished or (config.early_stopping is not None and state["stale"] >= config.early_stopping)
        if broadcast_flag(bool(stop), device):
            break
    if log is not None:
        log.close()
    return TrainResult(out=out, best_miou=state["best_miou"], epochs_run=state["epoch"], history=state["history"], scores=scores)


def _save(path: Path, model, optimizer, scaler, config: TrainConfig, train_set, state: dict, row: dict) -> None:
    save_checkpoint(
        path, model=unwrap_model(model), optimizer=optimizer, scaler=scaler, epoch=state["epoch"], step=state["step"],
        config=config.to_dict(), class_names=list(train_set.class_names), palette=[list(c) for c in train_set.palette],
        metrics={k: v for k, v in row.items() if isinstance(v, int | float)},
        extra={k: state[k] for k in ("epoch", "step", "elapsed", "best_miou", "stale", "history")},
    )


def _summary(row: dict[str, Any], config: TrainConfig, budget: float) -> str:
    total = f"/{config.epochs}" if config.epochs else f" ({row['time_s'] / 60:.1f}/{budget / 60:.0f} min)"
    text = f"epoch {row['epoch']}{total}  train loss {row['train_loss']:.4f}"
    if "val_miou" in row:
        text += f"  val loss {row['val_loss']:.4f}  val mIoU {row['val_miou']:.4f}"
    return text
