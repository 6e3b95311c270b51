"""Speed of pixelwise side by side with segmentation_models_pytorch and torchvision on the same networks.

Usage:
    pip install -e .[bench]    # the peers: segmentation-models-pytorch and torchmetrics
    python benchmarks/speed.py [--networks unet_r34,deeplabv3_r50,fcn_r50,fcn8s_vgg16,pspnet_r50,lraspp]
        [--train-size 256] [--train-batch 8] [--infer-size 512] [--infer-batch 8] [--repeats 3]
        [--batch-repeats 1] [--warmup 1] [--skip-memory] [--device auto]
        [--data-root ../shared/data/camvid] [--out benchmarks/RESULTS.md] [--json PATH]

Every network is built by pixelwise and by each peer library ("smp" = segmentation_models_pytorch,
torchvision) with 21 classes and random weights; nothing is downloaded. pixelwise runs with its
engine's defaults: channels_last, and bf16 autocast where the hardware has fast bf16 (fp32 elsewhere);
for inference its model is prepared as ``pixelwise evaluate/predict`` prepare it (BatchNorm folded into
the convolutions).
Each peer runs twice: "documented" (fp32, contiguous NCHW, plain eager, as its documentation shows
it) and "tuned" (given pixelwise's treatment). For every contender:

- training images/s: forward + cross-entropy + backward + AdamW step, batch 8 at 256 x 256;
- inference images/s: eval mode under ``torch.inference_mode``, batch 1 and batch 8 at 512 x 512;
- utilisation: FLOPs per image (``FlopCounterMode`` on the forward; training counted as 3x the forward)
  times images/s, over the peak of a large matmul measured in this run, in the same precision;
- peak memory of one training step and of one batch-1 inference: on a CPU each in a fresh process
  (resident high-water mark minus the resident memory after the imports), on a GPU
  ``torch.cuda.max_memory_allocated`` minus the memory held before the model is built.

Timing runs in one process, the contenders of a network taking turns (A B C A B C ...) so that a
change in the machine's load hits all of them alike; each figure is the median of ``--repeats``
passes after ``--warmup`` (``--batch-repeats`` for the costly batch-8 inference). Then metric
computation (pixelwise ``ConfusionMatrix`` against torchmetrics ``MulticlassJaccardIndex``) and
CamVid loading against pixelwise's training rate. At the defaults the run takes about 20-25 minutes
on a 2-core CPU; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import math
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from data import loader_rate  # benchmarks/data.py: run as a script, this file's folder is on sys.path
from models import describe_machine  # benchmarks/models.py
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pixelwise.data import create_dataset
from pixelwise.data.transforms import train_transform
from pixelwise.engine.builders import build_optimizer
from pixelwise.engine.config import TrainConfig
from pixelwise.inference.backends.torch import autocast, prepare_for_inference
from pixelwise.metrics import ConfusionMatrix
from pixelwise.models import create_model
from pixelwise.models.profile import count_parameters
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text
from pixelwise.utils.hardware import autocast_dtype, resolve_device

NUM_CLASSES = 21
IGNORE_INDEX = 255
TARGETS = {"documented": 1.5, "tuned": 1.0}  # pixelwise / peer, images/s
METRIC_TARGET = 5.0  # pixelwise / torchmetrics, batches/s
DATA_TARGET = 5.0  # CamVid loading / pixelwise training, images/s
METRIC_BATCHES = 10
DATA_BATCHES = 20
INSTALL_HINT = "benchmarks/speed.py compares against segmentation-models-pytorch and torchmetrics: pip install -e .[bench]"
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:5.0f} s] {message}", flush=True)


def smp():
    """segmentation_models_pytorch, or a one-line error that says how to install it."""
    try:
        import segmentation_models_pytorch
    except ImportError:
        raise SystemExit(INSTALL_HINT) from None
    return segmentation_models_pytorch


def tv():
    from torchvision.models import segmentation

    return segmentation


# ----------------------------------------------------------------------------- the networks


@dataclass(frozen=True)
class Network:
    """One architecture as pixelwise builds it and as each peer library builds it.

    Attributes:
        title: What the report calls it.
        pixelwise: Builds pixelwise's model.
        peers: Library name -> builder of that library's model.
        differences: What differs between pixelwise's network and the peers'.
        same_network: ``False`` where pixelwise has no model like the peer's: the ratios then
            compare two different networks and are marked so.
    """

    title: str
    pixelwise: Callable[[], nn.Module]
    peers: dict[str, Callable[[], nn.Module]] = field(default_factory=dict)
    differences: str = ""
    same_network: bool = True


K = NUM_CLASSES
NETWORKS: dict[str, Network] = {
    "unet_r34": Network(
        title="U-Net, ResNet-34 encoder",
        pixelwise=lambda: create_model("unet", num_classes=K, encoder="resnet34", upsampling="nearest"),
        peers={"smp": lambda: smp().Unet("resnet34", encoder_weights=None, classes=K)},
        differences="After the nearest 2x upsampling pixelwise's up-block maps the feature to the block's width "
        "with a 1x1 conv, then concatenates the skip; smp concatenates the full-width feature (a wider first "
        "3x3 conv). pixelwise's convs keep their bias before BatchNorm.",
    ),
    "deeplabv3_r50": Network(
        title="DeepLabV3, ResNet-50, output stride 8",
        pixelwise=lambda: create_model("deeplabv3", num_classes=K, encoder="resnet50", output_stride=8),
        peers={
            "torchvision": lambda: tv().deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=K),
            "smp": lambda: smp().DeepLabV3("resnet50", encoder_weights=None, classes=K),
        },
        differences="torchvision and smp put a 3x3 conv (256 -> 256, BN, ReLU) between ASPP and the classifier; "
        "pixelwise follows the paper (ASPP, then the 1x1 classifier). No auxiliary head anywhere: torchvision's "
        "aux_loss is off without weights, so pixelwise runs with aux=False too.",
    ),
    "fcn_r50": Network(
        title="FCN, ResNet-50",
        # torchvision's fcn_resnet50 is a dilated ResNet-50 (output stride 8) and a 3x3-conv head, not the
        # paper's FCN, and pixelwise has no such model. The closest is FCN-8s on an undilated ResNet-50: 1x1
        # class scores at strides 32, 16 and 8 fused by the paper's skips, "light" head (no 4096-wide fc6/fc7,
        # as torchvision has none), bilinear upsampling as torchvision's.
        pixelwise=lambda: create_model("fcn8s", num_classes=K, encoder="resnet50", head="light", upsampling="bilinear"),
        peers={"torchvision": lambda: tv().fcn_resnet50(weights=None, weights_backbone=None, num_classes=K)},
        differences="Not the same network. torchvision: dilated ResNet-50 (stages 3-4 at stride 8) + 3x3 conv "
        "(2048 -> 512) + 1x1 classifier. pixelwise: FCN-8s (paper's skips from strides 32, 16, 8) on the undilated "
        "ResNet-50, light head, bilinear upsampling: about 6x fewer FLOPs. Read the utilisation columns "
        "for the implementation; the ratios compare the two libraries' FCN-ResNet-50 as shipped.",
        same_network=False,
    ),
    "fcn8s_vgg16": Network(
        title="FCN-8s, VGG16 (the paper's)",
        pixelwise=lambda: create_model("fcn8s", num_classes=K),
        differences="pixelwise only (no peer ships it): absolute numbers.",
    ),
    "pspnet_r50": Network(
        title="PSPNet, ResNet-50, output stride 8",
        pixelwise=lambda: create_model("pspnet", num_classes=K, encoder="resnet50", aux=False),
        # smp's default encoder_depth=3 keeps only ResNet stages 1-2 (24 GFLOPs at 512^2 against pixelwise's
        # 354: another network); depth 5 at output stride 8 is the paper's dilated ResNet-50.
        peers={"smp": lambda: smp().PSPNet("resnet50", encoder_weights=None, classes=K, encoder_depth=5, output_stride=8)},
        differences="smp is given encoder_depth=5 and output_stride=8 (its default depth 3 stops after ResNet stage 2). "
        "smp fuses the pyramid with a 1x1 conv and classifies with a 3x3 conv; pixelwise, as the paper, uses a "
        "3x3 conv and a 1x1 classifier (hence more parameters and FLOPs). No auxiliary head on either side.",
    ),
    "lraspp": Network(
        title="LR-ASPP, MobileNetV3-Large",
        pixelwise=lambda: create_model("lraspp", num_classes=K),
        peers={"torchvision": lambda: tv().lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=K)},
        differences="Same layers; pixelwise's MobileNetV3-Large comes from timm, torchvision's is its own.",
    ),
}


@dataclass(frozen=True)
class Contender:
    """A library's model run with one treatment: pixelwise "defaults", a peer "documented" or "tuned"."""

    library: str
    treatment: str
    build: Callable[[], nn.Module]
    dtype: torch.dtype | None  # autocast dtype, None for fp32
    channels_last: bool

    @property
    def label(self) -> str:
        return self.library if self.library == "pixelwise" else f"{self.library} {self.treatment}"


def contenders(network: Network, *, device: torch.device) -> list[Contender]:
    """pixelwise with its defaults, then each peer as documented and as tuned."""
    fast = autocast_dtype(device, "auto")  # what the engine's precision="auto" picks
    entries = [Contender("pixelwise", "defaults", network.pixelwise, fast, True)]
    for library, build in network.peers.items():
        entries.append(Contender(library, "documented", build, None, False))
        entries.append(Contender(library, "tuned", build, fast, True))
    return entries


@dataclass(frozen=True)
class Mode:
    """What one pass does: a training step or an inference pass, on ``batch`` images of ``size`` x ``size``."""

    name: str
    batch: int
    size: int
    train: bool
    repeats: int


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


# ----------------------------------------------------------------------------- measuring


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    output = model(images)
    return output["out"] if isinstance(output, dict) else output  # torchvision returns a dict


def instantiate(contender: Contender, *, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = contender.build().to(device)
    return model.to(memory_format=torch.channels_last) if contender.channels_last else model


def make_step(model: nn.Module, contender: Contender, *, mode: Mode, device: torch.device) -> Callable[[], None]:
    """One pass of ``mode`` on fixed random data, with the contender's precision and memory layout.

    The training step is the engine's (``pixelwise.engine.loop``): forward under autocast, cross-entropy
    on fp32 logits, backward, AdamW (pixelwise: the engine's, with PyTorch's fused update; the peers:
    ``torch.optim.AdamW`` as their documentation builds it). No gradient scaler: fp16 (GPUs without bf16) is timed, not trained.
    """
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(mode.batch, 3, mode.size, mode.size, generator=generator).to(device)  # (N, 3, H, W)
    if contender.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    if not mode.train:
        # pixelwise infers as `pixelwise evaluate/predict` do: BatchNorm folded, channels_last.
        runner = prepare_for_inference(model, in_channels=3) if contender.library == "pixelwise" else model

        def infer() -> None:
            runner.eval()
            with torch.inference_mode(), autocast(device, contender.dtype):
                logits(runner, images)

        return infer
    masks = torch.randint(0, NUM_CLASSES, (mode.batch, mode.size, mode.size), generator=generator)  # (N, H, W)
    masks[torch.rand(masks.shape, generator=generator) < 0.05] = IGNORE_INDEX
    masks = masks.to(device)
    if contender.library == "pixelwise":  # the engine's optimizer: AdamW with PyTorch's fused update
        optimizer = build_optimizer(TrainConfig(dataset="shapes", model="unet", lr=1e-3), model)
    else:  # what the peers' documentation and training scripts build
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, contender.dtype):
            loss = F.cross_entropy(logits(model, images).float(), masks, ignore_index=IGNORE_INDEX)
        loss.backward()
        optimizer.step()

    return train


def timed(call: Callable[[], object], *, device: torch.device) -> float:
    """Seconds of one call, the device's queued work included."""
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start


def time_interleaved(
    steps: dict[str, Callable[[], None]], *, warmup: int, repeats: int, device: torch.device, label: str
) -> dict[str, float]:
    """Median seconds per call of each step; the steps take turns (A B C A B C ...)."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for repeat in range(repeats):
        for name, step in steps.items():
            times[name].append(timed(step, device=device))
        log(f"  {label} {repeat + 1}/{repeats}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in times.items()))
    return {name: statistics.median(values) for name, values in times.items()}


def count_gflops(build: Callable[[], nn.Module], *, size: int) -> float:
    """Forward GFLOPs of one ``size`` x ``size`` image, counted on the meta device (no memory, no arithmetic).

    Training is taken as 3x the forward: ``FlopCounterMode`` counts the backward of grouped
    (depthwise) convolutions as dense ones (39x the forward on MobileNetV3), and on the other
    networks here its forward + backward count is within 1% of 3x the forward anyway.
    """
    with torch.device("meta"):
        model = build().eval()
        images = torch.empty(1, 3, size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        logits(model, images)
    return counter.get_total_flops() / 1e9


def matmul_peak(*, device: torch.device, dtype: torch.dtype | None, repeats: int = 5) -> tuple[int, float]:
    """``(side, GFLOP/s)``: the best of ``repeats`` square matmuls, the machine's practical peak."""
    side = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(side, side, device=device, dtype=dtype or torch.float32) for _ in range(2))
    a @ b  # warm-up
    best = min(timed(lambda: a @ b, device=device) for _ in range(repeats))
    return side, 2 * side**3 / best / 1e9


def peak_memory_mb(contender: Contender, *, mode: Mode, device: torch.device) -> float:
    """Memory one pass of ``mode`` takes beyond what the process held before the model was built.

    On a CPU, run it in a fresh process (:func:`memory_in_fresh_process`): the resident-memory
    high-water mark is per process, and memory that earlier models freed stays with the allocator.
    """
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    else:
        baseline = reset_resident_peak()
    model = instantiate(contender, device=device)
    make_step(model, contender, mode=mode, device=device)()
    sync(device)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else resident_peak()
    return (peak - baseline) / 2**20


def _proc_status_bytes(key: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(f"{key}:"))  # kB


def reset_resident_peak() -> int:
    """Set the resident-memory high-water mark to the resident memory now, and return that (bytes).

    Linux resets the mark (``VmHWM``) on writing 5 to ``/proc/self/clear_refs``. Elsewhere the
    baseline is ``ru_maxrss``, the mark since the start: a transient peak of the imports can hide
    a small model's memory there.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_bytes("VmRSS")
    except OSError:
        return resident_peak()


def resident_peak() -> int:
    """The process's resident-memory high-water mark, in bytes."""
    try:
        return _proc_status_bytes("VmHWM")
    except OSError:
        unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def memory_in_fresh_process(network: str, contender: Contender, *, mode: Mode, args: argparse.Namespace) -> float | None:
    """Run :func:`peak_memory_mb` in a new Python process (this script with ``--memory-probe``)."""
    probe = "/".join([network, contender.library, contender.treatment, mode.name])
    command = [
        sys.executable, str(Path(__file__).resolve()), "--memory-probe", probe, "--device", "cpu",
        "--train-size", str(args.train_size), "--train-batch", str(args.train_batch),
        "--infer-size", str(args.infer_size), "--infer-batch", str(args.infer_batch),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"  memory probe {probe} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    return float(done.stdout.split()[-1])


@dataclass
class Result:
    """One contender on one network. ``gflops`` per image: "train" (3x the forward) and "infer" (forward)."""

    network: str
    library: str
    treatment: str
    precision: str
    channels_last: bool
    parameters: int
    gflops: dict[str, float]
    images_per_s: dict[str, float]
    peak_mb: dict[str, float | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.library if self.library == "pixelwise" else f"{self.library} {self.treatment}"


def benchmark_network(name: str, *, modes: list[Mode], args: argparse.Namespace, device: torch.device) -> list[Result]:
    """Time every contender of network ``name`` in every mode, interleaved; then their peak memory."""
    entries = contenders(NETWORKS[name], device=device)
    log(f"{name}: {', '.join(entry.label for entry in entries)}")
    shapes: dict[str, tuple[int, dict[str, float]]] = {}  # library -> (parameters, GFLOPs per image)
    for entry in entries:
        if entry.library not in shapes:
            with torch.device("meta"):
                parameters = count_parameters(entry.build())
            shapes[entry.library] = (parameters, {
                "train": 3 * count_gflops(entry.build, size=modes[0].size), "infer": count_gflops(entry.build, size=modes[1].size),
            })
    models = [instantiate(entry, device=device) for entry in entries]
    seconds: dict[str, dict[str, float]] = {}
    for mode in modes:
        steps = {entry.label: make_step(model, entry, mode=mode, device=device) for entry, model in zip(entries, models, strict=True)}
        seconds[mode.name] = time_interleaved(steps, warmup=args.warmup, repeats=mode.repeats, device=device, label=mode.name)
        del steps  # frees the optimizers' state
        for model in models:
            model.zero_grad(set_to_none=True)
    del models
    gc.collect()
    results = []
    for entry in entries:
        parameters, gflops = shapes[entry.library]
        result = Result(
            network=name, library=entry.library, treatment=entry.treatment, precision=precision_name(entry.dtype),
            channels_last=entry.channels_last, parameters=parameters, gflops=gflops,
            images_per_s={mode.name: mode.batch / seconds[mode.name][entry.label] for mode in modes},
        )
        if not args.skip_memory:
            for mode in modes[:2]:  # training and batch-1 inference: batch-8 inference costs too much CPU time
                if device.type == "cuda":
                    result.peak_mb[mode.name] = peak_memory_mb(entry, mode=mode, device=device)
                else:
                    result.peak_mb[mode.name] = memory_in_fresh_process(name, entry, mode=mode, args=args)
            log(f"  memory {entry.label}: " + ", ".join(f"{m} {mb:.0f} MB" for m, mb in result.peak_mb.items() if mb is not None))
        results.append(result)
    return results


def benchmark_metrics(*, device: torch.device, batch: int, size: int, warmup: int) -> dict[str, float]:
    """Batches/s of update + compute for pixelwise's ConfusionMatrix and torchmetrics' mIoU, and both mIoUs."""
    try:
        from torchmetrics.classification import MulticlassJaccardIndex
    except ImportError:
        raise SystemExit(INSTALL_HINT) from None
    ours = ConfusionMatrix(num_classes=NUM_CLASSES, ignore_index=IGNORE_INDEX, device=device)
    theirs = MulticlassJaccardIndex(num_classes=NUM_CLASSES, ignore_index=IGNORE_INDEX, average="macro").to(device)

    def pixelwise_step(pred: torch.Tensor, target: torch.Tensor) -> None:
        ours.update(pred, target)
        ours.compute()

    def torchmetrics_step(pred: torch.Tensor, target: torch.Tensor) -> None:
        theirs.update(pred, target)
        theirs.compute()

    steps = {"pixelwise": pixelwise_step, "torchmetrics": torchmetrics_step}
    generator = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index in range(warmup + METRIC_BATCHES):
        pred = torch.randint(0, NUM_CLASSES, (batch, size, size), generator=generator)  # (N, H, W)
        target = torch.randint(0, NUM_CLASSES, (batch, size, size), generator=generator)  # (N, H, W)
        target[torch.rand(target.shape, generator=generator) < 0.05] = IGNORE_INDEX
        pred, target = pred.to(device), target.to(device)
        for name, step in steps.items():
            elapsed = timed(functools.partial(step, pred, target), device=device)
            if index >= warmup:
                times[name].append(elapsed)
    ours_miou, theirs_miou = ours.compute().mean_iou, float(theirs.compute())
    log(f"metrics: mIoU pixelwise {ours_miou:.6f}, torchmetrics {theirs_miou:.6f}")
    assert math.isclose(ours_miou, theirs_miou, rel_tol=1e-5, abs_tol=1e-6), "the two mIoUs differ"
    rates = {name: 1 / statistics.median(values) for name, values in times.items()}
    return {**{f"{name} batches/s": rate for name, rate in rates.items()},
            "pixelwise mIoU": ours_miou, "torchmetrics mIoU": theirs_miou}


def benchmark_loading(*, root: str, crop: int, batch: int) -> float | None:
    """CamVid train samples/s through the engine's default DataLoader (workers, no cache); None without data."""
    if not Path(root).is_dir():
        return None
    dataset = create_dataset("camvid", root=root, split="train", transform=train_transform(crop_size=crop))
    return loader_rate(dataset, workers=TrainConfig().workers, batch_size=batch, batches=DATA_BATCHES)


def ratios(results: list[Result], *, modes: list[Mode]) -> list[dict[str, object]]:
    """pixelwise / peer images/s for every network, peer and treatment, with the target it is held to."""
    rows = []
    for network in dict.fromkeys(result.network for result in results):
        ours = next(r for r in results if r.network == network and r.library == "pixelwise")
        for peer in (r for r in results if r.network == network and r.library != "pixelwise"):
            rows.append({
                "network": network, "peer": peer.library, "treatment": peer.treatment,
                "target": TARGETS[peer.treatment], "same_network": NETWORKS[network].same_network,
                **{mode.name: ours.images_per_s[mode.name] / peer.images_per_s[mode.name] for mode in modes},
            })
    return rows


# ----------------------------------------------------------------------------- the report


def rate(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def check(value: float, target: float) -> str:
    return f"{value:.2f}x {'✓' if value >= target else '✗'}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def network_table(results: list[Result], *, modes: list[Mode], peaks: dict[str, float]) -> list[str]:
    train, infer = modes[0], modes[1:]
    header = ["contender", "params (M)", "GFLOPs/img train, infer", "precision", "layout",
              *(f"{mode.name} img/s" for mode in modes), "% of matmul peak " + ", ".join(m.name for m in modes),
              "peak MB train, infer b1"]
    rows = []
    for r in results:
        utilisation = [r.gflops["train"] * r.images_per_s[train.name] / peaks[r.precision]]
        utilisation += [r.gflops["infer"] * r.images_per_s[mode.name] / peaks[r.precision] for mode in infer]
        memory = ", ".join("-" if r.peak_mb.get(m.name) is None else f"{r.peak_mb[m.name]:.0f}" for m in modes[:2])
        rows.append([
            r.label, f"{r.parameters / 1e6:.2f}", f"{r.gflops['train']:.1f}, {r.gflops['infer']:.1f}", r.precision,
            "channels_last" if r.channels_last else "NCHW", *(rate(r.images_per_s[m.name]) for m in modes),
            ", ".join(f"{100 * u:.0f}" for u in utilisation), memory if r.peak_mb else "skipped",
        ])
    return table(header, rows)


def format_report(
    *, results: list[Result], modes: list[Mode], peaks: dict[str, tuple[int, float]], metrics: dict[str, float],
    loading: float | None, data_root: str, header: dict[str, str], device: torch.device,
) -> str:
    train = modes[0]
    gflops_peak = {precision: value for precision, (_, value) in peaks.items()}
    lines = [
        "# Speed: pixelwise side by side with segmentation_models_pytorch and torchvision",
        "",
        *(f"- {key}: `{value}`" if key == "command" else f"- {key}: {value}" for key, value in header.items()),
        "",
        "Contenders: **pixelwise** with its engine's defaults (channels_last, bf16 autocast where the hardware has "
        "fast bf16, else fp32); each peer **documented** (fp32, contiguous NCHW, eager) and **tuned** (pixelwise's "
        f"treatment). Training: forward + cross-entropy + backward + AdamW, batch {train.batch} at {train.size}x{train.size}. "
        f"Inference: eval mode, `torch.inference_mode`, at {modes[1].size}x{modes[1].size}. Each figure is the median of the "
        "timed passes after the warm-up, the contenders of a network taking turns. Utilisation: FLOPs per image "
        "(`FlopCounterMode`, 2 per multiply-add; training = 3x the forward, as its count of depthwise backward is wrong) x images/s over the matmul "
        "peak below. Peak memory: beyond the imports, one training step and one batch-1 inference, "
        + ("`torch.cuda.max_memory_allocated`." if device.type == "cuda" else "a fresh process each (resident high-water mark `VmHWM` minus the resident memory after the imports)."),
        "",
        "## Matrix-multiply peak",
        "",
        *table(["precision", "matmul", "GFLOP/s"], [[p, f"{side} x {side}", f"{value:.0f}"] for p, (side, value) in peaks.items()]),
    ]
    for network in dict.fromkeys(r.network for r in results):
        spec = NETWORKS[network]
        lines += ["", f"## {spec.title} (`{network}`)", "", spec.differences, ""]
        lines += network_table([r for r in results if r.network == network], modes=modes, peaks=gflops_peak)
    pairs = ratios(results, modes=modes)
    lines += ["", "## Ratios: pixelwise / peer, images/s", "",
              "Targets: at least 1.5x a documented peer, 1.0x a tuned one. † not the same network (see its section).", ""]
    lines += table(
        ["network", "peer", "target", *(mode.name for mode in modes)],
        [[p["network"] + ("" if p["same_network"] else " †"), f"{p['peer']} {p['treatment']}", f"{p['target']:.1f}x",
          *(check(p[mode.name], p["target"]) for mode in modes)] for p in pairs],
    )
    metric_ratio = metrics["pixelwise batches/s"] / metrics["torchmetrics batches/s"]
    lines += [
        "", "## Metric computation", "",
        f"update + compute per batch of {modes[-1].batch}x{modes[-1].size}x{modes[-1].size} random labels "
        f"({NUM_CLASSES} classes, 5% ignored), median of {METRIC_BATCHES} batches; the two mIoUs agree.", "",
        *table(["implementation", "batches/s", "mIoU"], [
            ["pixelwise `ConfusionMatrix`", rate(metrics["pixelwise batches/s"]), f"{metrics['pixelwise mIoU']:.6f}"],
            ["torchmetrics `MulticlassJaccardIndex`", rate(metrics["torchmetrics batches/s"]), f"{metrics['torchmetrics mIoU']:.6f}"],
        ]),
        "", f"pixelwise / torchmetrics: {check(metric_ratio, METRIC_TARGET)} (target {METRIC_TARGET:.0f}x)",
        "", "## Data loading", "",
    ]
    reference = next((r for r in results if r.library == "pixelwise" and r.network == "unet_r34"),
                     next(r for r in results if r.library == "pixelwise"))
    step_rate = reference.images_per_s[train.name]
    if loading is None:
        lines.append(f"Skipped: no CamVid at `{data_root}` (pass `--data-root`).")
    else:
        lines += [
            f"CamVid train through the engine's default DataLoader ({TrainConfig().workers} workers, no cache, "
            f"`train_transform(crop_size={train.size})`, batch {train.batch}, {DATA_BATCHES} batches after one): "
            f"{rate(loading)} images/s, against pixelwise's `{reference.network}` training at {rate(step_rate)} images/s.",
            "", f"loading / training: {check(loading / step_rate, DATA_TARGET)} (target {DATA_TARGET:.0f}x)",
        ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- command line


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated, from {', '.join(NETWORKS)}")
    parser.add_argument("--train-size", type=int, default=256, help="training crop side (default 256)")
    parser.add_argument("--train-batch", type=int, default=8, help="training batch (default 8)")
    parser.add_argument("--infer-size", type=int, default=512, help="inference image side (default 512)")
    parser.add_argument("--infer-batch", type=int, default=8, help="the larger inference batch, besides 1 (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes for training and batch-1 inference (default 3)")
    parser.add_argument("--batch-repeats", type=int, default=1, help="timed passes for the larger inference batch (default 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes before each timing (default 1)")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the peak-memory pass")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 ...")
    parser.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid"),
                        help="CamVid folder for the data-loading row (default ../shared/data/camvid)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="markdown file to write")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)  # NETWORK/LIBRARY/TREATMENT/MODE
    args = parser.parse_args()
    args.networks = [name.strip() for name in args.networks.split(",") if name.strip()]
    unknown = [name for name in args.networks if name not in NETWORKS]
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    if min(args.train_size, args.train_batch, args.infer_size, args.infer_batch, args.repeats, args.batch_repeats) < 1:
        parser.error("sizes, batches and repeats must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    device = resolve_device(args.device)
    modes = [
        Mode("train", args.train_batch, args.train_size, True, args.repeats),
        Mode("infer b1", 1, args.infer_size, False, args.repeats),
        Mode(f"infer b{args.infer_batch}", args.infer_batch, args.infer_size, False, args.batch_repeats),
    ]
    # Fail early on a missing peer; in a memory probe, import everything before the baseline is taken.
    smp()
    tv()
    if args.memory_probe:
        network, library, treatment, mode_name = args.memory_probe.split("/")
        entry = next(e for e in contenders(NETWORKS[network], device=device) if (e.library, e.treatment) == (library, treatment))
        print(peak_memory_mb(entry, mode=next(m for m in modes if m.name == mode_name), device=device))
        return 0

    header = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "device": f"{device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "command": f"python {shlex.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}",
    }
    log(f"{header['machine']}; device {header['device']}")
    precisions = dict.fromkeys([None, autocast_dtype(device, "auto")])  # fp32, and the autocast dtype if any
    peaks = {precision_name(dtype): matmul_peak(device=device, dtype=dtype) for dtype in precisions}
    log("matmul peak: " + ", ".join(f"{p} {value:.0f} GFLOP/s" for p, (_, value) in peaks.items()))
    results: list[Result] = []
    for name in args.networks:
        results += benchmark_network(name, modes=modes, args=args, device=device)
    metrics = benchmark_metrics(device=device, batch=args.infer_batch, size=args.infer_size, warmup=args.warmup)
    log(f"metrics: {metrics}")
    loading = benchmark_loading(root=args.data_root, crop=args.train_size, batch=args.train_batch)
    log(f"data loading: {'skipped' if loading is None else f'{loading:.1f} images/s'}")

    text = format_report(results=results, modes=modes, peaks=peaks, metrics=metrics, loading=loading,
                         data_root=args.data_root, header=header, device=device)
    atomic_write_text(args.out, text)
    if args.json:
        atomic_write_json(args.json, {
            **header, "modes": [asdict(mode) for mode in modes],
            "matmul_peak_gflops": {p: value for p, (_, value) in peaks.items()},
            "results": [asdict(result) for result in results], "ratios": ratios(results, modes=modes),
            "metrics": metrics, "data_loading_images_per_s": loading,
        })
    print(text)
    log(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
