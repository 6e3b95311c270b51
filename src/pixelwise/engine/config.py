"""The training configuration: one frozen dataclass, written beside and inside every checkpoint.

Precedence: the dataclass defaults, then an optional YAML file, then command-line flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixelwise.errors import PixelwiseError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        dataset, root, train_split, val_split, dataset_options: What to train on, the same words as
            :func:`pixelwise.create_dataset` (``val_split=None``: no validation).
        crop_size: Side of the random training crop (``None``: no crop; images must share one size).
        scale_range, hflip, color_jitter: Training augmentation (random scale before the crop).
        input_scale: Resolution the model works at, relative to the dataset's images: training crops are
            taken from images rescaled by ``input_scale * scale_range``; validation, evaluation and
            prediction shrink the input by it and upsample the logits back, so scores count every
            original pixel. 0.5 makes a CPU epoch about 4x cheaper.
        resize_schedule: Progressive resizing, ``[[start, factor], ...]`` with increasing starts from 0:
            from each fraction ``start`` of the run on, training crops are ``factor`` times smaller in side
            and taken from images ``factor`` times smaller, so they see the same field of view at less
            cost (a step at factor 0.5 is ~4x cheaper). Early low-resolution epochs learn the coarse
            content; the last stage, at factor 1, the detail. Validation is always at full resolution.
        input_size: Instead of a fixed factor, the shorter side (pixels) every image is brought to, for
            datasets whose images vary in size; applied the same way in training and inference.
        model, model_options: Architecture name and its options for :func:`pixelwise.create_model`.
        epochs: Number of passes over the training set; ``budget_minutes`` instead stops on wall time
            and stretches the learning-rate schedule over the budget.
        batch_size, eval_batch_size: Images per step in training and validation.
        optimizer: ``"adamw"`` or ``"sgd"`` (momentum ``momentum``, Nesterov off).
        lr, weight_decay, schedule, warmup: Peak LR, decay, ``"poly"``/``"cosine"``/``"constant"``, and
            the warm-up length as a fraction of the run.
        grad_clip: Clip the gradient norm to this value (``None``: off).
        grad_accum: Accumulate gradients over this many batches per optimizer step.
        loss, class_weights, label_smoothing, aux_weight: Loss name from :func:`pixelwise.losses.list_losses`,
            ``"median_frequency"`` (SegNet), ``"sqrt_median_frequency"`` (its square root), ``None`` or an explicit list, CE label smoothing, weight of the auxiliary head's loss.
        loss_options: The loss's own options (:func:`pixelwise.losses.loss_options`), e.g.
            ``{"ohem_threshold": 0.7}`` for ``ce_dice``.
        precision: ``"auto"`` (bf16 on AMX/AVX512-BF16 CPUs and GPUs, else fp32), ``"bf16"``, ``"fp16"``, ``"fp32"``.
        channels_last, compile: Memory format (channels_last, the default, is faster for convolutions on
            CPUs (oneDNN) and on GPUs with tensor cores) and ``torch.compile``.
        workers, cache: DataLoader worker processes; keep decoded images in memory.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        sync_batchnorm: Convert BatchNorm to SyncBatchNorm under ``torchrun``.
        seed: Seeds model init, shuffling and augmentation; the same seed gives the same run.
        out: Output folder (checkpoints, logs, curves, config).
        resume: Continue from ``out/last.pt`` when it exists.
        early_stopping: Stop after this many validations without a better mIoU (``None``: never).
        eval_every: Epochs between validations (the last epoch is always validated).
        log_every: Steps between loss read-outs (each read-out synchronises with the device).
        tensorboard, progress: Write TensorBoard logs; show a progress bar.
    """

    dataset: str = "shapes"
    root: str | None = None
    train_split: str = "train"
    val_split: str | None = "val"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    crop_size: int | None = None
    scale_range: tuple[float, float] = (0.5, 2.0)
    input_scale: float = 1.0
    resize_schedule: tuple[tuple[float, float], ...] | None = None
    input_size: int | None = None
    hflip: bool = True
    color_jitter: float = 0.2
    model: str = "unet"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = 10
    budget_minutes: float | None = None
    batch_size: int = 8
    eval_batch_size: int = 1
    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "poly"
    warmup: float = 0.0
    grad_clip: float | None = None
    grad_accum: int = 1
    loss: str = "ce"
    class_weights: str | list[float] | None = None
    label_smoothing: float = 0.0
    loss_options: dict[str, Any] = field(default_factory=dict)
    aux_weight: float = 0.4
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    workers: int = 2
    cache: bool = False
    device: str = "auto"
    sync_batchnorm: bool = False
    seed: int = 0
    out: str = "runs/train"
    resume: bool = False
    early_stopping: int | None = None
    eval_every: int = 1
    log_every: int = 10
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.budget_minutes is None):
            raise PixelwiseError("give exactly one of epochs or budget_minutes (--epochs N or --budget MINUTES)")
        if self.optimizer not in ("adamw", "sgd"):
            raise PixelwiseError(f"unknown optimizer {self.optimizer!r}; choose adamw or sgd")
        if self.schedule not in ("poly", "cosine", "constant"):
            raise PixelwiseError(f"unknown schedule {self.schedule!r}; choose poly, cosine or constant")
        if self.grad_accum < 1 or self.batch_size < 1:
            raise PixelwiseError("batch_size and grad_accum must be at least 1")
        object.__setattr__(self, "scale_range", tuple(self.scale_range))
        if self.resize_schedule is not None:
            stages = tuple((float(start), float(factor)) for start, factor in self.resize_schedule)
            starts = [start for start, _ in stages]
            if not stages or starts[0] != 0.0 or starts != sorted(set(starts)) or starts[-1] >= 1.0:
                raise PixelwiseError(
                    f"resize_schedule {self.resize_schedule}: starts must increase from 0 and stay below 1, e.g. [[0, 0.5], [0.5, 1]]"
                )
            if any(factor <= 0 for _, factor in stages):
                raise PixelwiseError(f"resize_schedule {self.resize_schedule}: factors must be positive")
            if self.crop_size is None:
                raise PixelwiseError("resize_schedule needs crop_size (the crop shrinks with the images)")
            object.__setattr__(self, "resize_schedule", stages)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["scale_range"] = list(self.scale_range)
        if self.resize_schedule is not None:
            data["resize_schedule"] = [list(stage) for stage in self.resize_schedule]
        return data

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "configuration") -> TrainConfig:
        """Build from a dict, refusing unknown keys with a message that lists the valid ones."""
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise PixelwiseError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}")
        return cls(**data)


def load_config(path: str | Path, *, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML file over the defaults, then apply ``overrides`` (e.g. command-line flags that were given)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PixelwiseError(f"{path}: config file not found; check the path") from None
    except yaml.YAMLError as error:
        raise PixelwiseError(f"{path}: not valid YAML ({str(error).splitlines()[0]}); fix the syntax") from None
    if not isinstance(data, dict):
        raise PixelwiseError(f"{path}: expected a mapping of config keys at the top level")
    data.update(overrides or {})
    return TrainConfig.from_dict(data, source=str(path))
