"""``pixelwise.train``: any zoo model on any dataset, for any task, resumable, single- or multi-process.

Reads top to bottom: data, model, task, optimizer, (resume), then epochs of
train -> validate -> checkpoint -> log, stopping on the epoch count, the time budget
or early stopping. What differs per task (loss terms, evaluator) sits behind
:class:`pixelwise.tasks.Task`; this loop never looks inside one.
"""

from __future__ import annotations

import contextlib
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
    build_datasets,
    build_loader,
    build_model,
    build_optimizer,
    build_spec,
    build_task,
    build_train_transform,
)
from pixelwise.engine.checkpoint import load_checkpoint, restore_rng_states, save_checkpoint, unwrap_model
from pixelwise.engine.config import TrainConfig
from pixelwise.engine.distributed import broadcast_flag, cleanup_distributed, init_distributed
from pixelwise.engine.loop import StepContext, train_one_epoch, validate
from pixelwise.engine.run_folder import open_run_folder
from pixelwise.engine.run_log import RunLog
from pixelwise.engine.schedule import lr_factor, resize_factor
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile import ModelSpec
from pixelwise.tasks.base import Task
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text
from pixelwise.utils.hardware import autocast_dtype, resolve_device


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        out: The run folder.
        best_score: The best validation score (``metric``: mIoU for semantic tasks); ``-inf`` without validation.
        metric: The name of that score.
        epochs_run: Epochs completed.
        history: One row per epoch (as in ``history.csv``).
        scores: The task's full validation scores of the best checkpoint.
    """

    out: Path
    best_score: float
    epochs_run: int
    metric: str = "miou"
    history: list[dict[str, Any]] = field(default_factory=list)
    scores: Any = None

    @property
    def best_miou(self) -> float:
        """``best_score`` of a semantic run (its metric is the mIoU)."""
        return self.best_score


METRIC_NAMES = {"miou": "mIoU", "mask_ap": "mask AP", "box_ap": "box AP", "pq": "PQ", "sq": "SQ", "rq": "RQ",
                "pq_things": "PQ things", "pq_stuff": "PQ stuff"}
"""How the epoch summary line spells a validation metric."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    *,
    model: torch.nn.Module | None = None,
    train_set: Any = None,
    val_set: Any = None,
    task: Task | None = None,
) -> TrainResult:
    """Train a model as ``config`` says; files go to ``config.out`` (rank 0 only).

    Objects given here are used instead of the ones ``config`` names, so a test or a notebook can
    train its own model or datasets through the same loop.

    Args:
        config: The run.
        model: A network built by :func:`pixelwise.create_model` (default: ``config.model`` with
            ``config.model_options``); its recipe is what the model files record.
        train_set: A dataset of the task's samples (default: ``config.dataset`` / ``train_split``).
            Progressive resizing replaces its ``transform``.
        val_set: The validation dataset (default: ``config.val_split`` of ``config.dataset``; with an
            injected ``train_set`` and no ``val_set``, no validation).
        task: What to train (default: the model's task, built from ``config``).

    Returns:
        A :class:`TrainResult` with the best validation score and the epoch history.
    """
    from pixelwise.classical.registry import is_classical

    if is_classical(config.model):  # a classical method is fitted, not trained by this loop
        from pixelwise.classical.fit import fit_classical

        with open_run_folder(Path(config.out), resume=config.resume, overwrite=config.overwrite):
            return fit_classical(config)
    group, device = init_distributed(resolve_device(config.device))
    try:
        with contextlib.ExitStack() as stack:
            if group.is_main:  # one writer per run folder, and never two runs' files mixed in one
                stack.enter_context(open_run_folder(Path(config.out), resume=config.resume, overwrite=config.overwrite))
            return _train(config, group, device, model=model, train_set=train_set, val_set=val_set, task=task)
    finally:
        cleanup_distributed()


def _train(config: TrainConfig, group, device: torch.device, *, model, train_set, val_set, task) -> TrainResult:
    out = Path(config.out)
    seed_everything(config.seed)
    if train_set is None:
        train_set, val_set = build_datasets(config)
    if model is None:
        model = build_model(config, num_classes=train_set.num_classes, in_channels=train_set.info.image_channels,
                            things=getattr(train_set, "things", None))
    model = model.to(device)
    if config.sync_batchnorm and group.distributed:
        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif group.is_main:  # PyTorch's SyncBatchNorm runs on GPUs only
            warnings.warn("sync_batchnorm needs GPUs; on CPU each process keeps its own BatchNorm statistics", stacklevel=2)
    task = task or build_task(config, train_set, model=model, device=device)
    if config.channels_last and task.channels_last:
        model = model.to(memory_format=torch.channels_last)
    spec = build_spec(config, model=unwrap_model(model), train_set=train_set, task=task.name)
    optimizer = build_optimizer(config, model)
    amp_dtype = autocast_dtype(device, config.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    state = {"epoch": 0, "step": 0, "elapsed": 0.0, "best_score": -math.inf, "stale": 0, "history": []}
    if config.resume and (out / "last.pt").exists():
        checkpoint = load_checkpoint(out / "last.pt", map_location=device)
        if checkpoint.training is None:
            raise PixelwiseError(f"{out / 'last.pt'} holds no training state; it cannot be resumed, train into a new --out")
        try:
            unwrap_model(model).load_state_dict(checkpoint.state_dict)
        except RuntimeError as error:
            raise PixelwiseError(
                f"{out / 'last.pt'} holds weights of another network than this config builds "
                f"({str(error).splitlines()[0]}); resume with the run's own config.yaml (--config {out / 'config.yaml'})"
            ) from None
        fused = [param_group["fused"] for param_group in optimizer.param_groups]
        optimizer.load_state_dict(checkpoint.training["optimizer"])
        for param_group, value in zip(optimizer.param_groups, fused, strict=True):
            param_group["fused"] = value  # this machine's choice (build_optimizer), not the saving one's
        if checkpoint.training.get("scaler"):
            scaler.load_state_dict(checkpoint.training["scaler"])
        extra = dict(checkpoint.training["extra"])
        extra.setdefault("best_score", extra.pop("best_miou", -math.inf))  # files written before tasks existed
        state.update(extra)
        restore_rng_states(checkpoint.training["rng"])
        done = _finished(state, config)
        if done:
            raise PixelwiseError(f"{out / 'last.pt'}: the run is finished ({done}); nothing to resume. "
                                 "Raise --epochs or --budget to train on, or train into a new --out")
    wrapped = model
    if group.distributed:
        # An auxiliary head that no loss reads (aux_weight 0) gets no gradient; DDP must be told.
        unused = getattr(model, "aux_head", None) is not None and getattr(task, "aux_weight", 0) == 0
        unused = unused or task.find_unused_parameters
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
        )
    if config.compile:
        wrapped = torch.compile(wrapped)

    if group.is_main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    log = RunLog(out, history=state["history"], tensorboard=config.tensorboard) if group.is_main else None
    ctx = StepContext(
        model=wrapped, task=task, optimizer=optimizer, scaler=scaler, device=device, amp_dtype=amp_dtype,
        channels_last=config.channels_last and task.channels_last, grad_clip=config.grad_clip, grad_accum=config.grad_accum,
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

    scores, metric = None, "miou"
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
                              seed=config.seed * 100_003 + epoch, group=group, drop_last=True, collate=task.collate)
        if group.distributed:
            loader.sampler.set_epoch(epoch)
        bar = tqdm(total=len(loader), desc=f"epoch {epoch}", disable=not (config.progress and group.is_main), leave=False)

        def on_log(loss: float, images_per_s: float, batches: int, terms: dict[str, float], bar=bar, epoch=epoch) -> None:
            if not math.isfinite(loss):  # stop before this epoch is saved: no NaN weights over a good best.pt
                raise PixelwiseError(
                    f"the training loss became {loss} by step {state['step']} (epoch {epoch}); nothing of this epoch "
                    f"was saved. Lower the learning rate (--lr, now {config.lr:g}) or clip gradients (--grad-clip 1)"
                )
            bar.update(batches)
            bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{images_per_s * group.world_size:.1f}")
            if log is not None:
                log.scalar("train/loss", loss, state["step"])
                for name, value in terms.items():  # each term when the task returns several
                    log.scalar(f"train/{name}", value, state["step"])

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
        validated = val_set is not None and (epoch % config.eval_every == 0 or finished)
        if val_set is not None and (epoch % config.eval_every == 0 or finished):
            evaluation = validate(
                model, build_loader(val_set, batch_size=config.eval_batch_size, workers=config.workers, shuffle=False,
                                    seed=0, group=group, collate=task.collate),
                task=task, device=device, channels_last=config.channels_last and task.channels_last,
            )
            row.update({f"val_{name}": value for name, value in evaluation.summary.items()})
            metric = evaluation.primary_name
            improved = evaluation.primary > state["best_score"]
            if improved:
                state["best_score"], state["stale"], scores = evaluation.primary, 0, evaluation.scores
            else:
                state["stale"] += 1
        state["elapsed"] = time.perf_counter() - started
        if group.is_main:
            row = log.add(row)
            state["history"] = log.history
            _save(out / "last.pt", model, optimizer, scaler, spec, state, row)
            if improved or val_set is None:
                _save(out / "best.pt", model, optimizer, scaler, spec, state, row, resumable=False)
                if scores is not None:
                    atomic_write_json(out / "metrics.json", scores.to_dict())
            log.write(row)  # after the checkpoints: history.csv never lists an epoch no checkpoint holds
            tqdm.write(_summary(row, config, budget))
        # A validation may carry the run past its budget: stop then rather than start an empty epoch.
        finished = finished or bool(budget and validated and progress() >= 1.0)
        stop = finished or (config.early_stopping is not None and state["stale"] >= config.early_stopping)
        if broadcast_flag(bool(stop), device):
            break
    if log is not None:
        log.close()
    return TrainResult(out=out, best_score=state["best_score"], epochs_run=state["epoch"], metric=metric,
                       history=state["history"], scores=scores)


def _finished(state: dict[str, Any], config: TrainConfig) -> str:
    """Why a resumed run has nothing left to do ("" when it has)."""
    if config.epochs is not None and state["epoch"] >= config.epochs:
        return f"epoch {state['epoch']} of {config.epochs}"
    if config.budget_minutes is not None and state["elapsed"] >= config.budget_minutes * 60:
        return f"{state['elapsed'] / 60:.1f} of {config.budget_minutes:g} minutes"
    if config.early_stopping is not None and state["stale"] >= config.early_stopping:
        return f"stopped early after {state['stale']} validations without improvement"
    return ""


def _save(path: Path, model, optimizer, scaler, spec: ModelSpec, state: dict, row: dict, *, resumable: bool = True) -> None:
    if not all(bool(torch.isfinite(value).all()) for value in unwrap_model(model).state_dict().values()
               if value.is_floating_point()):
        raise PixelwiseError(f"the weights hold NaN or infinite values after epoch {state['epoch']}; {path.name} was "
                             "not written. Lower the learning rate (--lr) or clip gradients (--grad-clip 1)")
    save_checkpoint(
        path, model=unwrap_model(model), spec=spec, optimizer=optimizer, scaler=scaler, epoch=state["epoch"],
        step=state["step"], metrics={k: v for k, v in row.items() if isinstance(v, int | float)},
        extra={k: state[k] for k in ("epoch", "step", "elapsed", "best_score", "stale", "history")}, resumable=resumable,
    )


def _summary(row: dict[str, Any], config: TrainConfig, budget: float) -> str:
    total = f"/{config.epochs}" if config.epochs else f" ({row['time_s'] / 60:.1f}/{budget / 60:.0f} min)"
    text = f"epoch {row['epoch']}{total}  train loss {row['train_loss']:.4f}"
    if "val_loss" in row:
        text += f"  val loss {row['val_loss']:.4f}"
    text += "".join(f"  val {METRIC_NAMES.get(key[4:], key[4:])} {value:.4f}" for key, value in row.items()
                    if key.startswith("val_") and key not in ("val_loss", "val_pixel_accuracy"))
    return text
