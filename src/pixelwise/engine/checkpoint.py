"""Training checkpoints: written atomically, read with weights-only unpickling.

A checkpoint is one ``torch.save`` file holding a plain dict::

    format, format_version      "pixelwise-checkpoint", 1
    model                       the model's state_dict (DDP / torch.compile wrappers removed)
    model_config                model.pixelwise_config: how to rebuild the model (or None)
    class_names, palette        labels of the output channels
    optimizer, scheduler, scaler    their state_dicts (or None)
    epoch, step                 progress counters
    config                      the resolved training configuration (plain dict)
    metrics, extra              free plain dicts (or None)
    rng                         capture_rng_states(): python, numpy, torch CPU and CUDA generators
    versions                    torch and pixelwise versions that wrote it

Everything in it is a tensor or a plain Python value, so ``torch.load(weights_only=True)``
reads it and a file from a stranger cannot run code when loaded. The write goes to a
temporary file in the same folder, is flushed to disk and then renamed over the
destination, so a crash or a kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import random
from collections import OrderedDict
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.utils.atomic import atomic_path

CHECKPOINT_FORMAT = "pixelwise-checkpoint"
CHECKPOINT_VERSION = 1

# Values torch's weights-only unpickler reads back as they are (exact types: a numpy float
# is a float subclass, but it pickles as a numpy object that weights-only loading refuses).
_PLAIN_LEAVES = (str, int, float, bool, type(None), bytes, torch.Size, torch.dtype, torch.device)


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
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    epoch: int,
    step: int,
    config: dict[str, Any],
    class_names: list[str] | tuple[str, ...],
    palette: list | tuple | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a training checkpoint atomically (temporary file, fsync, rename).

    Args:
        path: Destination file, e.g. ``out/last.pt``; its folder is created.
        model: The model, possibly wrapped in DDP or ``torch.compile`` (unwrapped here).
        optimizer: Optimizer whose state to keep (``None``: not saved).
        scheduler: LR scheduler with a ``state_dict()`` (``None``: not saved).
        scaler: ``torch.amp.GradScaler`` (``None``: not saved).
        epoch: Epochs completed.
        step: Optimizer steps completed.
        config: The resolved training configuration as a plain dict.
        class_names: One name per output channel.
        palette: One RGB colour per class (``None``: none).
        metrics: Scores to remember (e.g. validation mIoU).
        extra: Any other plain values the caller needs to resume.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: A value that weights-only loading could not read back (a custom object);
            the message names where it is. Numpy scalars and arrays become Python numbers and
            tensors, paths become strings.
    """
    model = unwrap_model(model)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model": model.state_dict(),
        "model_config": getattr(model, "pixelwise_config", None),
        "class_names": list(class_names),
        "palette": palette,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "config": config,
        "metrics": metrics,
        "extra": extra,
        "rng": capture_rng_states(),
        "versions": {"torch": str(torch.__version__), "pixelwise": _pixelwise_version()},
    }
    payload = {key: _plain(value, f"checkpoint[{key!r}]") for key, value in payload.items()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, never running code from the file.

    Args:
        path: The checkpoint file.
        map_location: Where tensors go (``"cpu"``, ``"cuda:0"``, a ``torch.device``).

    Returns:
        The checkpoint dict (see the module docstring for its keys).

    Raises:
        PixelwiseError: The file is missing, truncated or corrupt, holds pickled code or
            objects (refused, not executed), or is not a pixelwise checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelwiseError(f"checkpoint {path} does not exist (or is not a file); pass a .pt file written by pixelwise train")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # The weights-only unpickler met a global or an opcode it does not allow: code, a
        # custom object, or bytes that are no checkpoint at all. Nothing from the file ran.
        raise PixelwiseError(
            f"{path} is not a pixelwise checkpoint or holds code; refusing to unpickle it"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as error:
        raise PixelwiseError(_corrupt(path, error)) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise PixelwiseError(
            f"{path} is not a pixelwise checkpoint (a bare state_dict or another tool's file?); "
            "pass a .pt file written by pixelwise train"
        )
    if checkpoint.get("format_version", 0) > CHECKPOINT_VERSION:
        raise PixelwiseError(
            f"{path} has checkpoint format {checkpoint['format_version']}, newer than this pixelwise reads "
            f"({CHECKPOINT_VERSION}); upgrade pixelwise"
        )
    return checkpoint


def _plain(value: Any, where: str) -> Any:
    """``value`` with numpy values and paths made plain; raise TypeError on anything else unreadable.

    Containers are rebuilt only when something inside changed, so a state_dict keeps its
    ``OrderedDict`` type and ``_metadata``.
    """
    if type(value) in _PLAIN_LEAVES or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        items = [(_plain(k, f"{where} key"), _plain(v, f"{where}[{k!r}]")) for k, v in value.items()]
        unchanged = type(value) in (dict, OrderedDict) and all(
            new_k is k and new_v is v for (new_k, new_v), (k, v) in zip(items, value.items(), strict=True)
        )
        if unchanged:
            return value
        return OrderedDict(items) if isinstance(value, OrderedDict) else dict(items)
    if isinstance(value, list | tuple | set):
        kind = list if isinstance(value, list) else set if isinstance(value, set) else tuple
        items = [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if type(value) is kind and all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return kind(items)
    raise TypeError(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which weights-only loading "
        "cannot read; store plain values (str, int, float, bool, None, lists, dicts, tensors)"
    )


def _corrupt(path: Path, error: BaseException) -> str:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{path} is truncated or corrupt ({reason}); use another checkpoint (e.g. best.pt) or train again"


def _pixelwise_version() -> str:
    try:
        return metadata.version("pixelwise")
    except metadata.PackageNotFoundError:
        return "unknown"
