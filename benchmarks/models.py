"""Write benchmarks/MODELS.md: parameters, GFLOPs and CPU latency of every model at 512 x 512.

Usage:
    python benchmarks/models.py [--size 512] [--repeats 3] [--bf16] [--out benchmarks/MODELS.md]

Each model is built with its defaults (21 classes) and timed on one image in eval mode:
one warm-up pass, then the median of ``--repeats`` passes. bf16 autocast is timed only where
the CPU has bf16 units (or with ``--bf16``): elsewhere it is emulated and hundreds of times slower.
The numbers depend on what else the machine runs; the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

import torch

from pixelwise.models.profile import format_profiles, profile_models
from pixelwise.utils.atomic import atomic_write_text
from pixelwise.utils.hardware import cpu_has_fast_bf16


def describe_machine() -> str:
    """CPU model, core count, torch threads, bf16 units and load: what the latency numbers depend on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return (
        f"{cpu}; {os.cpu_count()} logical cores; torch {torch.__version__} with {torch.get_num_threads()} threads; "
        f"bf16 units: {'yes' if cpu_has_fast_bf16() else 'no'}; load average at start {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="square input side (default 512)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model (default 3)")
    parser.add_argument("--bf16", action="store_true", help="time bf16 autocast even without bf16 units")
    parser.add_argument("--out", default=str(Path(__file__).with_name("MODELS.md")), help="markdown file to write")
    args = parser.parse_args()

    machine = describe_machine()
    rows = profile_models(size=args.size, measure=True, bf16=True if args.bf16 else None, repeats=args.repeats)
    text = "\n".join([
        "# Model zoo: size and CPU speed",
        "",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {machine}  ",
        f"Command: `python benchmarks/models.py --size {args.size} --repeats {args.repeats}`",
        "",
        f"Every model with its default options and 21 classes, one {args.size}x{args.size} image, eval mode.",
        "GFLOPs from `torch.utils.flop_counter.FlopCounterMode` (2 FLOPs per multiply-add).",
        f"Latency: median of {args.repeats} passes after one warm-up, in milliseconds.",
        "",
        format_profiles(rows, size=args.size),
        "",
    ])
    atomic_write_text(args.out, text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
