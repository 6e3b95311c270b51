"""Write files atomically: a reader (or a crash) never sees a half-written file.

Everything is first written to a temporary file in the destination folder, flushed to
disk, then renamed over the destination (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pixelwise.errors import PixelwiseError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.

    Example:
        >>> with atomic_path("model.pt") as tmp:  # doctest: +SKIP
        ...     torch.save(state, tmp)
    """
    path = Path(path)
    if path.is_dir():
        raise PixelwiseError(f"{path} is a folder; give the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PixelwiseError(f"cannot write {path}: a file stands where a folder of its path should be") from None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:  # make the bytes durable before the rename publishes them
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; give the usual permissions
        os.replace(tmp, path)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise PixelwiseError(f"no space left on device writing {path}; free some space and run again") from None
        raise
    except RuntimeError as error:
        # torch.save's zip writer reports a full disk as "unexpected pos ..." / "PytorchStreamWriter failed"
        if "unexpected pos" in str(error) or "PytorchStreamWriter" in str(error):
            if shutil.disk_usage(path.parent).free < 64 * 2**20:
                raise PixelwiseError(f"no space left on device writing {path}; free some space and run again") from None
            raise PixelwiseError(f"could not write {path} ({str(error).splitlines()[0]}); check the disk") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically. NaN is not allowed: pass ``None``."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
