"""Turn a :class:`TrainConfig` into the objects a run needs: data loaders, model, loss, optimizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from pixelwise.data import IGNORE_INDEX, SegmentationDataset, create_dataset
from pixelwise.data.transforms import eval_transform, train_transform
from pixelwise.engine.config import CLASS_WEIGHTINGS, TrainConfig
from pixelwise.engine.distributed import ProcessGroup
from pixelwise.errors import PixelwiseError
from pixelwise.losses import create_loss
from pixelwise.losses.class_weights import class_pixel_statistics, median_frequency_weights
from pixelwise.modelfile import ModelSpec, Preprocess, spec_for_model
from pixelwise.models import create_model
from pixelwise.tasks.base import TASKS, Task

MEDIAN_FREQUENCY_POWERS = dict(zip(CLASS_WEIGHTINGS, (1.0, 0.5), strict=True))
"""The power applied to SegNet's median-frequency weights for each named weighting (validated by the config)."""
FUSED_DEVICES = ("cpu", "cuda")
"""Devices whose parameters the optimizer updates with PyTorch's fused kernels."""


def build_datasets(config: TrainConfig) -> tuple[SegmentationDataset, SegmentationDataset | None]:
    """Training set (augmented) and validation set (deterministic), as the config names them, in the
    form the model's task reads (class masks for semantic models, instances for Mask R-CNN)."""
    if config_task(config) in ("instance", "panoptic"):
        return build_instance_datasets(config)
    options = {"cache": config.cache, **config.dataset_options}
    train_set = create_dataset(config.dataset, root=config.root, split=config.train_split, **options)
    train_set.transform = build_train_transform(config, train_set)
    val_set = None
    if config.val_split is not None:
        val_set = create_dataset(config.dataset, root=config.root, split=config.val_split, transform=eval_transform(), **options)
    return train_set, val_set


def config_task(config: TrainConfig) -> str:
    """The task of the model a config names."""
    from pixelwise.models.registry import model_task

    return model_task(config.model)


def build_instance_datasets(config: TrainConfig) -> tuple[Any, Any]:
    """Instance training and validation sets. Mask R-CNN resizes every image to its ``min_size`` itself
    (a tuple of sizes is its multi-scale training), so the data pipeline only flips, jitters colours and
    crops; there is no progressive resizing."""
    if config_task(config) == "panoptic":
        from pixelwise.data.panoptic import create_panoptic_dataset as create_instance_dataset
        from pixelwise.data.panoptic import panoptic_eval_transform as instance_eval_transform
    else:
        from pixelwise.data.instances import create_instance_dataset, instance_eval_transform

    if config.resize_schedule is not None:
        raise PixelwiseError(f"{config.model} resizes its inputs itself; drop --resize-schedule and give sizes with "
                             "--model-option min_size=[288,320,352] (one picked per batch: multi-scale training)")
    options = {**config.dataset_options}
    train_set = create_instance_dataset(config.dataset, root=config.root, split=config.train_split, **options)
    train_set.transform = build_train_transform(config, train_set)
    val_set = None
    if config.val_split is not None:
        val_set = create_instance_dataset(config.dataset, root=config.root, split=config.val_split,
                                          transform=instance_eval_transform(), **options)
    return train_set, val_set


def build_train_transform(config: TrainConfig, train_set: SegmentationDataset, *, factor: float = 1.0):
    """The training augmentation, at ``factor`` times the configured resolution (progressive resizing):
    the crop side and the image scale both shrink by ``factor``, so the field of view stays the same."""
    if config_task(config) == "panoptic":
        from pixelwise.data.panoptic import panoptic_train_transform

        return panoptic_train_transform(hflip=config.hflip, color_jitter=config.color_jitter)
    if config_task(config) == "instance":
        from pixelwise.data.instances import instance_train_transform

        return instance_train_transform(scale_range=(1.0, 1.0), hflip=config.hflip, color_jitter=config.color_jitter,
                                        crop_size=config.crop_size)
    scale = config.input_scale * factor
    crop = config.crop_size if config.crop_size is None or factor == 1.0 else max(8, round(config.crop_size * factor))
    return train_transform(
        crop_size=crop,
        scale_range=(config.scale_range[0] * scale, config.scale_range[1] * scale),
        hflip=config.hflip,
        color_jitter=config.color_jitter,
        # The crop pads masks with the dataset's own ignore index, so this is set after opening.
        ignore_index=IGNORE_INDEX if train_set.ignore_index is None else train_set.ignore_index,
        short_side=config.input_size,
    )


def build_loader(
    dataset: SegmentationDataset,
    *,
    batch_size: int,
    workers: int,
    shuffle: bool,
    seed: int,
    group: ProcessGroup,
    drop_last: bool = False,
    collate: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """A DataLoader whose shuffling is a pure function of ``seed`` (call once per epoch with seed + epoch);
    ``collate`` is the task's way of making a batch (default: stacking)."""
    sampler: Sampler[int] | None = None
    if group.distributed and shuffle:
        sampler = DistributedSampler(dataset, num_replicas=group.world_size, rank=group.rank, shuffle=True, seed=seed)
        shuffle = False
    elif group.distributed:
        # DistributedSampler pads with repeated samples; evaluation must count every image exactly once.
        sampler = ShardSampler(len(dataset), rank=group.rank, world_size=group.world_size)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=workers,
        generator=generator,
        collate_fn=collate,
        drop_last=drop_last and len(dataset) >= batch_size * group.world_size,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``: a split of the dataset without padding or repeats."""

    def __init__(self, length: int, *, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def build_model(config: TrainConfig, *, num_classes: int, in_channels: int, things: list[int] | None = None) -> nn.Module:
    """The network the config names; a panoptic one learns which classes are things from the data."""
    options = dict(config.model_options)
    if config_task(config) == "panoptic" and "things" not in options:
        options["things"] = list(things or [])
    return create_model(config.model, num_classes=num_classes, in_channels=in_channels, **options)


def build_task(config: TrainConfig, train_set: Any, *, model: nn.Module, device: torch.device) -> Task:
    """The task the model solves, built from the config (semantic: the loss, its class weights, validation scale)."""
    import pixelwise.tasks  # noqa: F401  (registers every task)
    from pixelwise.models.registry import model_task

    name = model_task(getattr(model, "pixelwise_config", {}).get("name", config.model))
    task = TASKS.get(name)(config, train_set, device=device)
    criterion = getattr(task, "criterion", None)
    if isinstance(criterion, nn.Module):
        task.criterion = criterion.to(device)
    return task


def build_spec(config: TrainConfig, *, model: nn.Module, train_set: Any, task: str) -> ModelSpec:
    """What the run's model files say: the model's recipe, labels and preprocessing from the training set
    and config, and where it came from (dataset, splits, the resolved config)."""
    info = getattr(train_set, "info", None)
    preprocess = Preprocess(
        in_channels=int(getattr(info, "image_channels", model.pixelwise_config.get("in_channels", 3))),
        input_scale=config.input_scale,
        input_size=config.input_size,
        size_divisor=int(getattr(model, "size_divisor", 1) or 1),
    )
    things: list[int] = []
    if task in ("instance", "panoptic"):  # the network normalises and resizes [0, 1] images itself
        detector = getattr(model, "detector", model)
        preprocess = Preprocess(in_channels=preprocess.in_channels, mean=(0.0,) * 3, std=(1.0,) * 3,
                                size_divisor=int(detector.transform.size_divisible))
        # instance datasets: every class but the background is a thing; panoptic datasets say which
        things = list(getattr(train_set, "things", range(1, len(train_set.class_names))))
    dataset = {"name": config.dataset, "root": config.root, "options": dict(config.dataset_options),
               "train_split": config.train_split, "val_split": config.val_split}
    return spec_for_model(
        model, class_names=list(train_set.class_names), palette=[list(c) for c in train_set.palette],
        ignore_index=train_set.ignore_index, preprocess=preprocess, task=task, things=things,
        source={"dataset": dataset, "train_config": config.to_dict(),
                **({"category_ids": list(train_set.category_ids)} if task in ("instance", "panoptic") else {})},
    )


def build_criterion(config: TrainConfig, train_set: SegmentationDataset) -> nn.Module:
    """The loss the config names, with class weights computed from the training masks when asked."""
    weights = None
    if isinstance(config.class_weights, str):  # a name; TrainConfig has refused any other string
        stats = class_pixel_statistics(
            (train_set.load(i)[1] for i in range(len(train_set))),
            num_classes=train_set.num_classes,
            ignore_index=train_set.ignore_index,
        )
        weights = median_frequency_weights(
            pixel_counts=stats.pixel_counts,
            image_pixel_counts=stats.image_pixel_counts,
            power=MEDIAN_FREQUENCY_POWERS[config.class_weights],
        )
    elif isinstance(config.class_weights, list | tuple):
        if len(config.class_weights) != train_set.num_classes:
            raise PixelwiseError(
                f"class_weights has {len(config.class_weights)} values for {train_set.num_classes} classes; give one per class"
            )
        weights = torch.tensor(config.class_weights, dtype=torch.float32)
    options = {"label_smoothing": config.label_smoothing} if config.label_smoothing else {}
    options.update(config.loss_options)
    return create_loss(config.loss, ignore_index=IGNORE_INDEX if train_set.ignore_index is None else train_set.ignore_index, class_weights=weights, **options)


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW or SGD; no weight decay on biases and normalisation parameters.

    The update is PyTorch's fused kernel (one pass over all parameters) where every parameter is a float
    tensor on a CPU or CUDA device; PyTorch's own CPU default is a Python loop over the tensors. Measured on
    a 2-core AVX2 EPYC: an AdamW step over U-Net R34's 24 M parameters 0.096 s -> 0.019 s, DeepLabV3 R50's
    39 M 0.147 s -> 0.031 s; the instance demo's Mask R-CNN trains ~1.15x the images/s.
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in decay + no_decay) or None
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, fused=fused)
    return torch.optim.AdamW(groups, lr=config.lr, fused=fused)
