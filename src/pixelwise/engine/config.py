"""The training configuration: one frozen dataclass, written beside and inside every checkpoint.

Precedence: the dataclass defaults, then an optional YAML file, then overrides (the command-line flags
that were given). Each layer replaces the values below it, with three rules that make layers compose:

- ``epochs`` and ``budget_minutes`` exclude each other: a layer that sets one of them (to a value, not
  ``None``) clears the other from the layers below, so ``--budget 5`` over a file with ``epochs: 40``
  trains for five minutes.
- ``encoder`` is a shortcut for ``model_options["encoder"]``: a layer that sets either one replaces
  both below it.
- The ``*_options`` mappings merge key by key: ``--model-option depth=3`` keeps the file's other model
  options.

:func:`load_config` applies all three; :meth:`TrainConfig.replace` the first two (it replaces a mapping
whole, as :func:`dataclasses.replace` does).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixelwise.checks import check_bool, check_device, check_float, check_int, check_str
from pixelwise.errors import PixelwiseError

OPTIMIZERS = ("adamw", "sgd")
"""Values of :attr:`TrainConfig.optimizer`."""
SCHEDULES = ("poly", "cosine", "constant")
"""Values of :attr:`TrainConfig.schedule` (see :func:`pixelwise.engine.schedule.lr_factor`)."""
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
"""Values of :attr:`TrainConfig.precision` (see :func:`pixelwise.utils.hardware.autocast_dtype`)."""
CLASS_WEIGHTINGS = ("median_frequency", "sqrt_median_frequency")
"""Named values of :attr:`TrainConfig.class_weights`, computed from the training masks."""
OPTION_FIELDS = ("dataset_options", "model_options", "loss_options")
"""The fields that hold a mapping of options, merged key by key across layers."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        dataset, root, train_split, val_split, dataset_options: What to train on, the same words as
            :func:`pixelwise.create_dataset` (``val_split=None`` or ``"none"`` in any case: no validation).
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
        encoder: Shortcut for ``model_options["encoder"]`` (a name from :func:`pixelwise.models.list_encoders`
            or any timm model); moved there on construction, after which this field reads ``None``, so the
            resolved config names the encoder once. A different ``model_options["encoder"]`` is an error.
        epochs: Number of passes over the training set; ``budget_minutes`` instead stops on wall time
            and stretches the learning-rate schedule over the budget. Give exactly one (``epochs=None``
            with a budget); overrides in :func:`load_config` and :meth:`replace` that set one clear the other.
        batch_size, eval_batch_size: Images per step in training and validation.
        optimizer: One of :data:`OPTIMIZERS`: ``"adamw"`` or ``"sgd"`` (momentum ``momentum``, Nesterov off).
        lr, weight_decay, schedule, warmup: Peak LR, decay, one of :data:`SCHEDULES`
            (``"poly"``/``"cosine"``/``"constant"``), and the warm-up length as a fraction of the run.
        grad_clip: Clip the gradient norm to this value (``None``: off).
        grad_accum: Accumulate gradients over this many batches per optimizer step.
        loss, class_weights, label_smoothing, aux_weight: Loss name from :func:`pixelwise.losses.list_losses`;
            class weights: one of :data:`CLASS_WEIGHTINGS` (``"median_frequency"``, SegNet's, or
            ``"sqrt_median_frequency"``, its square root), ``None``, or one non-negative number per class as
            a list or a ``"1,2.5,1"`` string (parsed into a list of floats); CE label smoothing; weight of
            the auxiliary head's loss.
        loss_options: The loss's own options (:func:`pixelwise.losses.loss_options`), e.g.
            ``{"ohem_threshold": 0.7}`` for ``ce_dice``.
        precision: One of :data:`PRECISIONS`: ``"auto"`` (bf16 on AMX/AVX512-BF16 CPUs and GPUs, else
            fp32), ``"bf16"``, ``"fp16"``, ``"fp32"``.
        channels_last, compile: Memory format (channels_last, the default, is faster for convolutions on
            CPUs (oneDNN) and on GPUs with tensor cores) and ``torch.compile``.
        workers, cache: DataLoader worker processes; keep decoded images in memory.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        sync_batchnorm: Convert BatchNorm to SyncBatchNorm under ``torchrun``.
        seed: Seeds model init, shuffling and augmentation; the same seed gives the same run.
        out: Output folder (checkpoints, logs, curves, config).
        resume: Continue from ``out/last.pt`` when it exists.
        overwrite: Train into an ``out`` that holds another run, deleting that run's files first (without
            ``resume`` or ``overwrite``, such a folder is refused).
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
    encoder: str | None = None
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
    overwrite: bool = False
    early_stopping: int | None = None
    eval_every: int = 1
    log_every: int = 10
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        _check_values(self)
        for name in OPTION_FIELDS:
            object.__setattr__(self, name, _as_options(name, getattr(self, name)))
        self._fold_encoder()
        if self.epochs is not None and self.budget_minutes is not None:
            raise PixelwiseError(
                f"epochs={self.epochs} and budget_minutes={self.budget_minutes} are both set; give exactly one "
                "(epochs=None to train on a time budget)"
            )
        if self.epochs is None and self.budget_minutes is None:
            raise PixelwiseError(
                "neither epochs nor budget_minutes is set; give exactly one (--epochs N or --budget MINUTES)"
            )
        if isinstance(self.val_split, str) and self.val_split.strip().lower() == "none":
            object.__setattr__(self, "val_split", None)
        object.__setattr__(self, "class_weights", _parse_class_weights(self.class_weights))
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise PixelwiseError(f"unknown {name} {getattr(self, name)!r}; choose {_one_of(allowed)}")
        object.__setattr__(self, "scale_range", tuple(self.scale_range))
        if self.resize_schedule is not None:
            try:
                stages = tuple((float(start), float(factor)) for start, factor in self.resize_schedule)
            except (TypeError, ValueError):
                raise PixelwiseError(
                    f"resize_schedule {self.resize_schedule!r} is not a list of [start, factor] pairs, e.g. [[0, 0.5], [0.5, 1]]"
                ) from None
            if not all(math.isfinite(v) for stage in stages for v in stage):
                raise PixelwiseError(f"resize_schedule {self.resize_schedule!r}: starts and factors must be finite numbers")
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

    def _fold_encoder(self) -> None:
        """Move the ``encoder`` shortcut into ``model_options``, refusing a different encoder there."""
        if self.encoder is None:
            return
        given = self.model_options.get("encoder", self.encoder)
        if given != self.encoder:
            raise PixelwiseError(
                f"encoder {self.encoder!r} and model_options['encoder'] {given!r} disagree; give the encoder "
                "once (encoder=... or model_options={'encoder': ...}; on the command line --encoder or "
                "--model-option encoder=...)"
            )
        object.__setattr__(self, "model_options", {**self.model_options, "encoder": self.encoder})
        object.__setattr__(self, "encoder", None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["scale_range"] = list(self.scale_range)
        if self.resize_schedule is not None:
            data["resize_schedule"] = [list(stage) for stage in self.resize_schedule]
        return data

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed.

        A change that sets ``epochs`` or ``budget_minutes`` clears the other, and one that sets ``encoder``
        replaces ``model_options["encoder"]`` (see the module docstring); mappings are replaced whole.
        """
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return type(self).from_dict(_layer(current, changes, merge_options=False), source="replace()")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "configuration") -> TrainConfig:
        """Build from a dict, refusing unknown keys with a message that lists the valid ones."""
        _check_keys(data, source=source)
        return cls(**data)


def load_config(path: str | Path | None = None, *, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The defaults, then a YAML file of :class:`TrainConfig` keys, then ``overrides``.

    Each layer replaces the one below it, except that a layer setting ``epochs`` or ``budget_minutes``
    clears the other from the layers below, a layer setting ``encoder`` or ``model_options["encoder"]``
    replaces both below it, and the ``*_options`` mappings merge key by key (the module docstring).

    Args:
        path: The YAML file (``None``: the defaults alone).
        overrides: Values over the file's, e.g. the command-line flags that were given.

    Returns:
        The resolved, validated configuration.

    Raises:
        PixelwiseError: A missing or malformed file, an unknown key, or an invalid value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise PixelwiseError(f"{path}: config file not found; check the path") from None
        except yaml.YAMLError as error:
            raise PixelwiseError(f"{path}: not valid YAML ({str(error).splitlines()[0]}); fix the syntax") from None
        if not isinstance(loaded, dict):
            raise PixelwiseError(f"{path}: expected a mapping of config keys at the top level")
        _check_keys(loaded, source=str(path))
        data = _layer(data, loaded, merge_options=True)
    _check_keys(overrides or {}, source="overrides")
    data = _layer(data, overrides or {}, merge_options=True)
    return TrainConfig.from_dict(data, source="configuration" if path is None else str(path))


def _layer(lower: dict[str, Any], upper: dict[str, Any], *, merge_options: bool) -> dict[str, Any]:
    """``upper``'s values over ``lower``'s, with the rules of the module docstring."""
    data = dict(lower)
    for name, other in (("epochs", "budget_minutes"), ("budget_minutes", "epochs")):
        if upper.get(name) is not None and other not in upper:
            data[other] = None
    if upper.get("encoder") is not None and isinstance(data.get("model_options"), dict):
        data["model_options"] = {key: value for key, value in data["model_options"].items() if key != "encoder"}
    upper_model_options = upper.get("model_options")
    if isinstance(upper_model_options, dict) and "encoder" in upper_model_options and "encoder" not in upper:
        data["encoder"] = None
    for key, value in upper.items():
        if merge_options and key in OPTION_FIELDS and isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


_INTEGERS = {"batch_size": 1, "eval_batch_size": 1, "grad_accum": 1, "eval_every": 1, "log_every": 1, "workers": 0}
_OPTIONAL_INTEGERS = {"epochs": 1, "crop_size": 1, "input_size": 1, "early_stopping": 1}
_BOOLS = ("hflip", "channels_last", "compile", "cache", "sync_batchnorm", "resume", "overwrite", "tensorboard", "progress")
_STRINGS = ("dataset", "train_split", "model", "optimizer", "schedule", "loss", "precision", "out")


def _check_values(config: TrainConfig) -> None:
    """Refuse a value of the wrong type or out of range, naming the field, the value and what is allowed."""
    for name, minimum in _INTEGERS.items():
        check_int(name, getattr(config, name), minimum=minimum)
    for name, minimum in _OPTIONAL_INTEGERS.items():
        check_int(name, getattr(config, name), minimum=minimum, optional=True)
    check_int("seed", config.seed, minimum=0)
    for name in _BOOLS:
        check_bool(name, getattr(config, name))
    for name in _STRINGS:
        check_str(name, getattr(config, name))
    for name in ("root", "val_split", "encoder"):
        check_str(name, getattr(config, name), optional=True)
    check_float("lr", config.lr, positive=True)
    check_float("input_scale", config.input_scale, positive=True)
    check_float("budget_minutes", config.budget_minutes, positive=True, optional=True)
    check_float("grad_clip", config.grad_clip, positive=True, optional=True)
    check_float("warmup", config.warmup, minimum=0, below=1)
    check_float("label_smoothing", config.label_smoothing, minimum=0, below=1)
    for name in ("momentum", "weight_decay", "color_jitter", "aux_weight"):
        check_float(name, getattr(config, name), minimum=0)
    scale = config.scale_range
    if not isinstance(scale, list | tuple) or len(scale) != 2:
        raise PixelwiseError(f"scale_range {scale!r} is not two numbers; write e.g. scale_range: [0.5, 2.0]")
    for value in scale:
        check_float("scale_range", value, positive=True)
    if scale[0] > scale[1]:
        raise PixelwiseError(f"scale_range {list(scale)}: the low factor is above the high one; write [low, high]")
    check_device(config.device)


def _check_keys(data: dict[str, Any], *, source: str) -> None:
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise PixelwiseError(f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}")


def _as_options(name: str, value: Any) -> dict[str, Any]:
    """A copy of an options mapping (``None``, e.g. an empty YAML key, is no options)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PixelwiseError(f"{name} {value!r} is not a mapping; give option names and values, e.g. {{depth: 3}}")
    return dict(value)


def _parse_class_weights(value: Any) -> str | list[float] | None:
    """``None``, a name from :data:`CLASS_WEIGHTINGS`, or a list of floats (from a list or ``"1,2,3"``)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip() in CLASS_WEIGHTINGS:
        return value.strip()
    try:
        weights = [float(item) for item in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        weights = []
    if not weights or not all(math.isfinite(weight) and weight >= 0 for weight in weights):
        raise PixelwiseError(
            f"class_weights {value!r} is not a weighting; use {' or '.join(CLASS_WEIGHTINGS)} or a list of numbers, "
            'one non-negative weight per class (e.g. "1,2.5,1" or [1, 2.5, 1])'
        )
    return weights


def _one_of(names: tuple[str, ...]) -> str:
    """``("a", "b", "c")`` -> ``"a, b or c"``."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
