"""Learning-rate schedules as pure functions of training progress in [0, 1].

Progress is steps done over total steps, or elapsed over budgeted time, so the same
schedule spans an epoch count or a wall-clock budget.
"""

from __future__ import annotations

import math


def lr_factor(progress: float, *, schedule: str, warmup: float = 0.0, power: float = 0.9) -> float:
    """Multiplier of the peak learning rate at ``progress``.

    Args:
        progress: Fraction of the run done, clipped to [0, 1].
        schedule: ``"poly"`` ((1 - p)^power, DeepLab's), ``"cosine"`` or ``"constant"``.
        warmup: Fraction of the run spent ramping linearly from 0 to the peak.
        power: Exponent of the poly schedule.
    """
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return progress / warmup
    rest = (progress - warmup) / (1 - warmup) if warmup < 1 else 1.0
    if schedule == "poly":
        return (1 - rest) ** power
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * rest))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r}; choose poly, cosine or constant")


def resize_factor(progress: float, stages: tuple[tuple[float, float], ...] | None) -> float:
    """Training resolution factor at ``progress`` for progressive resizing.

    Args:
        progress: Fraction of the run done.
        stages: ``((start, factor), ...)`` with increasing starts, the first at 0: from each start on,
            training crops are taken at ``factor`` times the resolution (``None``: always 1).
    """
    factor = 1.0
    for start, stage_factor in stages or ():
        if progress + 1e-9 >= start:
            factor = stage_factor
    return factor
