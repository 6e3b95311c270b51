"""How much of a wall-clock budget is spent, the same number on every rank."""

from __future__ import annotations

import time

import torch

from pixelwise.engine.distributed import broadcast_value

CLOCK_SYNC_EVERY = 10
"""Steps between readings of rank 0's clock under torchrun (each reading is one broadcast)."""


class BudgetClock:
    """The fraction of ``budget_s`` seconds spent since ``started`` (a ``time.perf_counter()`` value).

    A single process reads its own clock on every call. Under torchrun every rank reads rank 0's
    clock instead, so that all ranks apply the same learning rate and stop at the same step (DDP keeps
    replicas equal only if their optimizer steps are). That reading is a broadcast, a host
    synchronisation on GPUs, so a plain call reads it only every ``sync_every`` calls and otherwise
    repeats the last reading; ``read(exact=True)`` always reads it. Every rank must make the same
    calls in the same order. Between readings the schedule holds still for at most
    ``sync_every - 1`` steps, and a run may overshoot its budget by as many.
    """

    def __init__(
        self, *, budget_s: float, started: float, device: torch.device, distributed: bool, sync_every: int = CLOCK_SYNC_EVERY
    ) -> None:
        if budget_s <= 0 or sync_every < 1:
            raise ValueError(f"need budget_s > 0 and sync_every >= 1, got {budget_s} and {sync_every}")
        self.budget_s, self.started, self.device = budget_s, started, device
        self.distributed, self.sync_every = distributed, sync_every
        self._last = 0.0
        self._calls_since_reading = sync_every  # the first call reads

    def read(self, *, exact: bool = False) -> float:
        """Fraction of the budget spent (may exceed 1)."""
        local = (time.perf_counter() - self.started) / self.budget_s
        if not self.distributed:
            return local
        if exact or self._calls_since_reading >= self.sync_every:
            self._last = broadcast_value(local, self.device)
            self._calls_since_reading = 0
        self._calls_since_reading += 1
        return self._last
