"""Resumable training checkpoints: the one model file (:mod:`pixelwise.modelfile`) plus the training state.

``last.pt`` holds the optimizer, scheduler and scaler state_dicts, the progress counters and the
states of every random generator (:func:`capture_rng_states`), so a resumed run continues
exactly like an uninterrupted one; ``best.pt`` is the same file without them. Both are written
atomically and read with weights-only unpickling (:func:`pixelwise.modelfile.read_model_file`).
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.modelfile import ModelFile, ModelSpec, read_model_file, write_model_file


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user's model inside DistributedDataParallel / DataParallel and ``torch.compile`` wrappers.

    Saving the unwrapped model keeps ``module.`` and ``_orig_mod.`` out of the state_dict keys,
    so a checkpoint loads the same way whatever wrappers trained it.
    """
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def capture_rng_states() -> dict[str, Any]:
    """The states of every random generator a training run draws from, as plain values.

    Covers Python's ``random``, numpy's global generator, torch's CPU generator and, when
    CUDA is in use, every CUDA device's generator. Each process captures its own states; in a
    multi-process run rank 0's are the ones saved.

    Returns:
        A dict that :func:`restore_rng_states` accepts and weights-only loading can read.
    """
    version, internal, gauss_next = random.getstate()
    bit_generator, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    cuda_in_use = torch.cuda.is_available() and torch.cuda.is_initialized()
    return {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": str(bit_generator),
            "keys": [int(key) for key in keys],  # (624,) uint32 array -> plain ints
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if cuda_in_use else None,
    }


def restore_rng_states(state: dict[str, Any]) -> None:
    """Put every random generator back to the states :func:`capture_rng_states` recorded.

    CUDA states are restored when CUDA is available and the checkpoint has them (for as
    many devices as both have); tensors loaded onto a GPU are moved back to the CPU first.
    """
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state(
        (
            numpy["bit_generator"],
            np.asarray(numpy["keys"], dtype=np.uint32),
            numpy["position"],
            numpy["has_gauss"],
            numpy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.cpu(), device)


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: nn.Module,
    spec: ModelSpec,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int,
    step: int,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    resumable: bool = True,
) -> Path:
    """Write a model file atomically, with the training state when ``resumable``.

    Args:
        path: Destination file, e.g. ``out/last.pt``; its folder is created.
        model: The model, possibly wrapped in DDP or ``torch.compile`` (unwrapped here).
        spec: The model's spec (labels, preprocessing, the resolved training config in ``source``).
        optimizer, scheduler, scaler: Whose state_dicts to keep (``None``: not saved).
        epoch: Epochs completed.
        step: Optimizer steps completed.
        metrics: Scores to remember (e.g. validation mIoU).
        extra: Any other plain values the caller needs to resume.
        resumable: ``False`` writes weights and spec only (``best.pt``); the counters and metrics then
            go into the spec's ``source``.

    Raises:
        TypeError: A value that weights-only loading could not read back (a custom object); the
            message names where it is. Numpy values become Python numbers and tensors, paths strings.
    """
    model = unwrap_model(model)
    training = None
    if resumable:
        training = {
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "epoch": int(epoch),
            "step": int(step),
            "metrics": metrics,
            "extra": extra,
            "rng": capture_rng_states(),
        }
    else:
        spec = replace(spec, source={**spec.source, "epoch": int(epoch), "step": int(step), "metrics": metrics})
    return write_model_file(path, spec=spec, state_dict=model.state_dict(), training=training)


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> ModelFile:
    """Read a model file written by :func:`save_checkpoint` (or any model file), never running code from it.

    Raises:
        PixelwiseError: The file is missing, truncated or corrupt, holds pickled code or objects
            (refused, not executed), or is not a pixelwise model file.
    """
    return read_model_file(path, map_location=map_location)
