"""How big and how fast each model is: parameters, FLOPs and CPU latency.

Parameters and FLOPs are counted on the ``meta`` device (no memory, no arithmetic), so the
whole zoo is profiled in about a second. Latency runs the real model on this machine's CPU.
FLOPs follow ``torch.utils.flop_counter.FlopCounterMode``: one multiply-add counts as 2 FLOPs
(many papers quote multiply-adds and call them FLOPs; divide by 2 to compare).
"""

from __future__ import annotations

import inspect
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pixelwise.errors import PixelwiseError
from pixelwise.models.registry import MODELS, create_model, list_models, model_task
from pixelwise.utils.hardware import cpu_has_fast_bf16

NO_BF16 = "n/a (no bf16 units)"


@dataclass(frozen=True)
class ModelProfile:
    """One row of the model table.

    Attributes:
        name: Registered model name.
        encoder: Its default encoder.
        parameters: Number of parameters (``num_classes`` outputs).
        gflops: Forward FLOPs / 1e9 for one image of ``size x size``.
        fp32_ms: Median CPU forward time in fp32, or ``None`` when not measured.
        bf16_ms: Median CPU forward time under bf16 autocast, or ``None`` when not measured.
    """

    name: str
    encoder: str
    parameters: int
    gflops: float
    fp32_ms: float | None = None
    bf16_ms: float | None = None


def default_encoder(name: str) -> str:
    """The ``encoder`` default of a registered model (``"paper"`` for the classic U-Net encoder)."""
    parameter = inspect.signature(MODELS.get(name)).parameters.get("encoder")
    if parameter is None or parameter.default is None:
        return "paper"
    return str(parameter.default)


def count_parameters(model: nn.Module) -> int:
    """All parameters, trainable or not."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, *, height: int, width: int, in_channels: int = 3) -> int:
    """FLOPs of one forward pass on a ``1 x in_channels x height x width`` input (2 per multiply-add)."""
    device = next(model.parameters()).device
    images = torch.empty(1, in_channels, height, width, device=device)
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(images)
    model.train(was_training)
    return counter.get_total_flops()


@torch.inference_mode()
def measure_latency(
    model: nn.Module,
    *,
    height: int,
    width: int,
    in_channels: int = 3,
    dtype: torch.dtype | None = None,
    warmup: int = 1,
    repeats: int = 5,
) -> float:
    """Median milliseconds of one CPU forward pass of a single image, in eval mode.

    Args:
        model: The model (on the CPU).
        height: Input height.
        width: Input width.
        in_channels: Input channels.
        dtype: ``torch.bfloat16`` for bf16 autocast, ``None`` for fp32.
        warmup: Untimed passes first (allocations, oneDNN kernel choice).
        repeats: Timed passes; the median is returned.
    """
    images = torch.randn(1, in_channels, height, width)
    was_training = model.training
    model.eval()
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        for _ in range(warmup):
            model(images)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(images)
            times.append((time.perf_counter() - start) * 1000)
    model.train(was_training)
    return statistics.median(times)


def profile_models(
    names: list[str] | None = None,
    *,
    size: int = 512,
    num_classes: int = 21,
    measure: bool = False,
    bf16: bool | None = None,
    repeats: int = 5,
) -> list[ModelProfile]:
    """Profile registered models with their default options.

    Args:
        names: Models to profile (default: all).
        size: Square input side for FLOPs and latency.
        num_classes: Output classes (21 as on Pascal VOC).
        measure: Also time CPU forward passes in fp32.
        bf16: Time bf16 autocast too: ``None`` = only where the CPU has bf16 units
            (elsewhere it is emulated, hundreds of times slower than fp32), ``True`` = always.
        repeats: Timed passes per measurement.

    Returns:
        One :class:`ModelProfile` per model, in name order.
    """
    if size < 1 or repeats < 1:
        raise PixelwiseError(f"size and repeats must be >= 1, got size={size} and repeats={repeats}")
    with_bf16 = measure and (cpu_has_fast_bf16() if bf16 is None else bf16)
    rows = []
    for name in names or list_models():
        if model_task(name) == "instance":  # detection ops (NMS, RoIAlign) need real tensors: count on the CPU
            rows.append(_profile_detector(name, size=size, num_classes=num_classes, measure=measure, repeats=repeats))
            continue
        with torch.device("meta"):  # shapes only: no memory, no arithmetic
            skeleton = create_model(name, num_classes=num_classes)
        parameters = count_parameters(skeleton)
        gflops = count_flops(skeleton, height=size, width=size) / 1e9
        fp32_ms = bf16_ms = None
        if measure:
            model = create_model(name, num_classes=num_classes)
            fp32_ms = measure_latency(model, height=size, width=size, repeats=repeats)
            if with_bf16:
                bf16_ms = measure_latency(model, height=size, width=size, dtype=torch.bfloat16, repeats=repeats)
        rows.append(ModelProfile(name, default_encoder(name), parameters, gflops, fp32_ms, bf16_ms))
    return rows


def format_profiles(rows: list[ModelProfile], *, size: int) -> str:
    """A markdown table of ``rows``; latency columns only when some row was measured."""
    measured = any(row.fp32_ms is not None for row in rows)
    header = ["model", "default encoder", "params (M)", f"GFLOPs @{size}"]
    if measured:
        header += [f"CPU fp32 ms @{size}", f"CPU bf16 ms @{size}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    skipped_bf16 = "-" if cpu_has_fast_bf16() else NO_BF16
    for row in rows:
        cells = [row.name, row.encoder, f"{row.parameters / 1e6:.2f}", f"{row.gflops:.1f}"]
        if measured:
            cells.append(f"{row.fp32_ms:.0f}" if row.fp32_ms is not None else "-")
            cells.append(f"{row.bf16_ms:.0f}" if row.bf16_ms is not None else skipped_bf16)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _profile_detector(name: str, *, size: int, num_classes: int, measure: bool, repeats: int) -> ModelProfile:
    """A detection model profiled on the CPU with random weights and a random ``size`` x ``size`` image.
    It resizes the image to its own ``min_size`` first, and its FLOPs include the RoI heads on the
    proposals and detections it keeps (up to ``box_detections_per_img``), so they vary a little with the weights."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=num_classes).eval()
    image = torch.rand(1, 3, size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(image)
    fp32_ms = None
    if measure:
        times = []
        with torch.no_grad():
            for _ in range(repeats + 1):
                start = time.perf_counter()
                model(image)
                times.append((time.perf_counter() - start) * 1000)
        fp32_ms = statistics.median(times[1:])
    return ModelProfile(name=name, encoder=str(model.pixelwise_config.get("backbone", "resnet50")),
                        parameters=count_parameters(model), gflops=counter.get_total_flops() / 1e9, fp32_ms=fp32_ms)
