"""Multi-process training through ``torchrun`` (PyTorch DDP): NCCL on GPUs, Gloo on CPUs.

``torchrun --nproc-per-node N -m pixelwise train ...`` sets RANK, LOCAL_RANK and WORLD_SIZE;
without them everything here is a no-op and the run is a plain single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process stands: ``rank`` of ``world_size``; rank 0 writes every file."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> tuple[ProcessGroup, torch.device]:
    """Join the ``torchrun`` process group when launched by it; pick this rank's device.

    Returns:
        The process group facts and the device this rank should use (``cuda:LOCAL_RANK`` on GPUs).
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessGroup(), device
    group = ProcessGroup(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=int(os.environ["WORLD_SIZE"]),
    )
    if device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return group, device


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes in place (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_value(value: float, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (a no-op for a single process); every rank must call it."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    tensor = torch.tensor([value], device=device, dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's value of ``flag`` on every rank (so all ranks stop together)."""
    return bool(broadcast_value(float(flag), device))
