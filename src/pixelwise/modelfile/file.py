"""The one model file: weights, the :class:`~pixelwise.modelfile.spec.ModelSpec`, and, when
resumable, the training state.

A ``.pt`` model file is one ``torch.save`` dict of plain values and tensors::

    format, version     "pixelwise.model", 2
    spec                ModelSpec.to_dict(): task, recipe, preprocessing, labels, provenance
    state_dict          the network's weights
    training            None, or (``last.pt``) optimizer / scheduler / scaler state_dicts, epoch, step,
                        metrics, extra (the loop's counters) and rng (every generator's state)
    versions            torch and pixelwise versions that wrote it

``pixelwise train`` writes ``best.pt`` without and ``last.pt`` with the training state;
:func:`pixelwise.save_model` writes one without. Reading is weights-only (``torch.load(...,
weights_only=True)``): a file from a stranger cannot run code. Writing is atomic (temporary file,
fsync, rename): a crash leaves the previous file intact. Files of the two earlier formats
(``pixelwise-checkpoint`` v1 and ``pixelwise.model`` v1) are converted when read
(:mod:`pixelwise.modelfile.legacy`).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.legacy import LEGACY_FORMATS, convert_legacy
from pixelwise.modelfile.plain import plain
from pixelwise.modelfile.spec import ModelSpec
from pixelwise.utils.atomic import atomic_path

FORMAT = "pixelwise.model"
VERSION = 2

TRAINING_KEYS = ("optimizer", "scheduler", "scaler", "epoch", "step", "metrics", "extra", "rng")
"""What the ``training`` entry of a resumable file holds."""


@dataclass
class ModelFile:
    """A model file read back: its spec, its weights and (``last.pt``) its training state."""

    spec: ModelSpec
    state_dict: dict[str, torch.Tensor]
    training: dict[str, Any] | None = None
    path: Path | None = None

    @property
    def resumable(self) -> bool:
        return self.training is not None


def write_model_file(
    path: str | os.PathLike[str],
    *,
    spec: ModelSpec,
    state_dict: dict[str, torch.Tensor],
    training: dict[str, Any] | None = None,
) -> Path:
    """Write a model file atomically.

    Args:
        path: Destination (conventionally ``.pt``); its folder is created.
        spec: What the file says besides the weights.
        state_dict: The weights (moved to the CPU and detached here).
        training: ``None``, or the resumable state (the keys of :data:`TRAINING_KEYS`).

    Raises:
        TypeError: A value weights-only loading could not read back; the message names where it is.
    """
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec.to_dict(),
        "state_dict": type(state_dict)((key, value.detach().cpu()) for key, value in state_dict.items()),
        "training": training,
        "versions": {"torch": str(torch.__version__), "pixelwise": pixelwise_version()},
    }
    if hasattr(state_dict, "_metadata"):
        payload["state_dict"]._metadata = state_dict._metadata  # type: ignore[attr-defined]
    payload = {key: plain(value, f"model file[{key!r}]") for key, value in payload.items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_model_file(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> ModelFile:
    """Read a ``.pt`` model file (or one of the earlier formats), never running code from it.

    Raises:
        PixelwiseError: The file is missing, truncated or corrupt, holds pickled code or objects
            (refused, not executed), is another tool's file, or is newer than this pixelwise.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelwiseError(f"model file {path} does not exist (or is not a file); pass a .pt file written by pixelwise")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # The weights-only unpickler met a global or an opcode it does not allow: code, a custom
        # object, or bytes that are no model file at all. Nothing from the file ran.
        raise PixelwiseError(f"{path} is not a pixelwise model file or holds code; refusing to unpickle it") from None
    except Exception as error:  # noqa: BLE001 (any failure to parse untrusted bytes means a damaged file)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PixelwiseError(
            f"{path} is truncated or corrupt ({reason}); use another checkpoint (e.g. best.pt) or train again"
        ) from None
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind in LEGACY_FORMATS:
        payload = convert_legacy(payload, where=str(path))
    elif kind != FORMAT:
        raise PixelwiseError(
            f"{path} is not a pixelwise model file (a bare state_dict or another tool's file?); "
            "pass a .pt file written by pixelwise train or pixelwise.save_model"
        )
    elif payload.get("version", 0) > VERSION:
        raise PixelwiseError(
            f"{path} has model file format {payload['version']}, newer than this pixelwise reads ({VERSION}); "
            "upgrade pixelwise"
        )
    if not isinstance(payload.get("spec"), dict | ModelSpec) or not isinstance(payload.get("state_dict"), dict):
        raise PixelwiseError(f"{path} is a damaged pixelwise model file (no spec or weights); use another file or train again")
    spec = payload["spec"] if isinstance(payload["spec"], ModelSpec) else ModelSpec.from_dict(payload["spec"], where=str(path))
    return ModelFile(spec=spec, state_dict=payload["state_dict"], training=payload.get("training"), path=path)


def pixelwise_version() -> str:
    try:
        return metadata.version("pixelwise")
    except metadata.PackageNotFoundError:
        return "unknown"
