"""What the machine can do fast: bf16 matrix units on the CPU (AMX, AVX512-BF16) or the GPU.

bf16 autocast on a CPU *without* those units is emulated and far slower than fp32
(measured on an AVX2-only EPYC: 0.34 vs 126 GFLOP/s for a 2048^2 matmul), so pixelwise
only turns it on where the hardware has it.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX tiles or AVX512-BF16 instructions."""
    cpu = torch.cpu
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    try:  # older or newer torch without the probes: read the kernel's CPU flags
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" -> CUDA when available, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype to use, or ``None`` for plain fp32.

    Args:
        device: Where the model runs.
        precision: ``"auto"`` (bf16 where the hardware has it, fp16 on GPUs without bf16,
            else fp32), ``"bf16"``, ``"fp16"`` or ``"fp32"``.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; choose auto, bf16, fp16 or fp32")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None
