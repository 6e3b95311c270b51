"""The run folder: one writer at a time, and never a silent mix of two runs' files."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pixelwise.errors import PixelwiseError

RUN_FILES = ("config.yaml", "last.pt", "best.pt", "metrics.json", "history.csv", "curves.png")
"""What ``pixelwise train`` writes into its folder (plus ``tensorboard/``)."""
LOCK_NAME = ".pixelwise.lock"


@contextlib.contextmanager
def open_run_folder(out: Path, *, resume: bool, overwrite: bool) -> Iterator[None]:
    """Create ``out`` and hold its lock for the whole run, refusing a file in its place, a second writer,
    and a folder that holds another run.

    A folder with a run's files is continued with ``resume``, replaced with ``overwrite`` (the old run's
    files are deleted first, under the lock, so none of them survives beside the new run's), and refused
    otherwise.
    """
    if out.exists() and not out.is_dir():
        raise PixelwiseError(f"--out {out} is a file; give a folder for the run")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PixelwiseError(f"cannot create the run folder {out}: a file stands in its path") from None
    try:
        with run_lock(out):
            _check_existing(out, resume=resume, overwrite=overwrite)
            yield
    except BaseException:
        if created and {p.name for p in out.iterdir()} <= {LOCK_NAME}:  # a run refused before writing anything
            shutil.rmtree(out, ignore_errors=True)
        raise


def _check_existing(out: Path, *, resume: bool, overwrite: bool) -> None:
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not resume and not overwrite:
        raise PixelwiseError(
            f"{out} already holds a run ({', '.join(existing)}); pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )
    if overwrite and not resume:
        for name in existing:
            (out / name).unlink()


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` while a run writes it; a second writer gets a one-line error.

    The lock is an ``flock`` on ``out/.pixelwise.lock``: the kernel releases it when the process ends,
    however it ends, so a killed run never leaves a stale lock behind.
    """
    path = out / LOCK_NAME
    handle = open(path, "a+")  # noqa: SIM115  (held open for the whole run)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PixelwiseError(
                f"{out} is being written by another pixelwise train (process {holder}); wait for it to finish "
                "or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
