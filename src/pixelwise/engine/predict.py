"""``pixelwise.predict``: label maps, colour masks and overlays for images, folders or globs."""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pixelwise.checks import check_int
from pixelwise.data.decode import read_image
from pixelwise.data.files import image_files
from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor
from pixelwise.inference.predictor import predict_labels
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH
from pixelwise.visual.overlay import overlay, save_label_png, save_png
from pixelwise.visual.palette import colorize, default_palette


@dataclass
class PredictReport:
    """Files written per input image, and the inputs that could not be read."""

    written: dict[Path, list[Path]] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)


def expand_inputs(inputs: list[str | Path]) -> dict[Path, str]:
    """Files, folders (their images, sorted) and glob patterns -> ``{image path: output name}``.

    The output name keeps what tells inputs apart: the file name without its last suffix
    (``x.v1.png`` -> ``x.v1``); the full name where two inputs would share that (``a.png`` and
    ``a.jpg`` -> ``a.png``, ``a.jpg``); the input folder's name in front where two folders hold the
    same file name. No two inputs get the same output name.
    """
    found: dict[Path, str] = {}  # path -> its name relative to the folder (or glob) it came from
    roots: dict[Path, str] = {}  # path -> the name of that folder
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise PixelwiseError(f"{text}: the pattern matches no file; check the pattern")
            for path in matches:
                if path.is_file():
                    found.setdefault(path, path.name)
                    roots.setdefault(path, path.parent.name)
        elif Path(text).is_dir():
            for path in image_files(Path(text)):
                found.setdefault(path, path.name)
                roots.setdefault(path, Path(text).resolve().name)
        elif Path(text).is_file():
            found.setdefault(Path(text), Path(text).name)
            roots.setdefault(Path(text), Path(text).resolve().parent.name)
        else:
            raise PixelwiseError(f"{text}: no such file or folder; pass images, folders or glob patterns")
    if not found:
        raise PixelwiseError("no input images found; pass image files, folders of images or glob patterns")
    names = {path: Path(name).stem for path, name in found.items()}
    for rule in (lambda path: found[path], lambda path: f"{roots[path]}/{found[path]}"):
        clashing = _clashes(names)
        for path in clashing:
            names[path] = rule(path)
    for path in _clashes(names):  # the same folder name and file name twice: number them
        names[path] = f"{names[path]}~{list(found).index(path)}"
    return names


def in_strips(paint: Callable[[slice], np.ndarray], height: int, *, rows: int = 1024) -> np.ndarray:
    """``paint(slice of rows)`` -> ``(rows, W, 3)`` uint8, painted strip by strip into one ``(H, W, 3)`` array: the
    same picture (colours and overlays are per pixel) in a strip's working memory, not ~40 bytes a pixel."""
    picture = None
    for start in range(0, height, rows):
        strip = paint(slice(start, start + rows))
        if picture is None:
            picture = np.empty((height, *strip.shape[1:]), dtype=strip.dtype)
        picture[start : start + len(strip)] = strip
    return picture


def _clashes(names: dict[Path, str]) -> list[Path]:
    counts = Counter(names.values())
    return [path for path, name in names.items() if counts[name] > 1]


def predict(
    *,
    checkpoint: str | Path | None = None,
    predictor: Predictor | None = None,
    inputs: list[str | Path],
    out: str | Path,
    batch_size: int = 4,
    device: str = "auto",
    precision: str = "auto",
    alpha: float = 0.5,
    progress: bool = True,
    input_scale: float | None = None,
    flip: bool = False,
    scales: Sequence[float] = (1.0,),
    window: int | tuple[int, int] | None = None,
    overlap: float = OVERLAP,
    window_batch: int = WINDOW_BATCH,
    blend: str = "gaussian",
    backend: str = "auto",
    calibration: str | Path | None = None,
    score_threshold: float = 0.5,
) -> PredictReport:
    """Segment every input image and write, per image ``NAME``: ``NAME.png`` (index labels with an
    embedded palette), ``NAME_color.png`` (colour mask) and ``NAME_overlay.png`` (blend over the image).

    Args:
        checkpoint: A model file (``best.pt``, an exported ``.onnx``, ...); or give ``predictor``.
        predictor: Any predictor (a network in any runtime, a classical method).
        inputs: Image files, folders of images, glob patterns.
        out: Output folder.
        batch_size: Images of the same size predicted together.
        device, precision, input_scale, flip, scales, window, overlap, window_batch, blend, backend, calibration:
            How a model file runs: test-time augmentation, sliding windows (memory bounded by the window, for
            large images) and the runtime; see :meth:`pixelwise.Predictor.from_file`.
        alpha: Opacity of the colour mask in the overlay.
        progress: Show a progress bar.
        score_threshold: Instance models: instances less confident than this are not written.

    An instance model writes, per image, ``NAME.png`` (its instances painted as a class map),
    ``NAME_instances.png`` (instance ids) and ``NAME_overlay.png`` (each instance in its own colour,
    with its box, class and score), and for the run ``results.json`` in COCO's results format
    (``image_id`` indexes ``images.json``). A panoptic model writes ``NAME.png`` (class map),
    ``NAME_panoptic.png`` (segment ids, COCO's RGB encoding), ``NAME_overlay.png`` and ``panoptic.json``.

    Corrupt or unreadable inputs are reported in the returned ``failed`` map and skipped; the rest
    are still written.
    """
    if (checkpoint is None) == (predictor is None):
        raise PixelwiseError("give exactly one of checkpoint (a model file) or predictor")
    check_int("batch_size", batch_size, minimum=1)
    if predictor is None:
        predictor = Predictor.from_file(checkpoint, device=device, precision=precision, input_scale=input_scale, flip=flip,
                                        scales=scales, window=window, overlap=overlap, window_batch=window_batch,
                                        blend=blend, score_threshold=score_threshold, backend=backend,
                                        calibration=calibration)
    palette = list(predictor.labels.palette) or default_palette(predictor.labels.num_classes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = None
    if predictor.task == "instance":
        from pixelwise.engine.predict_instances import InstanceWriter

        category_ids = (getattr(predictor, "spec", None) and predictor.spec.source.get("category_ids")) or None
        writer = InstanceWriter(out=out, palette=palette, category_ids=category_ids, alpha=alpha)
    elif predictor.task == "panoptic":
        from pixelwise.engine.predict_panoptic import PanopticWriter

        writer = PanopticWriter(out=out, palette=palette, class_names=list(predictor.labels.class_names),
                                   things=list(predictor.labels.things), alpha=alpha)
    report = PredictReport()
    names = expand_inputs(inputs)
    batch: list[tuple[Path, torch.Tensor]] = []  # (path, uint8 image (C, H, W))

    def flush() -> None:
        if not batch:
            return
        predictions = predict_labels(predictor, torch.stack([image for _, image in batch]))
        for (path, image), prediction in zip(batch, predictions, strict=True):
            stem = out / names[path]
            stem.parent.mkdir(parents=True, exist_ok=True)
            if writer is not None:  # instance and panoptic models write their own files
                report.written[path] = writer.write(prediction, image, stem=stem, source=path)
                continue
            label = prediction.label_map
            report.written[path] = [
                save_label_png(label, stem.with_name(stem.name + ".png"), palette=palette),
                save_png(in_strips(lambda rows, label=label: colorize(label[rows], palette=palette), label.shape[0]),
                         stem.with_name(stem.name + "_color.png")),
                save_png(in_strips(lambda rows, label=label, image=image: overlay(image[:, rows], label[rows], palette=palette,
                                                                                 alpha=alpha), label.shape[0]),
                         stem.with_name(stem.name + "_overlay.png")),
            ]
        batch.clear()

    for path in tqdm(list(names), desc="predict", disable=not progress):
        try:
            image = read_image(path, channels=predictor.in_channels)
        except PixelwiseError as error:
            report.failed[path] = str(error)
            tqdm.write(f"skipped: {error}")
            continue
        if batch and (batch[0][1].shape != image.shape or len(batch) >= batch_size):
            flush()
        batch.append((path, image))
    flush()
    if writer is not None:
        report.written[out] = writer.finish()
    return report
