"""Make values safe for weights-only unpickling: numpy values and paths become plain ones."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import PurePath
from typing import Any

import numpy as np
import torch

# Values torch's weights-only unpickler reads back as they are (exact types: a numpy float
# is a float subclass, but it pickles as a numpy object that weights-only loading refuses).
_PLAIN_LEAVES = (str, int, float, bool, type(None), bytes, torch.Size, torch.dtype, torch.device)


def plain(value: Any, where: str) -> Any:
    """``value`` with numpy values and paths made plain; raise TypeError on anything else unreadable.

    Containers are rebuilt only when something inside changed, so a state_dict keeps its
    ``OrderedDict`` type and ``_metadata``.

    Raises:
        TypeError: A value weights-only loading could not read back (a custom object); the message
            names ``where`` it is.
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
        items = [(plain(k, f"{where} key"), plain(v, f"{where}[{k!r}]")) for k, v in value.items()]
        unchanged = type(value) in (dict, OrderedDict) and all(
            new_k is k and new_v is v for (new_k, new_v), (k, v) in zip(items, value.items(), strict=True)
        )
        if unchanged:
            return value
        return OrderedDict(items) if isinstance(value, OrderedDict) else dict(items)
    if isinstance(value, list | tuple | set):
        kind = list if isinstance(value, list) else set if isinstance(value, set) else tuple
        items = [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if type(value) is kind and all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return kind(items)
    raise TypeError(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which weights-only loading "
        "cannot read; store plain values (str, int, float, bool, None, lists, dicts, tensors)"
    )
