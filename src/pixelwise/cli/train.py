"""``pixelwise train``: flags (over an optional YAML) onto :class:`TrainConfig`, then :func:`pixelwise.train`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from pixelwise.classical.registry import list_methods
from pixelwise.cli.common import format_scores, parse_options
from pixelwise.data import list_datasets
from pixelwise.engine.config import (
    CLASS_WEIGHTINGS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    load_config,
)
from pixelwise.engine.train import METRIC_NAMES, train
from pixelwise.losses import list_losses
from pixelwise.models import list_encoders, list_models


def _floats(text: str) -> tuple[float, ...]:
    """``"0.5,2"`` -> ``(0.5, 2.0)``."""
    return tuple(float(value) for value in text.split(","))


def _stages(text: str) -> tuple[tuple[float, ...], ...]:
    """``"0:0.5,0.6:1"`` -> ``((0.0, 0.5), (0.6, 1.0))``."""
    return tuple(tuple(float(value) for value in stage.split(":")) for stage in text.split(","))


# (flag, config field, type, help). Every flag defaults to None = "not given", so YAML values survive. The help
# gets the field's default appended, and {names} becomes the field's names from _NAMES.
_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--dataset", "dataset", str, "dataset format: {names}; `pixelwise data list` shows their options"),
    ("--root", "root", str, "dataset folder"),
    ("--split", "train_split", str, "training split"),
    ("--val-split", "val_split", str, "validation split ('none' to skip validation)"),
    ("--model", "model", str, "architecture: {names}; `pixelwise models` compares them"),
    ("--encoder", "encoder", str, "encoder of the model: {names} or any timm model name (default: the model's own)"),
    ("--epochs", "epochs", int, "passes over the training set (clears --budget from --config)"),
    ("--budget", "budget_minutes", float,
     "train for this many minutes instead of --epochs (clears epochs from --config); the LR schedule spans it"),
    ("--batch-size", "batch_size", int, "images per step"),
    ("--eval-batch-size", "eval_batch_size", int, "images per validation forward pass"),
    ("--optimizer", "optimizer", str, "optimizer: {names}"),
    ("--lr", "lr", float, "peak learning rate"),
    ("--weight-decay", "weight_decay", float, "weight decay (not on biases and norms)"),
    ("--schedule", "schedule", str, "learning-rate schedule: {names}"),
    ("--warmup", "warmup", float, "fraction of the run spent warming up the LR"),
    ("--grad-clip", "grad_clip", float, "clip the gradient norm to this value"),
    ("--grad-accum", "grad_accum", int, "batches per optimizer step"),
    ("--loss", "loss", str, "loss: {names}; its options go in --loss-option"),
    ("--class-weights", "class_weights", str, "{names}, or comma-separated numbers, one per class (e.g. 1,2.5,1)"),
    ("--label-smoothing", "label_smoothing", float, "cross-entropy label smoothing"),
    ("--aux-weight", "aux_weight", float, "weight of the auxiliary head's loss (models that have one)"),
    ("--crop-size", "crop_size", int, "side of the random training crop"),
    ("--scale-range", "scale_range", _floats, "random rescale range before the crop, LOW,HIGH"),
    ("--input-size", "input_size", int, "shorter side (px) the model works at, for images of varying size"),
    ("--resize-schedule", "resize_schedule", _stages,
     "progressive resizing, START:FACTOR,... (e.g. 0:0.5,0.6:1: half resolution for the first 60%% of the run)"),
    ("--input-scale", "input_scale", float, "resolution the model works at relative to the images (e.g. 0.5)"),
    ("--color-jitter", "color_jitter", float, "strength of brightness/contrast/saturation jitter (0: off)"),
    ("--precision", "precision", str, "autocast precision: {names} (auto: bf16 where the hardware has it)"),
    ("--workers", "workers", int, "DataLoader worker processes"),
    ("--device", "device", str, "auto, cpu, cuda, cuda:N"),
    ("--seed", "seed", int, "seed of model init, shuffling and augmentation"),
    ("--out", "out", str, "output folder for checkpoints, logs and curves"),
    ("--early-stopping", "early_stopping", int, "stop after N validations without a better mIoU"),
    ("--eval-every", "eval_every", int, "epochs between validations"),
    ("--log-every", "log_every", int, "steps between loss read-outs"),
)
def all_dataset_names() -> list[str]:
    """Every dataset format: the semantic ones and the instance ones (``coco``), each name once."""
    from pixelwise.data.instances import list_instance_datasets

    return sorted({*list_datasets(), *list_instance_datasets()})


# Fields whose help lists names from a registry or config.py, read when the parser is built (so a newly
# registered loss or model shows up), and whether the flag accepts only those (encoders: any timm name too).
_NAMES: dict[str, tuple[Callable[[], Sequence[str]], bool]] = {
    "dataset": (lambda: all_dataset_names(), True),
    "model": (lambda: [*list_models(), *list_methods()], True),  # networks, then classical methods
    "encoder": (list_encoders, False),
    "optimizer": (lambda: OPTIMIZERS, True),
    "schedule": (lambda: SCHEDULES, True),
    "loss": (list_losses, True),
    "class_weights": (lambda: CLASS_WEIGHTINGS, False),
    "precision": (lambda: PRECISIONS, True),
}
_SWITCHES = (
    ("--no-channels-last", "channels_last", False, "keep the contiguous NCHW memory format (channels_last is the default)"),
    ("--compile", "compile", True, "torch.compile the model"),
    ("--sync-bn", "sync_batchnorm", True, "SyncBatchNorm under torchrun"),
    ("--resume", "resume", True, "continue from OUT/last.pt if it exists"),
    ("--overwrite", "overwrite", True, "train into an --out folder that holds another run, deleting its files first"),
    ("--no-hflip", "hflip", False, "no random horizontal flips"),
    ("--no-tensorboard", "tensorboard", False, "do not write TensorBoard logs"),
    ("--no-progress", "progress", False, "hide progress bars"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train any zoo model on any dataset (resumable; multi-process with torchrun)",
        description=(
            "Train a segmentation model. Precedence: defaults < --config YAML < flags. Writes config.yaml, last.pt, "
            "best.pt (by validation mIoU), metrics.json, history.csv, curves.png and TensorBoard logs into --out. "
            "Multi-process: torchrun --nproc-per-node N -m pixelwise train ..."
        ),
    )
    parser.add_argument("--config", metavar="YAML", help="YAML file of TrainConfig keys")
    defaults = TrainConfig()
    for flag, dest, kind, text in _FLAGS:
        names_of, closed = _NAMES.get(dest, (tuple, False))
        names = names_of()
        parser.add_argument(flag, dest=dest, type=kind, default=None, choices=names if closed else None,
                            metavar="NAME" if closed else None,
                            help=text.format(names=", ".join(names)) + _default_text(getattr(defaults, dest)))
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra model option, YAML value (repeatable), e.g. --model-option base_channels=32")
    parser.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra dataset option, YAML value (repeatable), e.g. --dataset-option num_classes=12")
    parser.add_argument("--loss-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option of the loss, YAML value (repeatable), e.g. --loss-option ohem_threshold=0.7")
    for flag, dest, value, text in _SWITCHES:
        parser.add_argument(flag, dest=dest, action="store_const", const=value, default=None, help=text)
    parser.set_defaults(func=run)


def _default_text(value: Any) -> str:
    """`` (default: X)`` for a :class:`TrainConfig` default, written as the flag takes it ("" when unset)."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = ",".join(f"{number:g}" for number in value)
    return f" (default: {value})"


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The configuration the flags describe over ``--config``: flags that were given become overrides of
    :func:`load_config`, which owns every rule (``--epochs``/``--budget``, ``--encoder``, option merging)."""
    overrides: dict[str, Any] = {}
    for _, dest, *_ in (*_FLAGS, *_SWITCHES):
        if getattr(args, dest) is not None:
            overrides[dest] = getattr(args, dest)
    option_lists = (("model_options", args.model_option), ("dataset_options", args.dataset_option),
                    ("loss_options", args.loss_option))
    for key, option_list in option_lists:
        if option_list:
            overrides[key] = parse_options(option_list)
    return load_config(args.config, overrides=overrides)


def run(args: argparse.Namespace) -> int:
    result = train(config_from_args(args))
    if result.scores is not None:
        print(format_scores(result.scores))
    if result.scores is None:
        print(f"trained {result.epochs_run} epochs without validation; files in {result.out}/")
    else:
        metric = METRIC_NAMES.get(result.metric, result.metric)
        print(f"best validation {metric} {result.best_score:.4f} after {result.epochs_run} epochs; files in {result.out}/")
    return 0
