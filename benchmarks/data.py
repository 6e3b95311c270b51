"""Data-loading throughput: CamVid train with the default training augmentation, in samples/s.

Measures a DataLoader at 0, 1 and 2 workers (decode + random scale/crop + flip + jitter +
normalise + collate), the same with the decoded images cached in memory, the cost of each
stage per sample, and one training step of a model for comparison, then writes
``benchmarks/DATA.md``.

    python3 benchmarks/data.py --root ../shared/data/camvid
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from pixelwise.data import create_dataset
from pixelwise.data.decode import read_image, read_mask
from pixelwise.data.transforms import train_transform
from pixelwise.utils.atomic import atomic_write_text


def loader_rate(dataset, *, workers: int, batch_size: int, batches: int) -> float:
    """Samples per second over ``batches`` batches, after one warm-up batch (worker start-up excluded)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def stage_costs(dataset, transform, *, count: int) -> dict[str, float]:
    """Milliseconds per sample for decoding the image, the mask, and the augmentation alone."""
    samples = dataset.samples[:count]
    start = time.perf_counter()
    pairs = [(read_image(s.image), s.mask) for s in samples]
    image_ms = (time.perf_counter() - start) / count * 1000
    start = time.perf_counter()
    masks = [dataset.mask_to_labels(read_mask(m), path=m) for _, m in pairs]
    mask_ms = (time.perf_counter() - start) / count * 1000
    start = time.perf_counter()
    for (image, _), mask in zip(pairs, masks, strict=True):
        transform(image, mask)
    return {"decode image": image_ms, "decode mask + label map": mask_ms,
            "augmentation": (time.perf_counter() - start) / count * 1000}


def train_step_rate(*, model_name: str, num_classes: int, crop: int, batch_size: int, steps: int) -> float:
    """Samples per second of forward + backward + AdamW step on random data (fp32, CPU)."""
    from pixelwise.models import create_model

    model = create_model(model_name, num_classes=num_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.randn(batch_size, 3, crop, crop)
    masks = torch.randint(0, num_classes, (batch_size, crop, crop))
    for step in range(steps + 1):
        if step == 1:  # the first step allocates; time the rest
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(images), masks, ignore_index=255)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} logical cores (load average {load:.1f} at start), torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op threads, Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camvid"))
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per configuration")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default="unet", help="model whose training step is timed for comparison ('' to skip)")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps")
    parser.add_argument("--out", default=str(Path(__file__).with_name("DATA.md")))
    args = parser.parse_args()

    torch.manual_seed(0)
    transform = train_transform(crop_size=args.crop_size)
    dataset = create_dataset("camvid", root=args.root, split="train", transform=transform)
    header = machine()
    print(header)
    rows = []
    default_threads = torch.get_num_threads()

    def measure(cache: str) -> None:
        for workers in args.workers:
            # Workers always run one intra-op thread; the main process runs the default, and 1 for comparison.
            for threads in [default_threads, 1] if workers == 0 and default_threads > 1 else [default_threads]:
                torch.set_num_threads(threads)
                rate = loader_rate(dataset, workers=workers, batch_size=args.batch_size, batches=args.batches)
                torch.set_num_threads(default_threads)
                label = f"{workers} (main process, {threads} intra-op thread{'s' * (threads > 1)})" if workers == 0 else f"{workers}"
                rows.append((label, cache, rate))
                print(f"workers={label} cache={cache}: {rate:.1f} samples/s")

    measure("no")
    torch.set_num_threads(1)
    start = time.perf_counter()
    dataset.preload()
    preload_s = time.perf_counter() - start
    costs = stage_costs(dataset, transform, count=40)
    torch.set_num_threads(default_threads)
    print(f"preload of {len(dataset)} pairs: {preload_s:.1f} s; per-sample costs (1 thread): {costs}")
    measure("yes (preloaded)")
    step_rate = None
    if args.model:
        step_rate = train_step_rate(model_name=args.model, num_classes=11, crop=args.crop_size,
                                    batch_size=args.batch_size, steps=args.steps)
        print(f"{args.model} training step: {step_rate:.2f} samples/s")

    command = "python3 " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    lines = [
        "# Data-loading benchmark",
        "",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {header}",
        f"- command: `{command}`",
        f"- data: CamVid train ({len(dataset)} pairs of 480x360 PNGs), `train_transform(crop_size={args.crop_size})` "
        "(random scale 0.5-2.0 + crop, flip, colour jitter 0.2, ImageNet normalisation), batch size "
        f"{args.batch_size}, {args.batches} timed batches after one warm-up batch",
        "",
        "| workers | cache | samples/s |",
        "| --- | --- | --- |",
        *[f"| {w} | {c} | {r:.1f} |" for w, c, r in rows],
        "",
        "DataLoader workers always run one intra-op thread. The main process (workers=0) runs torch's default; "
        "on a machine shared with other jobs its threads wait for each other at every tensor operation, so compare "
        "its two rows (and the load average above) before choosing workers=0; numbers vary from run to run "
        "with the other jobs' load.",
        "",
        f"Preloading the cache (decoding all {len(dataset)} pairs once, 1 thread): {preload_s:.1f} s.",
        "",
        "Cost per sample, one process, 1 intra-op thread:",
        "",
        "| stage | ms |",
        "| --- | --- |",
        *[f"| {stage} | {ms:.1f} |" for stage, ms in costs.items()],
    ]
    if step_rate is not None:
        lines += [
            "",
            f"For comparison, one fp32 training step of `{args.model}` (default options, 11 classes) on this CPU at "
            f"batch {args.batch_size} and {args.crop_size}x{args.crop_size}: {step_rate:.2f} samples/s "
            f"(mean of {args.steps} steps after the first).",
        ]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
