"""What a training run leaves for people to read: a CSV of epochs, TensorBoard events, a curves PNG."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

from pixelwise.utils.atomic import atomic_write_text
from pixelwise.visual.curves import plot_training_curves

PLOT_EVERY_S = 30.0
"""Drawing the curves costs ~0.4 s; short epochs redraw them at most this often (and always after validation)."""


class RunLog:
    """Epoch history of one run, rewritten atomically after each epoch.

    Args:
        out: The run folder (``history.csv``, ``curves.png``, ``tensorboard/``).
        history: Rows already logged (when resuming).
        tensorboard: Also write TensorBoard scalars (skipped if tensorboard is not installed).
    """

    def __init__(self, out: Path, *, history: list[dict[str, Any]] | None = None, tensorboard: bool = True):
        self.out = out
        self.history: list[dict[str, Any]] = list(history or [])
        self._writer = None
        self._plotted_at = -math.inf
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._writer = None
            else:
                self._writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None and not math.isnan(value):
            self._writer.add_scalar(tag, value, step)

    def epoch(self, row: dict[str, Any]) -> None:
        """Record one epoch's row (:meth:`add`) and refresh the files (:meth:`write`)."""
        self.write(self.add(row))

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Record one epoch's row in :attr:`history` and return it; no file is written yet, so the caller
        can save the checkpoint that holds the epoch first (``history.csv`` never lists an epoch no
        checkpoint holds).

        A second row for the epoch just logged (its validation, run once the time budget ran out)
        completes that epoch's row instead of adding one.
        """
        if self.history and self.history[-1]["epoch"] == row["epoch"]:
            self.history[-1] = row = {**self.history[-1], **row}
        else:
            self.history.append(row)
        return row

    def write(self, row: dict[str, Any]) -> None:
        """Refresh ``history.csv``, ``curves.png`` and TensorBoard with the row :meth:`add` recorded."""
        for key, value in row.items():
            if key not in ("epoch", "step") and isinstance(value, float):
                self.scalar(f"epoch/{key}", value, int(row["epoch"]))
        keys = list(dict.fromkeys(key for r in self.history for key in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write_text(self.out / "history.csv", buffer.getvalue())
        if any(key.startswith("val_") for key in row) or time.monotonic() - self._plotted_at >= PLOT_EVERY_S:
            self._plot()

    def _plot(self) -> None:
        plot_training_curves(history=self.history, path=self.out / "curves.png")
        self._plotted_at = time.monotonic()

    def close(self) -> None:
        if self.history:
            self._plot()  # the final state, whatever the last redraw skipped
        if self._writer is not None:
            self._writer.close()
