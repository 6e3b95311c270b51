"""``pixelwise train``: flags (over an optional YAML) onto :class:`TrainConfig`, then :func:`pixelwise.train`."""

from __future__ import annotations

import argparse
from typing import Any

from pixelwise.cli.common import parse_options
from pixelwise.engine.builders import MEDIAN_FREQUENCY_POWERS
from pixelwise.engine.config import TrainConfig, load_config
from pixelwise.engine.train import train

# (flag, config field, type, help). Every flag defaults to None = "not given", so YAML values survive.
_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--dataset", "dataset", str, "dataset format: shapes, camvid, pets, voc, cityscapes, ade20k, folder, isbi2012-em"),
    ("--root", "root", str, "dataset folder"),
    ("--split", "train_split", str, "training split (default train)"),
    ("--val-split", "val_split", str, "validation split (default val; 'none' to skip validation)"),
    ("--model", "model", str, "architecture from `pixelwise models` (default unet)"),
    ("--epochs", "epochs", int, "passes over the training set"),
    ("--budget", "budget_minutes", float, "train for this many minutes instead of --epochs; the LR schedule spans it"),
    ("--batch-size", "batch_size", int, "images per step (default 8)"),
    ("--eval-batch-size", "eval_batch_size", int, "images per validation forward pass (default 1)"),
    ("--optimizer", "optimizer", str, "adamw or sgd"),
    ("--lr", "lr", float, "peak learning rate"),
    ("--weight-decay", "weight_decay", float, "weight decay (not on biases and norms)"),
    ("--schedule", "schedule", str, "poly, cosine or constant"),
    ("--warmup", "warmup", float, "fraction of the run spent warming up the LR"),
    ("--grad-clip", "grad_clip", float, "clip the gradient norm to this value"),
    ("--grad-accum", "grad_accum", int, "batches per optimizer step"),
    ("--loss", "loss", str, "ce, dice, ce_dice, bce_dice, focal, lovasz"),
    ("--class-weights", "class_weights", str, "median_frequency, sqrt_median_frequency, or comma-separated numbers, one per class"),
    ("--label-smoothing", "label_smoothing", float, "cross-entropy label smoothing"),
    ("--aux-weight", "aux_weight", float, "weight of the auxiliary head's loss (models that have one)"),
    ("--crop-size", "crop_size", int, "side of the random training crop"),
    ("--scale-range", "scale_range", lambda text: tuple(float(v) for v in text.split(",")),
     "random rescale range before the crop, LOW,HIGH (default 0.5,2.0)"),
    ("--input-size", "input_size", int, "shorter side (px) the model works at, for images of varying size"),
    ("--resize-schedule", "resize_schedule", lambda text: tuple(tuple(float(v) for v in stage.split(":")) for stage in text.split(",")),
     "progressive resizing, START:FACTOR,... (e.g. 0:0.5,0.6:1: half resolution for the first 60%% of the run)"),
    ("--input-scale", "input_scale", float, "resolution the model works at relative to the images (e.g. 0.5)"),
    ("--color-jitter", "color_jitter", float, "strength of brightness/contrast/saturation jitter (0: off)"),
    ("--precision", "precision", str, "auto (bf16 where the hardware has it), bf16, fp16 or fp32"),
    ("--workers", "workers", int, "DataLoader worker processes"),
    ("--device", "device", str, "auto, cpu, cuda, cuda:N"),
    ("--seed", "seed", int, "seed of model init, shuffling and augmentation"),
    ("--out", "out", str, "output folder for checkpoints, logs and curves"),
    ("--early-stopping", "early_stopping", int, "stop after N validations without a better mIoU"),
    ("--eval-every", "eval_every", int, "epochs between validations"),
    ("--log-every", "log_every", int, "steps between loss read-outs"),
)
_SWITCHES = (
    ("--no-channels-last", "channels_last", False, "keep the contiguous NCHW memory format (channels_last is the default)"),
    ("--compile", "compile", True, "torch.compile the model"),
    ("--sync-bn", "sync_batchnorm", True, "SyncBatchNorm under torchrun"),
    ("--resume", "resume", True, "continue from OUT/last.pt if it exists"),
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
    for flag, dest, kind, text in _FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--encoder", default=None, help="encoder of the model (any timm name, vgg16, resnet34, ...)")
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra model option, YAML value (repeatable), e.g. --model-option base_channels=32")
    parser.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra dataset option, YAML value (repeatable), e.g. --dataset-option num_classes=12")
    parser.add_argument("--loss-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option of the loss, YAML value (repeatable), e.g. --loss-option ohem_threshold=0.7")
    for flag, dest, value, text in _SWITCHES:
        parser.add_argument(flag, dest=dest, action="store_const", const=value, default=None, help=text)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The configuration the flags describe (over ``--config`` when given)."""
    overrides: dict[str, Any] = {}
    for _, dest, *_ in (*_FLAGS, *_SWITCHES):
        if getattr(args, dest) is not None:
            overrides[dest] = getattr(args, dest)
    if overrides.get("val_split") == "none":
        overrides["val_split"] = None
    if "budget_minutes" in overrides and "epochs" not in overrides:
        overrides["epochs"] = None
    if "epochs" in overrides and "budget_minutes" not in overrides:
        overrides["budget_minutes"] = None
    weights = overrides.get("class_weights")
    if weights is not None and weights not in MEDIAN_FREQUENCY_POWERS:
        overrides["class_weights"] = [float(v) for v in weights.split(",")]
    base = load_config(args.config).to_dict() if args.config else TrainConfig().to_dict()
    option_lists = (("model_options", args.model_option), ("dataset_options", args.dataset_option),
                    ("loss_options", args.loss_option))
    for key, option_list in option_lists:
        options = dict(base[key])
        options.update(parse_options(option_list))
        if key == "model_options" and args.encoder is not None:
            options["encoder"] = args.encoder
        overrides[key] = options
    base.update(overrides)
    return TrainConfig.from_dict(base, source="command line")


def run(args: argparse.Namespace) -> int:
    result = train(config_from_args(args))
    if result.scores is not None:
        from pixelwise.metrics import format_table

        print(format_table(result.scores))
    if result.scores is None:
        print(f"trained {result.epochs_run} epochs without validation; files in {result.out}/")
    else:
        print(f"best validation mIoU {result.best_miou:.4f} after {result.epochs_run} epochs; files in {result.out}/")
    return 0
