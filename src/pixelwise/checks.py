"""Checks of user-given values: each refuses a bad value with one line naming the field, the value and
what is allowed. Used by the config dataclass and by every function that takes such values directly."""

from __future__ import annotations

import math
from typing import Any

from pixelwise.errors import PixelwiseError


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if isinstance(value, str) else repr(value)


def check_int(name: str, value: Any, *, minimum: int | None = None, optional: bool = False) -> None:
    """``value`` is an integer (not a bool, not a float) of at least ``minimum`` (``None`` when ``optional``)."""
    if value is None and optional:
        return
    wanted = "an integer" + (f" >= {minimum}" if minimum is not None else "") + (" or null" if optional else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise PixelwiseError(f"{name} {_show(value)} is not {wanted}; write e.g. {name}: {max(minimum or 0, 1)}")
    if minimum is not None and value < minimum:
        raise PixelwiseError(f"{name} {value} is out of range; it must be {wanted}")


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    positive: bool = False,
    below: float | None = None,
    optional: bool = False,
) -> None:
    """``value`` is a finite number, ``> 0`` when ``positive``, ``>= minimum``, ``< below``."""
    if value is None and optional:
        return
    bounds = []
    if positive:
        bounds.append("> 0")
    if minimum is not None:
        bounds.append(f">= {minimum:g}")
    if below is not None:
        bounds.append(f"< {below:g}")
    wanted = "a finite number" + (" " + " and ".join(bounds) if bounds else "") + (" or null" if optional else "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PixelwiseError(f"{name} {_show(value)} is not {wanted}")
    if (
        not math.isfinite(value)
        or (positive and value <= 0)
        or (minimum is not None and value < minimum)
        or (below is not None and value >= below)
    ):
        raise PixelwiseError(f"{name} {value} is out of range; it must be {wanted}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise PixelwiseError(f"{name} {_show(value)} is not true or false")


def check_str(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise PixelwiseError(f"{name} {_show(value)} is not a non-empty string" + (" or null" if optional else ""))


def check_device(value: Any) -> None:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; a CUDA device needs a GPU."""
    check_str("device", value)
    import torch

    try:
        device = torch.device(value) if value != "auto" else None
    except RuntimeError:
        raise PixelwiseError(f"device {value!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device is not None and device.type == "cuda" and not torch.cuda.is_available():
        raise PixelwiseError(f"device {value!r}: no CUDA GPU is available here; use --device cpu (or auto)")
    if device is not None and device.type not in ("cpu", "cuda", "mps"):
        raise PixelwiseError(f"device {value!r} is not supported; use auto, cpu, cuda or cuda:N")
