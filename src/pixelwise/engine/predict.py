"""``pixelwise.predict``: label maps, colour masks and overlays for images, folders or globs."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from pixelwise.data.decode import read_image
from pixelwise.data.files import image_files
from pixelwise.data.transforms import eval_transform
from pixelwise.engine.loop import autocast, forward_at_scale
from pixelwise.engine.trained import load_trained
from pixelwise.errors import PixelwiseError
from pixelwise.utils.hardware import autocast_dtype, resolve_device
from pixelwise.visual.overlay import overlay, save_label_png, save_png
from pixelwise.visual.palette import colorize, default_palette


@dataclass
class PredictReport:
    """Files written per input image, and the inputs that could not be read."""

    written: dict[Path, list[Path]] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> a list of image paths."""
    paths: list[Path] = []
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise PixelwiseError(f"{text}: the pattern matches no file; check the pattern")
            paths.extend(p for p in matches if p.is_file())
        elif Path(text).is_dir():
            paths.extend(image_files(Path(text)))
        elif Path(text).is_file():
            paths.append(Path(text))
        else:
            raise PixelwiseError(f"{text}: no such file or folder; pass images, folders or glob patterns")
    if not paths:
        raise PixelwiseError("no input images found; pass image files, folders of images or glob patterns")
    return list(dict.fromkeys(paths))


def predict(
    *,
    checkpoint: str | Path,
    inputs: list[str | Path],
    out: str | Path,
    batch_size: int = 4,
    device: str = "auto",
    precision: str = "auto",
    alpha: float = 0.5,
    progress: bool = True,
    flip: bool = False,
) -> PredictReport:
    """Segment every input image and write, per image ``NAME``: ``NAME.png`` (index labels with an
    embedded palette), ``NAME_color.png`` (colour mask) and ``NAME_overlay.png`` (blend over the image).

    Corrupt or unreadable inputs are reported in the returned ``failed`` map and skipped; the rest
    are still written. Images of the same size are batched together. ``flip`` adds horizontal-flip
    test-time augmentation (see :func:`pixelwise.engine.loop.forward_at_scale`).
    """
    run_device = resolve_device(device)
    trained = load_trained(checkpoint, device=run_device)
    palette = trained.palette or default_palette(trained.num_classes)
    amp_dtype = autocast_dtype(run_device, precision)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = PredictReport()
    normalize = eval_transform()  # the same normalisation as validation and evaluation
    paths = expand_inputs(inputs)
    batch: list[tuple[Path, torch.Tensor, torch.Tensor]] = []  # (path, uint8 image, normalised image)

    def flush() -> None:
        if not batch:
            return
        x = torch.stack([normalized for _, _, normalized in batch])  # (B, C, H, W) float
        x = x.to(run_device, memory_format=torch.channels_last)  # as the prepared model expects
        with torch.no_grad(), autocast(run_device, amp_dtype):
            labels = forward_at_scale(
                trained.model, x, scale=float(trained.config.get("input_scale", 1.0)),
                short_side=trained.config.get("input_size"), flip=flip,
            ).argmax(1).cpu()  # (B, H, W)
        for (path, image, _), label in zip(batch, labels, strict=True):
            stem = out / path.stem
            report.written[path] = [
                save_label_png(label, stem.with_suffix(".png"), palette=palette),
                save_png(colorize(label, palette=palette), stem.with_name(stem.name + "_color.png")),
                save_png(overlay(image, label, palette=palette, alpha=alpha), stem.with_name(stem.name + "_overlay.png")),
            ]
        batch.clear()

    for path in tqdm(paths, desc="predict", disable=not progress):
        try:
            image = read_image(path, channels=trained.in_channels)
        except PixelwiseError as error:
            report.failed[path] = str(error)
            tqdm.write(f"skipped: {error}")
            continue
        if batch and (batch[0][1].shape != image.shape or len(batch) >= batch_size):
            flush()
        normalized, _ = normalize(image, torch.zeros(image.shape[-2:], dtype=torch.int64))
        batch.append((path, image, normalized))
    flush()
    return report
