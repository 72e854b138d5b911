"""Process-group facts the trainer needs: rank, world size, device. Set up by torchrun's env vars.

Seeding under torchrun: every rank calls ``torch.manual_seed(train.seed)``, so all ranks start
with the same weights and the same RNG stream. Training noise is drawn for the global batch
and each rank keeps its slice (``GenerativeModel.randn``, dynamic binarisation in the batch
stream), so the streams stay in lockstep and a checkpoint's one RNG state serves every rank.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``; ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process writes files, logs and progress bars."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_info() -> DistInfo:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); one process when absent."""
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def select_device(name: str, info: DistInfo) -> torch.device:
    """``auto`` picks this rank's GPU when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and info.enabled:
        name = f"cuda:{info.local_rank}"
    return torch.device(name)


def init_process_group(info: DistInfo, device: torch.device) -> None:
    """Start the default process group (NCCL on GPU, gloo on CPU) when running under torchrun."""
    if info.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
