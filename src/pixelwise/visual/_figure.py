"""Make matplotlib figures without pyplot and save them atomically.

pyplot keeps every figure in a global registry (and picks a GUI backend on some machines);
a library that plots from training loops or worker processes must not touch that state.
``Figure`` + ``FigureCanvasAgg`` gives an isolated figure that is freed with the object.
matplotlib itself is imported on the first figure, not with pixelwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pixelwise.utils.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def new_figure(*, width: float, height: float) -> Figure:
    """An Agg-backed figure of ``width`` x ``height`` inches, outside pyplot's registry."""
    # matplotlib is imported here, when a picture is drawn, so that ``import pixelwise`` stays light.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = DPI) -> Path:
    """Write ``figure`` to ``path`` atomically; the format follows the path's suffix (``.png`` by default).

    Returns:
        The destination path.
    """
    path = Path(path)
    file_format = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        # The format is passed explicitly: the temporary name ends in ".tmp.png" today, but
        # the written bytes must not depend on how atomic_path names its temporary file.
        figure.savefig(tmp, format=file_format, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path
