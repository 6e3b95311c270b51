"""Inference runtimes side by side: pixelwise's ``--backend`` choices against the peers' eager PyTorch.

Usage:
    pip install -e .[bench,openvino]
    python benchmarks/runtimes.py [--networks unet_r34,deeplabv3_r50,lraspp] [--size 512] [--batches 1,8]
        [--repeats 3] [--camvid runs/camvid/best.pt --camvid-root ../shared/data/camvid] [--skip-memory]
        [--out benchmarks/RUNTIMES.md] [--json benchmarks/RUNTIMES.json] [--conditions TEXT]
    python benchmarks/runtimes.py --memory-only --json benchmarks/RUNTIMES.json   # add peak memory afterwards

For U-Net R34, DeepLabV3 R50 and LR-ASPP (random weights, 21 classes, nothing downloaded; the
networks of ``benchmarks/speed.py``) at ``--size`` squared, batch 1 and 8, under
``torch.inference_mode``:

- the peer (smp for U-Net, torchvision for the others) "documented": eager fp32, contiguous NCHW;
- the peer "tuned": eager, channels_last, bf16 autocast where the CPU has bf16 units (AMX,
  AVX512-BF16), fp32 where it does not (emulated bf16 runs hundreds of times slower there);
- pixelwise under each backend: ``torch`` (eager, BatchNorm folded, channels_last, autocast as the
  machine allows), ``compile`` (inductor, frozen weights), ``onnxruntime``, ``openvino``,
  ``openvino-int8`` (NNCF post-training quantisation of every layer, calibrated here on random inputs:
  speed only; random weights have no agreement for its accuracy control to keep, so this is the
  fastest int8 network, an upper bound on what the backend gives a trained one).

Timings: the contenders take turns (A B C A B C ...) after a warm-up pass each, so a change in the
machine's load hits all alike; each figure is the median of ``--repeats`` passes. Build time (export,
compilation, quantisation) is reported apart. Peak memory: one batch-1 inference in a fresh process,
the resident high-water mark after the contender is built, minus the resident memory after the imports.

With ``--camvid MODEL`` the recipe's model file runs on CamVid val frames (360 x 480) under each
backend through ``pixelwise.Predictor.from_file`` (preprocessing and the file's input scale included):
images/s at batch 1 and 8, and over the whole val split its mIoU and the share of pixels whose class
equals eager fp32's (int8 calibrated on 32 training frames, as ``--backend openvino-int8`` does, its
accuracy control included). ``--camvid-only`` reruns just this part into the report in ``--json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from models import describe_machine  # benchmarks/models.py (this folder is on sys.path when run as a script)
from speed import NETWORKS, reset_resident_peak, resident_peak, time_interleaved
from torch import nn

from pixelwise.inference.backends.registry import (
    BackendRequest,
    create_backend,
    list_backends,
    register_backend,
)
from pixelwise.utils.hardware import autocast_dtype

BACKENDS = ("torch", "compile", "onnxruntime", "openvino", "openvino-int8")
EVERY_LAYER_INT8 = "openvino-int8-all"
"""The CamVid model's extra contender: every layer in int8, no accuracy control (what it trades away)."""
PEER = {"unet_r34": "smp", "deeplabv3_r50": "torchvision", "lraspp": "torchvision"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def contender_labels(network: str) -> list[str]:
    peer = PEER[network]
    return [f"{peer} documented", f"{peer} tuned", *(f"pixelwise {name}" for name in BACKENDS)]


def build(network: str, label: str, *, size: int) -> tuple[Callable[[torch.Tensor], object], bool, str]:
    """``(run(x), wants channels_last input, precision)`` for one contender, built and warmed up once."""
    torch.manual_seed(0)
    spec = NETWORKS[network]
    fast = autocast_dtype(torch.device("cpu"), "auto")
    if not label.startswith("pixelwise"):
        model = spec.peers[PEER[network]]().eval()
        if label.endswith("documented"):
            return _eager(model, None), False, "fp32"
        model = model.to(memory_format=torch.channels_last)
        return _eager(model, fast), True, "bf16" if fast else "fp32"
    backend_name = label.split()[1]
    model = spec.pixelwise().eval()

    def random_inputs() -> list[torch.Tensor]:  # speed only: random networks have no meaningful ranges
        generator = torch.Generator().manual_seed(0)
        return [torch.randn(1, 3, size, size, generator=generator) for _ in range(8)]

    request = BackendRequest(network=model, in_channels=3, device=torch.device("cpu"), amp_dtype=fast,
                             calibration=random_inputs)  # fmt: skip
    if backend_name == "openvino-int8":  # every layer in int8: there is no agreement to control on random weights
        backend = _every_layer_int8(request)
    else:
        backend = create_backend(backend_name, request)
    precision = "int8" if backend_name.endswith("int8") else ("bf16" if fast else "fp32")

    def run(x: torch.Tensor) -> object:
        with torch.inference_mode():
            return backend(backend.prepare(x))

    return run, backend_name in ("torch", "compile"), precision


def _eager(model: nn.Module, dtype: torch.dtype | None) -> Callable[[torch.Tensor], object]:
    def run(x: torch.Tensor) -> object:
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(x)
        return out["out"] if isinstance(out, dict) else out

    return run


def benchmark_network(network: str, *, size: int, batches: list[int], repeats: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    steps: dict[int, dict[str, Callable[[], object]]] = {batch: {} for batch in batches}
    for label in contender_labels(network):
        start = time.perf_counter()
        run, channels_last, precision = build(network, label, size=size)
        inputs = {}
        for batch in batches:
            x = torch.randn(batch, 3, size, size)
            inputs[batch] = x.contiguous(memory_format=torch.channels_last) if channels_last else x
            run(inputs[batch])  # the first call of a shape compiles (torch.compile) or plans (runtimes)
            steps[batch][label] = lambda run=run, x=inputs[batch]: run(x)
        results[label] = {"precision": precision, "build_s": time.perf_counter() - start}
        log(f"{network}: built {label} in {results[label]['build_s']:.1f} s")
    for batch in batches:
        medians = time_interleaved(steps[batch], warmup=0, repeats=repeats, device=torch.device("cpu"),
                                   label=f"{network} b{batch}")  # fmt: skip
        for label, seconds in medians.items():
            results[label][f"b{batch}_img_s"] = batch / seconds
    return results


def memory_probe(network: str, label: str, *, size: int) -> None:
    """Print the peak resident MB of one batch-1 inference after building ``label`` (run in a fresh process)."""
    baseline = resident_peak()
    run, channels_last, _ = build(network, label, size=size)
    x = torch.randn(1, 3, size, size)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    reset_resident_peak()
    run(x)
    print((resident_peak() - baseline) / 2**20)


def fresh_memory(network: str, label: str, *, size: int) -> float | None:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-probe", f"{network}/{label}", "--size", str(size)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"memory probe {network}/{label} failed: {done.stderr.strip()[-300:]}")
        return None
    return float(done.stdout.split()[-1])


def _every_layer_int8(request: BackendRequest):
    from pixelwise.inference.backends.openvino import int8_backend

    return int8_backend(request, agreement=None)  # openvino-int8 without accuracy control


def benchmark_camvid(path: str, *, root: str, batches: list[int], repeats: int) -> tuple[dict[str, dict], int]:
    """The recipe's model file under each backend: images/s on val frames, val mIoU, agreement with eager fp32."""
    import pixelwise
    from pixelwise.data import create_dataset
    from pixelwise.metrics.confusion import ConfusionMatrix

    data = create_dataset("camvid", root=root, split="val")
    frames = torch.stack([data[i][0] for i in range(max(batches))])  # (B, 3, 360, 480) uint8
    predictors, results = {}, {}
    contenders = (*BACKENDS, EVERY_LAYER_INT8)
    if EVERY_LAYER_INT8 not in list_backends():
        register_backend(EVERY_LAYER_INT8)(_every_layer_int8)
    for name in ("fp32 reference", *contenders):
        start = time.perf_counter()
        if name == "fp32 reference":
            predictor = pixelwise.Predictor.from_file(path, backend="torch", precision="fp32")
        else:
            predictor = pixelwise.Predictor.from_file(path, backend=name)
        for batch in batches:
            predictor.class_scores(frames[:batch])  # compile / plan each shape before timing
        predictors[name] = predictor
        results[name] = {"build_s": time.perf_counter() - start}
        log(f"camvid: built {name} in {results[name]['build_s']:.1f} s")
    for batch in batches:
        steps = {name: lambda p=p, x=frames[:batch]: p.class_scores(x) for name, p in predictors.items() if name in contenders}
        for name, seconds in time_interleaved(steps, warmup=0, repeats=repeats, device=torch.device("cpu"),
                                              label=f"camvid b{batch}").items():  # fmt: skip
            results[name][f"b{batch}_img_s"] = batch / seconds
    matrices = {name: ConfusionMatrix(num_classes=predictors[name].labels.num_classes) for name in predictors}
    same = dict.fromkeys(predictors, 0)
    pixels = 0
    for index in range(len(data)):
        image, mask = data[index]
        reference = None
        for name, predictor in predictors.items():
            labels = predictor.class_scores(image[None]).argmax(1)[0]  # (H, W)
            reference = labels if reference is None else reference
            matrices[name].update(labels, mask)
            same[name] += int((labels == reference).sum())
        pixels += reference.numel()
    for name in predictors:
        results[name]["miou"] = matrices[name].compute().mean_iou
        results[name]["agreement"] = same[name] / pixels
    log("camvid: " + ", ".join(f"{n} mIoU {r['miou']:.4f} agree {r['agreement']:.4%}" for n, r in results.items()))
    return results, len(data)


def format_report(report: dict) -> str:
    lines = [
        "# Inference runtimes: pixelwise's backends against the peers' eager PyTorch", "",
        f"- date: {report['date']}", f"- machine: {report['machine']}", f"- command: `{report['command']}`",
        *([f"- conditions: {report['conditions']}"] if report.get("conditions") else []), "",
        "Images/s, median of the timed passes, contenders taking turns. Build: seconds to construct the "
        "contender and run each shape once (ONNX export, compilation, int8 calibration). Peak MB: one batch-1 "
        "inference in a fresh process, resident memory beyond the imports after the build. The int8 rows of "
        "the random-weight networks are calibrated on random inputs: their speed is real, their accuracy is "
        "measured on the CamVid model below.", "",
    ]  # fmt: skip
    batches = report["batches"]
    for network, results in report["networks"].items():
        tuned = results[f"{PEER[network]} tuned"]
        lines += [f"## {NETWORKS[network].title} (`{network}`), {report['size']}x{report['size']}", "",
                  "| contender | precision | " + " | ".join(f"b{b} img/s" for b in batches)
                  + " | " + " | ".join(f"b{b} / tuned peer" for b in batches) + " | build s | peak MB b1 |",
                  "| --- " * (4 + 2 * len(batches)) + "|"]  # fmt: skip
        for label, r in results.items():
            speeds = " | ".join(f"{r[f'b{b}_img_s']:.2f}" for b in batches)
            ratios = " | ".join(f"{r[f'b{b}_img_s'] / tuned[f'b{b}_img_s']:.2f}x" for b in batches)
            memory = f"{r['peak_mb']:.0f}" if r.get("peak_mb") is not None else "-"
            lines.append(f"| {label} | {r['precision']} | {speeds} | {ratios} | {r['build_s']:.1f} | {memory} |")
        lines.append("")
    if report.get("camvid"):
        camvid = report["camvid"]
        lines += ["## The CamVid recipe's model on val frames (360x480, the file's input scale)", "",
                  f"Model file: `{report['camvid_model']}`. mIoU and agreement over all {report['camvid_frames']} "
                  "val frames; agreement: share of pixels whose class equals eager fp32's."
                  + (f" Rerun with `{report['camvid_command']}`." if report.get("camvid_command") else ""), "",
                  "| backend | " + " | ".join(f"b{b} img/s" for b in batches)
                  + " | " + " | ".join(f"b{b} / torch" for b in batches) + " | val mIoU | agreement | build s |",
                  "| --- " * (4 + 2 * len(batches)) + "|"]  # fmt: skip
        eager = camvid["torch"]
        for name, r in camvid.items():
            speeds = " | ".join(f"{r[f'b{b}_img_s']:.2f}" if f"b{b}_img_s" in r else "-" for b in batches)
            ratios = " | ".join(f"{r[f'b{b}_img_s'] / eager[f'b{b}_img_s']:.2f}x" if f"b{b}_img_s" in r else "-"
                                for b in batches)  # fmt: skip
            lines.append(f"| {name} | {speeds} | {ratios} | {r['miou']:.4f} | {100 * r['agreement']:.2f}% | {r['build_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


NOTES = "<!-- notes: kept when the report is rewritten -->"


def write_report(path: str, report: dict) -> None:
    """Write the report, keeping the hand-written reading below the :data:`NOTES` marker of the old file."""
    old = Path(path).read_text() if Path(path).is_file() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""
    Path(path).write_text(format_report(report) + "\n" + notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="unet_r34,deeplabv3_r50,lraspp")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--camvid", default=None, metavar="MODEL", help="the CamVid recipe's model file")
    parser.add_argument("--camvid-root", default="../shared/data/camvid")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", default="benchmarks/RUNTIMES.md")
    parser.add_argument("--json", default=None)
    parser.add_argument("--conditions", default="", help="what else the machine was doing, for the report")
    parser.add_argument("--memory-only", action="store_true",
                        help="add the peak-memory column to the report in --json (from an earlier run) and rewrite --out")
    parser.add_argument("--camvid-only", action="store_true",
                        help="rerun only the --camvid part into the report in --json (from an earlier run)")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        network, label = args.memory_probe.split("/", 1)
        memory_probe(network, label, size=args.size)
        return 0
    if args.memory_only:
        report = json.loads(Path(args.json).read_text())
        for network, results in report["networks"].items():
            for label in results:
                results[label]["peak_mb"] = fresh_memory(network, label, size=report["size"])
                log(f"{network} {label}: {results[label]['peak_mb']} MB")
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        write_report(args.out, report)
        return 0
    batches = [int(b) for b in args.batches.split(",")]
    if args.camvid_only:
        report = json.loads(Path(args.json).read_text())
        report["camvid"], report["camvid_frames"] = benchmark_camvid(args.camvid, root=args.camvid_root,
                                                                     batches=report["batches"], repeats=args.repeats)
        report["camvid_model"], report["camvid_command"] = args.camvid, shlex.join(["python", *sys.argv])
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        write_report(args.out, report)
        return 0
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe_machine(), "command": shlex.join(["python", *sys.argv]), "size": args.size,
        "batches": batches, "networks": {}, "camvid_model": args.camvid, "conditions": args.conditions,
    }  # fmt: skip
    for network in args.networks.split(","):
        results = benchmark_network(network, size=args.size, batches=batches, repeats=args.repeats)
        if not args.skip_memory:
            for label in results:
                results[label]["peak_mb"] = fresh_memory(network, label, size=args.size)
        report["networks"][network] = results
        write_report(args.out, report)  # a partial report survives an interruption
    if args.camvid:
        report["camvid"], report["camvid_frames"] = benchmark_camvid(args.camvid, root=args.camvid_root, batches=batches, repeats=args.repeats)
    write_report(args.out, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
