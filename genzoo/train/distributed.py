"""Data parallelism under torchrun: the process group, DDP wrappers, the few collectives the
trainer needs, timeouts and teardown. The trainer keeps the loop; :class:`DataParallel` is how
it runs on N processes (one process: every method is a no-op or runs the work in place).

Seeding: the trainer seeds the initial weights alike on every rank and owns one training-noise
generator, seeded from ``train.seed``, that every rank advances alike; per-example draws are
made for the global batch and sliced (``GenerativeModel.randn``), as is dynamic binarisation in
the batch stream. A checkpoint's one noise state therefore serves every rank.

Timeouts: every collective waits at most ``train.dist_timeout_minutes`` (gloo's own default is
30 minutes, NCCL's 10). When one times out, rank 0 asks every rank to check in for a few
seconds and names the ranks that do not: the job stops with one line naming the stalled
process. Work that only rank 0 does (progress grids, evaluations, checkpoint writes) runs
through :meth:`DataParallel.on_main`: the other ranks wait for it as long as it takes, since
rank 0 keeps sending a heartbeat; only a rank 0 that stops answering altogether ends the job.
"""
from __future__ import annotations

import atexit
import inspect
import os
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

from ..errors import GenzooError

T = TypeVar("T")
DEFAULT_TIMEOUT_MINUTES = 5.0
PROBE_SECONDS = 30.0  # how long rank 0 waits for every rank to check in after a timeout


class CollectiveTimeout(GenzooError):
    """A collective operation waited longer than ``train.dist_timeout_minutes``; the message names
    the process that stalled where it can be told."""


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


def init_process_group(info: DistInfo, device: torch.device, timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES) -> None:
    """Start the default process group (NCCL on GPU, gloo on CPU) when running under torchrun.

    Collectives then wait at most ``timeout_minutes``. The group is destroyed at exit at the
    latest (:func:`shutdown`), also after an error.
    """
    if info.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=timeout_minutes))
        atexit.register(shutdown)


def shutdown() -> None:
    """Destroy every process group of this process (a no-op when there is none)."""
    _SIDE_GROUPS.clear()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# CPU side channels (gloo, also beside NCCL), made once per process and timeout: rank 0's
# heartbeat while it works alone, and the roll call after a timeout. Separate from the main
# group, so neither is caught behind a collective of the training loop.
_SIDE_GROUPS: dict[float, tuple] = {}


def _side_groups(timeout_minutes: float) -> tuple:
    if timeout_minutes not in _SIDE_GROUPS:
        timeout = timedelta(minutes=timeout_minutes)
        _SIDE_GROUPS[timeout_minutes] = (dist.new_group(backend="gloo", timeout=timeout),
                                         dist.new_group(backend="gloo", timeout=timeout))
    return _SIDE_GROUPS[timeout_minutes]


def _looks_like_collective_failure(e: BaseException) -> bool:
    """Whether an exception came from a collective that timed out or lost a peer."""
    if isinstance(e, getattr(dist, "DistError", ())):  # NCCL's errors (and newer gloo's)
        return True
    # gloo's own errors name their source file (third_party/gloo/...): a timeout, a closed peer
    text = str(e).lower()
    return isinstance(e, RuntimeError) and ("gloo" in text or "nccl" in text)


class DataParallel:
    """The trainer's DDP strategy: wrappers, agreement between ranks, buffer averaging, statistics
    sums, rank-0 work, timeouts and teardown.

    Built on every rank with the same arguments; the process group is started here when it is
    not yet (``train()`` starts it earlier to share the run folder's name).
    """

    def __init__(self, info: DistInfo, device: torch.device, timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES) -> None:
        self.info, self.device = info, device
        self.timeout_minutes = float(timeout_minutes)
        self._side = self._probe = None
        if self.enabled:
            init_process_group(info, device, timeout_minutes)
            self._side, self._probe = _side_groups(self.timeout_minutes)

    @property
    def enabled(self) -> bool:
        return self.info.enabled

    @property
    def world_size(self) -> int:
        return self.info.world_size

    # -- wrappers -------------------------------------------------------------------------
    def wrap(self, core: torch.nn.Module, find_unused: bool) -> torch.nn.Module:
        """``core`` in a DistributedDataParallel wrapper (itself with one process). DDP manages the
        parameters that require gradients when it is built: the caller sets them (one optimizer
        group's own), so each group's backward all-reduces only its own gradients."""
        if not self.enabled:
            return core
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        # Buffers (batch-norm statistics) are not synchronised at every forward, which keeps
        # several forwards before one backward legal (a GAN's D on real, then on fake); each
        # rank keeps statistics of its own slice, averaged across ranks at every checkpoint.
        # (torch >= 2.13 renamed broadcast_buffers; both leave start-up synchronisation on.)
        sync = {"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters \
            else {"broadcast_buffers": False}
        return DDP(core, device_ids=ids, find_unused_parameters=find_unused, **sync)

    # -- collectives ----------------------------------------------------------------------
    def agree(self, flags: list[float]) -> list[float]:
        """The maximum of each flag over the ranks (so every rank makes the same choice)."""
        if not self.enabled:
            return flags
        t = torch.tensor(flags, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.tolist()

    def should_stop(self, local: bool) -> bool:
        """Whether any rank wants to stop (a signal, its clock): every rank leaves at this step."""
        return bool(self.agree([float(local)])[0]) if self.enabled else local

    @torch.no_grad()
    def average_(self, tensors: list[torch.Tensor]) -> None:
        """Replace floating tensors by their mean over ranks, in place (float64: equal values stay equal)."""
        floats = [t for t in tensors if t.is_floating_point()]
        if not self.enabled or not floats:
            return
        flat = torch.cat([t.detach().reshape(-1).double() for t in floats])
        dist.all_reduce(flat)
        flat /= self.world_size
        for t, v in zip(floats, flat.split([t.numel() for t in floats])):
            t.copy_(v.view_as(t))

    @torch.no_grad()
    def summed(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """The sums of ``tensors`` over ranks, as new tensors (one all-reduce per dtype); the
        inputs themselves (which may be a model's own buffers) are left alone."""
        if not self.enabled or not tensors:
            return tensors
        out: list[torch.Tensor | None] = [None] * len(tensors)
        by_dtype: dict[torch.dtype, list[int]] = {}
        for i, t in enumerate(tensors):
            by_dtype.setdefault(t.dtype, []).append(i)
        for idx in by_dtype.values():
            flat = torch.cat([tensors[i].reshape(-1) for i in idx])  # a copy: all-reduced in place
            dist.all_reduce(flat)
            for i, v in zip(idx, flat.split([tensors[i].numel() for i in idx])):
                out[i] = v.view_as(tensors[i])
        return out

    def mean(self, flat: torch.Tensor) -> torch.Tensor:
        """The mean of ``flat`` over ranks (logged scalars)."""
        if not self.enabled:
            return flat
        flat = flat.clone()
        dist.all_reduce(flat)
        return flat / self.world_size

    # -- rank-0 work ----------------------------------------------------------------------
    def on_main(self, what: str, work: Callable[[], T]) -> T | None:
        """Run ``work`` on rank 0 while the other ranks wait for it, however long it takes.

        Every rank calls this at the same point. Rank 0 sends a heartbeat while it works, so the
        others wait without timing out; they stop with one line only if rank 0 goes silent for
        ``dist_timeout_minutes`` or ``work`` fails there. Returns ``work()``'s result on rank 0.
        """
        if not self.enabled:
            return work()
        if self.info.is_main:
            done, failed, errors = threading.Event(), threading.Event(), []
            interval = min(10.0, self.timeout_minutes * 60 / 3)

            def heartbeat() -> None:
                try:
                    while not done.wait(interval):
                        self._side_max(0.0)
                    self._side_max(2.0 if failed.is_set() else 1.0)
                except Exception as e:  # the others stopped answering
                    errors.append(e)

            beat = threading.Thread(target=heartbeat, name="genzoo-heartbeat", daemon=True)
            beat.start()
            try:
                result = work()
            except BaseException:
                failed.set()
                raise
            finally:
                done.set()
                beat.join()
            if errors:
                raise self.explain(errors[0], what)
            return result
        while True:
            try:
                flag = self._side_max(0.0)
            except Exception:
                raise CollectiveTimeout(
                    f"rank {self.info.rank}: rank 0 stopped answering during {what} (no heartbeat for "
                    f"{self._minutes()}, train.dist_timeout_minutes): it stalled or died; the job stops"
                ) from None
            if flag == 1.0:
                return None
            if flag == 2.0:
                raise GenzooError(f"rank {self.info.rank}: rank 0 failed during {what}; its own message says why")

    def _side_max(self, value: float) -> float:
        t = torch.tensor([value])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._side)
        return float(t.item())

    # -- failures -------------------------------------------------------------------------
    def _minutes(self) -> str:
        return f"{self.timeout_minutes:g} minute{'s' if self.timeout_minutes != 1 else ''}"

    def explain(self, error: BaseException, where: str) -> BaseException:
        """The exception to raise for ``error``, raised at ``where`` (e.g. "step 12"): a collective
        that timed out becomes a :class:`CollectiveTimeout` naming the stalled rank(s), found by a
        roll call on a side channel; anything else is returned unchanged."""
        if not self.enabled or isinstance(error, GenzooError) or not _looks_like_collective_failure(error):
            return error
        rank, probe = self.info.rank, timedelta(seconds=min(PROBE_SECONDS, self.timeout_minutes * 60))
        head = f"rank {rank}: a collective at {where} waited {self._minutes()} (train.dist_timeout_minutes)"
        try:
            dist.monitored_barrier(group=self._probe, timeout=probe, wait_all_ranks=True)
        except Exception as e:
            if rank == 0:
                found = re.search(r"Ranks? ([\d, ]+) failed", str(e))
                ranks = found.group(1).strip() if found else "?"
                plural = "s" if "," in ranks else ""
                return CollectiveTimeout(f"{head}: rank{plural} {ranks} stalled (did not check in within "
                                         f"{probe.total_seconds():g} s); the job stops")
            if self.world_size == 2:
                return CollectiveTimeout(f"{head}: rank 0 stalled (did not answer the roll call within "
                                         f"{probe.total_seconds():g} s); the job stops")
            return CollectiveTimeout(f"{head}, and rank 0 did not confirm the others are alive: rank 0 or "
                                     "another rank stalled (rank 0's message names it); the job stops")
        return error  # every rank is alive: not a stall, report the original error

    def close(self) -> None:
        """Destroy the process groups (after an error too); safe to call twice."""
        self._side = self._probe = None
        shutdown()
