"""A trained model restored from a checkpoint, with the facts inference needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.engine.checkpoint import load_checkpoint
from pixelwise.errors import PixelwiseError
from pixelwise.models.fusion import fold_batchnorm
from pixelwise.models.io import rebuild_model


@dataclass
class TrainedModel:
    """A model in eval mode plus its labels, as saved by :func:`pixelwise.train`."""

    model: nn.Module
    class_names: list[str]
    palette: list[tuple[int, int, int]]
    in_channels: int
    config: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_trained(path: str | Path, *, device: torch.device) -> TrainedModel:
    """Rebuild the model a checkpoint describes and load its weights (weights-only unpickling)."""
    checkpoint = load_checkpoint(path, map_location=device)
    model_config = dict(checkpoint.get("model_config") or {})
    if "name" not in model_config:
        raise PixelwiseError(f"{path}: checkpoint does not say which model it holds; was it written by pixelwise train?")
    model = rebuild_model(model_config)  # never re-downloads pretrained weights
    model.load_state_dict(checkpoint["model"])
    in_channels = int(model_config.get("in_channels", 3))
    model = prepare_for_inference(model.to(device), in_channels=in_channels)
    palette = [tuple(int(v) for v in colour) for colour in checkpoint.get("palette") or []]
    return TrainedModel(
        model=model,
        class_names=list(checkpoint["class_names"]),
        palette=palette,  # type: ignore[arg-type]
        in_channels=in_channels,
        config=dict(checkpoint.get("config") or {}),
    )


def prepare_for_inference(model: nn.Module, *, in_channels: int) -> nn.Module:
    """Eval mode, BatchNorm folded into the convolutions, channels_last: the fastest eager form.

    Inputs should then be channels_last too (:func:`pixelwise.engine.loop.to_device` does it).
    """
    device = next(model.parameters()).device
    model = fold_batchnorm(model, example=torch.randn(1, in_channels, 64, 64, device=device))
    return model.to(memory_format=torch.channels_last)
