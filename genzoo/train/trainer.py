"""The training loop. It steps whatever optimizer groups a model declares and knows no model by name.

One iteration steps every group in the model's order, each ``group.steps`` times (the GAN's
k discriminator steps per generator step). Scalars stay on the device until a log step, so
the hot loop never waits for the host; a NaN found then names the step it happened at.
Checkpoints hold the complete state, so an interrupted run resumes bit-for-bit.

Randomness belongs to the trainer: a model draws its training noise through
``GenerativeModel.randn``/``rand``/``randint`` (and the ``*_shared`` draws), which read the
trainer's generator (seeded from ``train.seed``, saved in every checkpoint) for the global
batch and keep this shard's slice, replayed for each micro-batch. A training step leaves the
global RNG as it found it. Non-gradient updates are declared (a ``StatisticsGroup``): the
trainer sums the model's batch statistics over micro-batches and ranks before the model
applies them. So N ranks train like one process whose batch is split into N micro-batches
(``train.micro_batches``), and that is exactly one process on the global batch for every model
whose loss does not couple the examples of a batch (``GenerativeModel.couples_batch``).

Under torchrun each optimizer group gets its own DistributedDataParallel wrapper over just
its parameters, so a group's backward all-reduces only its own gradients and the other
groups' frozen parameters never confuse DDP's bookkeeping; the DDP strategy (wrappers,
agreement, averaging, rank-0 work, timeouts, teardown) lives in :mod:`.distributed`.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..config import RunConfig
from ..data import load_dataset
from ..data.base import Dataset
from ..errors import ConfigError, GenzooError, RunInterrupted, TrainingDiverged
from ..files import write_error
from ..models.base import Batch, GenerativeModel
from ..registry import get_model_class
from ..sysinfo import cpu_has_bf16, cpu_model
from ..viz.grid import save_samples
from .run_folder import RunFolder, new_run_dir, resume_changes
from .distributed import DataParallel, DistInfo, dist_info, init_process_group, select_device, shutdown
from .ema import EMA
from .health import HealthMonitor
from .logger import ScalarLogger
from .sampler import InMemoryBatches
from .streaming import FolderImages, StreamingBatches, plan_streaming


class Trainer:
    """Trains one model on one dataset into one run folder; ``fit()`` runs until a budget ends."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        data: Dataset | None = None,
        progress: bool = True,
        info: DistInfo | None = None,
    ) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        self.info = info or dist_info()
        tc = config.train
        self.device = select_device(tc.device, self.info)
        self.dist = DataParallel(self.info, self.device, tc.dist_timeout_minutes)  # the DDP strategy
        self.stream: FolderImages | None = None
        if data is None and (planned := plan_streaming(config.data, tc.stream_above_mb)) is not None:
            data, self.stream = planned  # a big image folder: a preview here, batches from disk
        self.data = data if data is not None else load_dataset(config.data, "train")
        if tc.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("train.precision=fp16 needs a GPU; use bf16 or fp32 on the CPU")
        if tc.precision == "bf16" and self.device.type == "cpu" and cpu_has_bf16() is False and self.info.is_main:
            warnings.warn(
                f"train.precision=bf16 on a CPU without bfloat16 instructions ({cpu_model()}: no "
                "avx512_bf16 or amx_bf16): PyTorch emulates them, which was 15x slower than fp32 on an "
                "AVX2 machine; use train.precision=fp32",
                RuntimeWarning, stacklevel=2,
            )

        # The training noise: one generator, the same on every rank; each shard keeps its slice
        # of every per-example draw (GenerativeModel.randn). Checkpoints save its state.
        self.noise = torch.Generator(device=self.device).manual_seed(tc.seed + NOISE_SEED_OFFSET)
        # Initial weights come from the global RNG seeded alike on every rank, inside a fork so
        # that the caller's global RNG comes out as it went in.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(tc.seed)
            model_cls = get_model_class(config.model)
            self.model: GenerativeModel = model_cls(config.model_config, self.data.shape, self.data.num_classes).to(self.device)
            if tc.channels_last:
                self.model.to(memory_format=torch.channels_last)  # only 4-D weights change layout
            with self.model.drawing_from(self.noise):  # whole data, unsliced draws: alike on every rank
                self.model.prepare_data(self.data)  # before EMA copies the buffers
        self.groups = self.model.optimizer_groups()
        self.optimizers = [g.make_optimizer() for g in self.groups]
        self.group_params = [set(map(id, g.params)) for g in self.groups]
        self.all_group_params = [p for g in self.groups for p in g.params]
        if len(self.group_params) > 1 and len(set().union(*self.group_params)) != len(self.all_group_params):
            raise ConfigError(f"{config.model}: optimizer groups share parameters; each parameter needs one owner")
        # fp16 needs loss scaling; one scaler per optimizer, since each group overflows on its own.
        self.scalers = [torch.amp.GradScaler(self.device.type) for _ in self.groups] if tc.precision == "fp16" else None
        per_rank = tc.batch_size // self.info.world_size
        if tc.batch_size % self.info.world_size == 0 and per_rank % tc.micro_batches:
            raise ConfigError(
                f"train.micro_batches={tc.micro_batches} does not divide the per-process batch of {per_rank}"
            )
        self.forwards: list[torch.nn.Module] | None = None  # per group: the (DDP-wrapped, compiled) model
        self.compiled: torch.nn.Module | None = None
        self.ema = EMA(self.model, tc.ema) if tc.ema > 0 else None
        dynamic = config.data.binarize == "dynamic"
        if self.stream is not None:
            self.batches = StreamingBatches(
                self.stream, tc.batch_size, tc.seed, self.device, self.info.rank, self.info.world_size,
                dynamic_binarize=dynamic, channels_last=tc.channels_last, workers=tc.data_workers,
                labelled=self.data.num_classes > 0,
            )
        else:
            self.batches = InMemoryBatches(
                self.data, tc.batch_size, tc.seed, self.device, self.info.rank, self.info.world_size,
                dynamic_binarize=dynamic, channels_last=tc.channels_last,
            )
        fixed = torch.Generator().manual_seed(tc.seed + 1)
        self.fixed_z = self.model.latent(tc.grid_size, fixed)
        self.fixed_labels = (
            torch.arange(tc.grid_size, device=self.device) % self.model.num_classes if self.model.conditional and self.model.num_classes else None
        )
        self.step, self.elapsed_before = 0, 0.0
        self.progress = progress and self.info.is_main
        self._stop_reason: str | None = None
        self._window: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.health = HealthMonitor()  # warns once per condition that persists; summary at the end
        self.last_checkpoint: Path | None = None
        self.run = RunFolder(self.run_dir)  # lock, checkpoints, config.yaml, model/
        self._resumed: tuple[int, dict] | None = None  # (step, accepted changes) to record in config.yaml
        self._evaluator = None  # built on the first evaluation
        self._warned_global_rng = False
        self._eval_seconds = 0.0  # this session's time spent evaluating
        self.eval_before = 0.0  # evaluation time of earlier sessions of this run (from the checkpoint)

    # -- set-up helpers -------------------------------------------------------------
    def _grad_only(self, own: set[int] | None) -> None:
        """Let only the parameters in ``own`` (all when None) take gradients."""
        for p in self.all_group_params:
            p.requires_grad_(own is None or id(p) in own)

    def _prepare(self) -> None:
        """Compile (and check) the model, then wrap it per group for DDP. Runs once, before step 1."""
        tc = self.config.train
        core: torch.nn.Module = self.model
        self.compiled = compile_model(self.model) if tc.compile else None
        if not (self.info.enabled or self.compiled is not None):
            self.forwards = [core] * len(self.groups)
            return
        grads = self._first_batch_gradients([self.model] + ([self.compiled] if self.compiled is not None else []))
        # Which groups leave some of their parameters out of their loss: only those need
        # DDP's per-step search for unused parameters (a graph traversal every backward).
        unused = [bool(per_fn) and any(g is None for g in per_fn[0]) for per_fn in grads]
        ok, worst, where = True, 0.0, ""
        if self.compiled is not None:
            tol = 1e-3 if tc.precision == "fp32" else 5e-2
            for group, per_fn in zip(self.groups, grads):
                if not per_fn:  # a statistics group: no gradients to compare
                    continue
                eager, compiled = per_fn
                for e, c in zip(eager, compiled):
                    e = torch.zeros_like(c) if e is None else e
                    c = torch.zeros_like(e) if c is None else c
                    err = float((c.float() - e.float()).norm() / e.float().norm().clamp_min(1e-12))
                    if not err <= worst:  # `not <=` also catches NaN
                        worst, where = err, group.name
            ok = worst <= tol
        flags = self.dist.agree([float(not ok)] + [float(u) for u in unused])  # every rank makes the same choices
        ok, unused = not bool(flags[0]), [bool(u) for u in flags[1:]]
        if self.compiled is not None:
            if ok:
                core = self.compiled
            else:
                self.compiled = None
                if self.info.is_main:
                    warnings.warn(
                        f"torch.compile gave gradients that differ from eager ones (relative error {worst:.3g} "
                        f"in group {where!r}, tolerance {tol:g}); training without compile",
                        RuntimeWarning, stacklevel=3,
                    )
        self.forwards = [self._wrap_distributed(core, group, own, u)
                         for group, own, u in zip(self.groups, self.group_params, unused)]

    def _wrap_distributed(self, core: torch.nn.Module, group, own: set[int], find_unused: bool) -> torch.nn.Module:
        """Group ``group``'s forward: ``core`` in a DDP wrapper over the group's own parameters
        (statistics groups need none: the trainer sums their statistics itself)."""
        if group.kind == "statistics":
            return core
        self._grad_only(own)  # DDP manages the parameters that require gradients when it is built
        try:
            return self.dist.wrap(core, find_unused)
        finally:
            self._grad_only(None)

    def _first_batch_gradients(self, forwards: list[torch.nn.Module]) -> list[list[list[torch.Tensor | None]]]:
        """Each group's gradients on the first batch, from each of ``forwards``: [group][forward][param]
        ([] for a statistics group).

        Runs without DDP and restores the training noise, the data stream and the buffers it
        touched, so training then continues as if it had never run.
        """
        rng, batches = self._rng_state(), self.batches.state_dict()
        buffers = [b.detach().clone() for b in self.model.buffers()]
        batch = next(self.batches)
        result = []
        try:
            for group, own in zip(self.groups, self.group_params):
                self._grad_only(own)
                per_fn = []
                for fn in forwards if group.kind != "statistics" else []:
                    self._set_rng_state(rng)
                    with torch.no_grad():
                        for b, saved in zip(self.model.buffers(), buffers):
                            b.copy_(saved)
                    self.model.zero_grad(set_to_none=True)
                    with self.model.drawing_from(self.noise, self.info.rank, self.info.world_size), self._autocast():
                        fn(batch, group.name)[group.name].backward()
                    per_fn.append([None if p.grad is None else p.grad.detach().clone() for p in group.params])
                result.append(per_fn)
        finally:
            self._grad_only(None)
            self.model.zero_grad(set_to_none=True)
            with torch.no_grad():
                for b, saved in zip(self.model.buffers(), buffers):
                    b.copy_(saved)
            self._set_rng_state(rng)
            self.batches.load_state_dict(batches)
        return result

    def _autocast(self):
        if self.config.train.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.train.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _rng_state(self) -> dict[str, torch.Tensor]:
        """The training noise's state (the same on every rank), as checkpoints store it."""
        return {"noise": self.noise.get_state()}

    def _set_rng_state(self, rng: dict[str, torch.Tensor]) -> None:
        # Checkpoints from before the trainer owned its generator hold the global RNG's state
        # ("torch"/"cuda"); it has the same format, so training continues from a seeded stream.
        state = rng.get("noise", rng.get("cuda" if self.device.type == "cuda" else "torch"))
        if state is not None:
            self.noise.set_state(state.cpu())

    def _average_across_ranks(self, tensors: list[torch.Tensor]) -> None:
        """Replace floating tensors by their mean over ranks, in place (see DataParallel.average_)."""
        self.dist.average_(tensors)

    # -- state ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "elapsed": self.elapsed_before + self._elapsed_now(),
            "eval_elapsed": self.eval_before + self._eval_seconds,
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "ema": self.ema.state_dict() if self.ema else {},
            "batches": self.batches.state_dict(),
            "rng": self._rng_state(),  # the same on every rank
            "scalers": [sc.state_dict() for sc in self.scalers] if self.scalers else [],
            "world_size": self.info.world_size,
            "fixed_z": self.fixed_z if self.fixed_z is not None else torch.empty(0),
            "config": self.recorded_config().to_dict(),
        }

    def recorded_config(self) -> RunConfig:
        """The run's config with the model's auto/None settings resolved: what runs, as recorded."""
        return dataclasses.replace(self.config, model_config=self.model.resolved_config())

    def load_state_dict(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
            if len(state["optimizers"]) != len(self.optimizers):
                raise ValueError(f"{len(state['optimizers'])} optimizers saved, the model has {len(self.optimizers)}")
            for opt, s in zip(self.optimizers, state["optimizers"]):
                opt.load_state_dict(s)
            if self.ema and state["ema"]:
                self.ema.load_state_dict(state["ema"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:240]
            raise ConfigError(f"the checkpoint does not fit the run's config ({first}); resume with the config "
                              "it was trained with, or start a new run") from None
        # The loaded optimizer state carries the old learning rate; a changed model.lr is applied here.
        for opt, group in zip(self.optimizers, self.groups):
            for pg in opt.param_groups:
                pg["lr"] = group.lr
        self.batches.load_state_dict(state["batches"])
        self._set_rng_state(state["rng"])
        for sc, s in zip(self.scalers or [], state.get("scalers", [])):
            sc.load_state_dict(s)
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.info.world_size and self.info.is_main and self.model.couples_batch:
            # Noise and data are global-then-sliced: only a batch-coupled loss sees the change.
            warnings.warn(
                f"resuming a run trained on {saved_world} processes with {self.info.world_size}: "
                f"{self.config.model} couples the examples of a batch, and each process's share of it (its "
                "ghost batch) changes size, so the run does not continue as it would have",
                RuntimeWarning, stacklevel=2,
            )
        if state["fixed_z"].numel():
            self.fixed_z = state["fixed_z"].to(self.device)
        self.step, self.elapsed_before = int(state["step"]), float(state["elapsed"])
        self.eval_before = float(state.get("eval_elapsed", 0.0))

    def resume(self, required: bool = False) -> bool:
        """Continue from the run folder's latest checkpoint; False if the folder has none (unless ``required``).

        The main process takes the folder's lock first. A ``latest`` that cannot be followed, a
        checkpoint of another model or one that does not fit the config, and a changed field
        that may not change on resume (:func:`~genzoo.train.run_folder.resume_changes`) are
        one-line errors; the accepted changes are recorded in ``config.yaml`` when ``fit`` starts.
        """
        if not self.run_dir.is_dir():
            if required:
                raise GenzooError(f"{self.run_dir} is not a folder, so there is no run to resume")
            return False
        busy: GenzooError | None = None
        if self.info.is_main:
            try:
                self.run.lock()
            except GenzooError as e:
                busy = e
        if self.dist.agree([float(busy is not None)])[0] and busy is None:  # every rank stops with rank 0
            raise GenzooError(f"{self.run_dir} is in use by another process (rank 0 could not lock it)")
        if busy is not None:
            raise busy
        found = self.run.read_checkpoint(self.device, required)
        if found is None:
            return False
        path, state = found
        changes = {}
        if isinstance(state.get("config"), dict):
            changes = resume_changes(state["config"], self.config, self.recorded_config(), path, self.run.config_file)
        self.load_state_dict(state)
        self.last_checkpoint = path
        self._resumed = (self.step, changes)
        return True

    def save_checkpoint(self) -> None:
        """Checkpoint the full state and export RUN/model/ from it (the main process writes)."""
        self._log(None)  # checks for NaN first: never checkpoint weights a NaN has spoiled
        # Ranks keep batch statistics of their own slices; the checkpoint (and every rank,
        # so that a resumed run matches a straight one) takes their mean.
        self._average_across_ranks(list(self.model.buffers()))
        if self.ema:
            self._average_across_ranks(list(self.ema.shadow.values()))
        # Rank 0 writes; the other ranks wait for it however long it takes (DataParallel.on_main).
        self.dist.on_main(f"writing the checkpoint of step {self.step}", self._write_checkpoint)

    def _write_checkpoint(self) -> None:
        self.last_checkpoint = self.run.save_checkpoint(self.state_dict(), self.step, self.config.train.keep_checkpoints)
        # model/ follows every checkpoint, so a run killed later still samples from its last good one.
        self.export_model()

    # -- the loop -------------------------------------------------------------------
    def _elapsed_now(self) -> float:
        return time.monotonic() - self._t0 if hasattr(self, "_t0") else 0.0

    def train_seconds(self) -> float:
        """Wall time spent training this run, over all its sessions, evaluations left out."""
        return self.elapsed_before + self._elapsed_now() - self.eval_before - self._eval_seconds

    def _should_stop(self) -> bool:
        """A signal arrived or ``train.minutes`` of training time are used up; all ranks agree.

        Under DDP the ranks compare notes every ``log_every`` steps (one tiny all-reduce), so they
        leave the loop at the same step even when a signal or the clock reaches them at different
        steps, and only rank 0's clock pauses for its evaluations.
        """
        tc = self.config.train
        stop = bool(self._stop_reason) or bool(tc.minutes and self.train_seconds() >= tc.minutes * 60)
        if not self.info.enabled:
            return stop
        if self.step % tc.log_every:
            return False
        return self.dist.should_stop(stop)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One iteration: every optimizer group, ``steps`` times each. Returns detached scalars.

        The global RNG is left as it was: every draw comes from the trainer's generator
        (a model that draws from the global RNG is named in a warning, once).
        """
        if self.forwards is None:
            self._prepare()
        global_rng = _global_rng_state(self.device)
        if self.config.train.lr_halflife:
            self._apply_lr_schedule()
        scalars: dict[str, torch.Tensor] = {}
        batch = None
        for i, (group, opt) in enumerate(zip(self.groups, self.optimizers)):
            # Parameters of the other groups need no gradient in this group's backward pass.
            self._grad_only(self.group_params[i])
            for _ in range(group.steps):
                if group.fresh_batch or batch is None:
                    batch = next(self.batches)
                if group.kind == "statistics":
                    scalars.update(self._statistics_step(i, batch))
                else:
                    opt.zero_grad(set_to_none=True)
                    scalars.update(self._forward_backward(i, batch))
                    if self.scalers:
                        self.scalers[i].step(opt)
                        self.scalers[i].update()
                    else:
                        opt.step()
                self.model.on_step_end(group.name)
        self._grad_only(None)
        if self.ema:
            self.ema.update(self.model)
        if not self._warned_global_rng and not _same_rng_state(global_rng, _global_rng_state(self.device)):
            self._warned_global_rng = True
            if self.info.is_main:
                warnings.warn(
                    f"{self.config.model} drew from torch's global RNG during a training step (torch.randn, "
                    "randn_like, dropout...): such noise is neither seeded by train.seed, saved for resume, "
                    "nor sliced across ranks and micro-batches; draw through the model's randn/rand/randint",
                    RuntimeWarning, stacklevel=2,
                )
        return scalars

    def _apply_lr_schedule(self) -> None:
        """``train.lr_halflife``: each group's learning rate times 0.5 ** (step / half-life), set from
        the step count alone, so a resumed or longer run follows the same schedule."""
        scale = 0.5 ** (self.step / self.config.train.lr_halflife)
        for opt, group in zip(self.optimizers, self.groups):
            for pg in opt.param_groups:
                pg["lr"] = group.lr * scale

    def _shards(self, batch: Batch) -> Iterator[tuple[int, int, Batch]]:
        """This rank's micro-batches as (shard, shards, part): micro-batch m of rank r is shard
        r * M + m of the global batch. Before each part the training noise is rewound to where
        the step began, so every shard draws the same global noise and keeps its own slice;
        afterwards every rank's generator stands at the same state."""
        m_count, rank, world = self.config.train.micro_batches, self.info.rank, self.info.world_size
        start = self.noise.get_state()
        xs = batch.x.chunk(m_count) if m_count > 1 else [batch.x]
        ys = batch.y.chunk(m_count) if batch.y is not None and m_count > 1 else [batch.y] * m_count
        end = None
        for m, (x, y) in enumerate(zip(xs, ys)):
            if m:
                self.noise.set_state(start)
            yield rank * m_count + m, world * m_count, Batch(x, y)
            state = self.noise.get_state()
            if end is None:
                end = state
            elif not torch.equal(end, state):
                raise ConfigError(f"{self.config.model} drew different amounts of training noise on micro-batches "
                                  f"0 and {m}: the number and shapes of its draws must not depend on the data")

    def _forward_backward(self, i: int, batch: Batch) -> dict[str, torch.Tensor]:
        """Gradients of group ``i``'s loss on this rank's batch, accumulated over micro-batches."""
        name, forward, m_count = self.groups[i].name, self.forwards[i], self.config.train.micro_batches
        # losses() must not change a parameter in place: that is an update the other ranks and
        # micro-batches never see (a non-gradient update belongs in a StatisticsGroup).
        versions = [p._version for p in self.groups[i].params]
        sums: dict[str, torch.Tensor] = {}
        for shard, shards, part in self._shards(batch):
            # All-reduce the gradients once, after the last micro-batch.
            last = shard % m_count == m_count - 1
            sync = forward.no_sync() if self.info.enabled and not last else contextlib.nullcontext()
            with sync:
                with self.model.drawing_from(self.noise, shard, shards), self._autocast():
                    out = forward(part, name)
                self._backward(i, out[name] / m_count if m_count > 1 else out[name])
            for k, v in out.items():
                sums[k] = sums[k] + v.detach() if k in sums else v.detach()
        changed = [p for p, v in zip(self.groups[i].params, versions) if p._version != v]
        if changed:
            names = {id(p): n for n, p in self.model.named_parameters()}
            raise ConfigError(
                f"{self.config.model}: losses(batch, {name!r}) changed parameter {names.get(id(changed[0]), '?')!r} "
                "in place; a non-gradient update must be a StatisticsGroup (batch_statistics/apply_statistics) "
                "so that every rank and micro-batch makes it once"
            )
        return {k: v / m_count for k, v in sums.items()} if m_count > 1 else sums

    @torch.no_grad()
    def _statistics_step(self, i: int, batch: Batch) -> dict[str, torch.Tensor]:
        """Group ``i``'s non-gradient update: the model's batch statistics, summed over this rank's
        micro-batches and over the ranks, then applied by the model (alike on every rank)."""
        name = self.groups[i].name
        sums: dict[str, torch.Tensor] = {}
        for shard, shards, part in self._shards(batch):
            with self.model.drawing_from(self.noise, shard, shards):
                stats = self.model.batch_statistics(part, name)
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
        sums = dict(zip(sums, self.dist.summed(list(sums.values()))))
        out = self.model.apply_statistics(name, sums)
        if name not in out:
            raise ConfigError(f"{self.config.model}: apply_statistics({name!r}, ...) must return the scalar {name!r}")
        return {k: v.detach() for k, v in out.items()}

    def _backward(self, i: int, loss: torch.Tensor) -> None:
        (self.scalers[i].scale(loss) if self.scalers else loss).backward()

    def advance(self) -> dict[str, torch.Tensor]:
        """One iteration as ``fit`` runs it: ``train_step``, the step count, the scalars kept for the log window."""
        self.model.global_step = self.step
        scalars = self.train_step()
        self.step += 1
        self._window.append((self.step, scalars))
        return scalars

    def _flush_scalars(self) -> dict[str, float]:
        """Move the buffered scalars to the host, check them, log their means."""
        if not self._window:
            return {}
        # The optimised losses first (they are what a NaN is reported as), then the logged extras.
        present = {k for _, s in self._window for k in s}
        keys = [g.name for g in self.groups if g.name in present] + sorted(present - {g.name for g in self.groups})
        stacked = [torch.stack([s[k].float() for _, s in self._window if k in s]) for k in keys]
        if self.info.enabled:  # log the mean over ranks; a NaN on any rank stops every rank at once
            stacked = self.dist.mean(torch.cat(stacked)).split([len(v) for v in stacked])
        values = {k: v.tolist() for k, v in zip(keys, stacked)}
        for k in keys:
            steps = [st for st, s in self._window if k in s]
            for st, v in zip(steps, values[k]):
                if v != v or v in (float("inf"), float("-inf")):
                    last = self.last_checkpoint.name if self.last_checkpoint else "none yet"
                    self._window.clear()
                    raise TrainingDiverged(
                        f"loss {k!r} became {v} at step {st}; the last good checkpoint is {last} in {self.run_dir}"
                    )
        means = {k: sum(v) / len(v) for k, v in values.items()}
        self._window.clear()
        return means

    def _log(self, bar) -> None:
        means = self._flush_scalars()
        if means and self.info.is_main:
            elapsed = self.elapsed_before + self._elapsed_now()
            warning = self.health.update(self.step, self.model.health(means))
            extra = {"train_time": round(self.train_seconds(), 3)} if self.eval_before + self._eval_seconds else {}
            if warning:
                extra["warning"] = warning
            self.logger.log(self.step, means, time=round(elapsed, 3), **extra)
            if warning:
                tqdm.write(f"step {self.step}: warning: {warning}", file=sys.stderr)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in list(means.items())[:4]}, refresh=False)

    def _sampling_model(self) -> GenerativeModel:
        """The model to sample from: a copy with the EMA weights when EMA is on, else the model itself."""
        if not self.ema:
            return self.model
        # A deep copy keeps whatever prepare_data attached (e.g. a labelled subset), unlike a rebuild.
        model = copy.deepcopy(self.model)
        self.ema.copy_to(model)
        return model

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """``train.eval_metrics`` on ``train.eval_n`` samples (EMA weights when present), logged as ``eval/NAME``."""
        tc = self.config.train
        if self._evaluator is None:
            from ..metrics import make_periodic_evaluator  # loads feature networks: only when asked

            self._evaluator = make_periodic_evaluator(tc.eval_metrics or None, tc.eval_n, self.config.data.name, tc.seed)
        t0 = time.monotonic()
        model = self._sampling_model()
        was_training = model.training
        # Only rank 0 evaluates: the global RNG must come out as it went in.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            values = self._evaluator(model)
        model.train(was_training)
        self._eval_seconds += time.monotonic() - t0
        elapsed = self.elapsed_before + self._elapsed_now()
        # train_time leaves the evaluations out: the figure for time-to-quality.
        self.logger.log(self.step, {f"eval/{k}": v for k, v in values.items()}, time=round(elapsed, 3),
                        train_time=round(self.train_seconds(), 3))
        return values

    @torch.no_grad()
    def sample_grid(self, path: Path) -> Path:
        """Samples from the fixed noise (with EMA weights when present), as a PNG."""
        model = self._sampling_model()
        was_training = model.training
        model.eval()
        g = torch.Generator(device=self.device).manual_seed(self.config.train.seed + 2)
        # Only rank 0 samples: a model that touches the global RNG here must not desynchronise it.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            x = model.sample(self.config.train.grid_size, g, z=self.fixed_z, labels=self.fixed_labels)
        model.train(was_training)
        extra = {} if self.data.is_image else {"reference": self.data.x[:2000], "modes": self.data.modes}
        return save_samples(x, path, **extra)

    def export_model(self) -> Path:
        """Save the model (EMA weights when enabled) as RUN/model/, recording the step it is from."""
        return self.run.export_model(self._sampling_model(), self.step)

    def _request_stop(self, signum, frame) -> None:
        self._stop_reason = signal.Signals(signum).name

    @property
    def stopped_by(self) -> str | None:
        """``SIGINT``/``SIGTERM`` when a signal ended the last ``fit``, else None."""
        return self._stop_reason

    def _open_run_folder(self) -> None:
        """The main process: the folder, its lock, and config.yaml (on resume, with what changed at which step)."""
        self.run.create()
        self.run.lock()
        if self._resumed is not None:
            step, changes = self._resumed
            self.run.write_config(self.recorded_config(), resumed_at=step, changes=changes)
            self._resumed = None
        elif self.step == 0:
            self.run.write_config(self.recorded_config())

    def _release(self, handlers: dict) -> None:
        for sig, h in handlers.items():
            signal.signal(sig, h)
        self.run.unlock()

    def fit(self) -> Path:
        """Train until ``train.steps`` or ``train.minutes`` is reached (or SIGINT/SIGTERM); return the run folder.

        RUN/model/ is exported at every checkpoint. After a signal the run saves and returns,
        with :attr:`stopped_by` naming the signal. A write that fails (disk full, read-only
        folder) is a one-line error naming the path; the last good checkpoint stays.
        """
        tc = self.config.train
        # Catch SIGINT/SIGTERM before config.yaml appears: a run whose folder is complete can be stopped cleanly.
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._request_stop)
        self.logger = None
        try:
            if self.info.is_main:
                self._open_run_folder()
            try:
                self.logger = ScalarLogger(self.run_dir, tc.tensorboard, enabled=self.info.is_main)
            except OSError as e:
                raise write_error(e.filename or self.run_dir / "log.jsonl", e) from None
            self._t0 = time.monotonic()
            self.model.train()
            if self.forwards is None:
                self._prepare()
        except BaseException:
            if self.logger is not None:
                self.logger.close()
            self._release(handlers)
            raise
        bar = tqdm(total=tc.steps, initial=self.step, disable=not self.progress, unit="it", dynamic_ncols=True, file=sys.stderr)
        start_step = self.step
        try:
            while self.step < tc.steps:
                if self._should_stop():
                    break
                self.advance()
                bar.update(1)
                if self.step % tc.log_every == 0:
                    self._log(bar)
                # Rank-0 work: the other ranks wait for it without timing out (DataParallel.on_main).
                if self.step % tc.sample_every == 0:
                    grid = self.run_dir / "samples" / f"step_{self.step:08d}.png"
                    self.dist.on_main(f"the progress grid of step {self.step}", lambda: self.sample_grid(grid))
                if tc.eval_every and self.step % tc.eval_every == 0:
                    self.dist.on_main(f"the evaluation of step {self.step}", self.evaluate)
                if self.step % tc.checkpoint_every == 0:
                    self.save_checkpoint()
            self._log(bar)
            if self.step != start_step or self.last_checkpoint is None:
                self.save_checkpoint()  # exports model/ too
            elif self.info.is_main:
                self.export_model()  # nothing new to train: model/ still matches the latest checkpoint
            if self.info.is_main:
                self.sample_grid(self.run_dir / "samples.png")
        except RuntimeError as e:  # under torchrun, a collective that timed out names the stalled rank
            raise self.dist.explain(e, f"step {self.step + 1}") from None
        except OSError as e:  # a write the folder refused (disk full, read-only): one line naming it
            raise write_error(e.filename or self.run_dir, e) from None
        finally:
            bar.close()
            self.logger.close()
            self._release(handlers)
        if self.info.is_main:
            for line in self.health.summary():
                print(f"health: {line}", file=sys.stderr)
        if self._stop_reason and self.info.is_main:
            print(
                f"stopped by {self._stop_reason} at step {self.step}; continue with: genzoo train --resume {self.run_dir}",
                file=sys.stderr,
            )
        return self.run_dir


NOISE_SEED_OFFSET = 3  # the training noise's seed is train.seed + 3 (data order, grids and fixed noise use others)


def _global_rng_state(device: torch.device) -> list[torch.Tensor]:
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return states


def _same_rng_state(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def compile_model(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(model)``; the trainer checks its gradients before trusting it.

    The model's training draws run eagerly from the trainer's generator (``GenerativeModel``
    excludes them from compilation), and any other random op falls back to eager's generator
    (inductor would draw its own numbers): the compiled model sees the noise eager sees, so the
    gradient check compares like with like, and seeding, resume and the per-shard noise slices
    mean what they mean in eager mode.
    """
    return torch.compile(model, options={"fallback_random": True})


def train(
    config: RunConfig, out: str | Path = "runs", resume: str | Path | None = None, progress: bool = True
) -> Path:
    """Train ``config`` into a new run folder under ``out`` (or continue run ``resume``); return the folder.

    Raises :class:`~genzoo.errors.RunInterrupted` after saving when SIGINT or SIGTERM ended the run.
    """
    info = dist_info()
    if resume is not None:
        run_dir = Path(resume)
    elif info.is_main:
        run_dir = new_run_dir(out, config.model, config.data.name)
    else:
        run_dir = None
    try:
        if info.enabled and resume is None:
            trainer_device = select_device(config.train.device, info)
            init_process_group(info, trainer_device, config.train.dist_timeout_minutes)
            box = [str(run_dir) if run_dir else ""]
            dist.broadcast_object_list(box, src=0)
            run_dir = Path(box[0])
        trainer = Trainer(config, run_dir, progress=progress, info=info)
        if resume is not None:
            trainer.resume(required=True)  # starting over is the user's explicit choice, never a fallback
        trainer.fit()
    finally:
        shutdown()  # under torchrun: the process groups go, also after an error
    if trainer.stopped_by:
        raise RunInterrupted(trainer.stopped_by, trainer.run_dir)
    return trainer.run_dir
