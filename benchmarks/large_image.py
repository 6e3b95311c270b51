"""Large images through the CLI: peak resident memory and wall time of ``pixelwise predict``.

Rows measured, each a fresh ``pixelwise predict`` process (its peak RSS from ``os.wait4``, so one run
never hides another's):

- a 10,000 x 10,000 RGB image with sliding windows (512 px, overlap 0.25);
- a 4000 x 6000 image with the same windows, and whole-image (MMSegmentation-style: one forward of the
  whole image) for comparison;
- a 512 x 512 image, whole: the fixed cost of the process (Python, PyTorch, the model).

The model is the demo-sized U-Net (16 base channels, 1.9 M parameters, 4 classes) with random weights:
memory and time do not depend on what the weights learned. Each run writes the CLI's three PNGs (labels,
colour, overlay), which are part of what is measured.

    python benchmarks/large_image.py --out /tmp/large-image   # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import pixelwise

WINDOW = ["--window", "512", "--overlap", "0.25"]
RUNS = (  # (name, image height, width, extra flags)
    ("512 x 512, whole image (process baseline)", 512, 512, []),
    ("4000 x 6000, whole image", 4000, 6000, []),
    ("4000 x 6000, windows 512, overlap 0.25", 4000, 6000, WINDOW),
    ("10,000 x 10,000, windows 512, overlap 0.25", 10_000, 10_000, WINDOW),
)


def make_model(path: Path) -> Path:
    """The demo-sized U-Net with random weights (seed 0), as a model file."""
    torch.manual_seed(0)
    model = pixelwise.create_model("unet", num_classes=4, base_channels=16)
    return pixelwise.save_model(model, path)


def make_image(path: Path, *, height: int, width: int) -> Path:
    """A JPEG with structure at several scales (smooth colour fields, blocks, noise), built a band at a time."""
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    picture = np.empty((height, width, 3), dtype=np.uint8)
    columns = np.arange(width, dtype=np.float32)
    for top in range(0, height, 1000):
        rows = np.arange(top, min(top + 1000, height), dtype=np.float32)[:, None]
        band = np.stack([127 + 60 * np.sin(rows / 97 + columns / 131 + phase) for phase in (0.0, 2.0, 4.0)], axis=-1)
        band += 40 * (((rows // 257) + (columns // 311)) % 2)[..., None]
        band += rng.normal(0, 12, band.shape)
        picture[top : top + len(rows)] = np.clip(band, 0, 255).astype(np.uint8)
    Image.fromarray(picture).save(path, quality=90)
    return path


def run_cli(args: list[str], *, timeout: float) -> dict[str, float]:
    """Run ``pixelwise ARGS`` in its own process: ``{"seconds", "peak_rss_mb", "exit"}``."""
    command = [shutil.which("pixelwise") or sys.executable] + ([] if shutil.which("pixelwise") else ["-m", "pixelwise.cli.main"])
    start = time.perf_counter()
    process = subprocess.Popen(command + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    output = process.stdout.read() if process.stdout else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(output[-2000:], file=sys.stderr)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "exit": code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("large-image-benchmark"), help="work folder (images, outputs)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per run")
    parser.add_argument("--only", default=None, help="run only the rows whose name contains this text")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = make_model(args.out / "unet16.pt")
    rows = []
    for name, height, width, flags in RUNS:
        if args.only and args.only not in name:
            continue
        image = make_image(args.out / f"image_{height}x{width}.jpg", height=height, width=width)
        command = ["predict", "--checkpoint", str(model), str(image), "--out", str(args.out / "pred"),
                   "--device", "cpu", "--precision", "fp32", "--no-progress", *flags]  # fmt: skip
        result = run_cli(command, timeout=args.timeout)
        row = {"run": name, "megapixels": round(height * width / 1e6, 1), "command": "pixelwise " + " ".join(command), **result}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (args.out / "large_image.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| run | megapixels | peak RSS (MB) | wall time (s) | exit |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['run']} | {row['megapixels']} | {row['peak_rss_mb']} | {row['seconds']} | {row['exit']} |")


if __name__ == "__main__":
    main()
