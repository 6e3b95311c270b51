"""Instance models (Mask R-CNN) in eager PyTorch against their ONNX export in onnxruntime, images/s.

Each contender is a :class:`pixelwise.Predictor` as ``pixelwise predict`` builds it (``--backend torch`` and
``--backend onnxruntime``), fed one image per call; the two take turns, ``--repeats`` rounds, and the
median round is reported, so a noisy neighbour hits both alike. Every detection is kept
(``score_threshold=0``), so both runtimes do the same work and return the same objects.

    python benchmarks/instance_runtimes.py --checkpoint runs/demo-instance/best.pt --size 128 --threads 1,2
    python benchmarks/instance_runtimes.py --random maskrcnn --size 512 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import pixelwise


def random_model_file(name: str, *, size: int, folder: Path) -> Path:
    """A model file of ``name`` with random weights, 3 object classes, resizing to ``size``."""
    from pixelwise.modelfile import save_pretrained
    from pixelwise.modelfile.spec import spec_for_model

    torch.manual_seed(0)
    model = pixelwise.create_model(name, num_classes=4, min_size=size, max_size=size)
    save_pretrained(model, folder / name, spec=spec_for_model(model, class_names=["background", "a", "b", "c"], ignore_index=None))
    return folder / name


def images(*, size: int, count: int) -> list[torch.Tensor]:
    """Instance-shapes test images at ``size`` px."""
    from pixelwise.data.instances import create_instance_dataset

    data = create_instance_dataset("shapes", split="test", size=size, length=count)
    return [data[index][0] for index in range(count)]


def measure(path: Path, *, size: int, threads: int, count: int, repeats: int) -> dict[str, float]:
    """Median images/s of each runtime over ``repeats`` alternating rounds of ``count`` images."""
    torch.set_num_threads(threads)
    pictures = images(size=size, count=count)
    runtimes = {name: pixelwise.Predictor.from_file(path, backend=name, score_threshold=0.0) for name in ("torch", "onnxruntime")}
    for predictor in runtimes.values():  # warm up: first-call allocations, onnxruntime's arena
        predictor(pictures[0])
    rounds: dict[str, list[float]] = {name: [] for name in runtimes}
    for _ in range(repeats):
        for name, predictor in runtimes.items():
            start = time.perf_counter()
            for picture in pictures:
                predictor(picture)
            rounds[name].append(count / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rounds.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="a trained instance model file")
    parser.add_argument("--random", default=None, metavar="MODEL", help="or a model name, random weights")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if (args.checkpoint is None) == (args.random is None):
        parser.error("give --checkpoint or --random")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.checkpoint) if args.checkpoint else random_model_file(args.random, size=args.size, folder=Path(folder))
        print("| model | image | threads | eager PyTorch img/s | onnxruntime img/s | ratio |")
        print("|---|---|---|---|---|---|")
        for threads in [int(t) for t in args.threads.split(",")]:
            speed = measure(path, size=args.size, threads=threads, count=args.images, repeats=args.repeats)
            print(f"| {args.checkpoint or args.random} | {args.size}² | {threads} | {speed['torch']:.1f} | "
                  f"{speed['onnxruntime']:.1f} | {speed['onnxruntime'] / speed['torch']:.2f}× |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
