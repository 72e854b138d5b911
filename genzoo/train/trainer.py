"""The training loop. It steps whatever optimizer groups a model declares and knows no model by name.

One iteration steps every group in the model's order, each ``group.steps`` times (the GAN's
k discriminator steps per generator step). Scalars stay on the device until a log step, so
the hot loop never waits for the host; a NaN found then names the step it happened at.
Checkpoints hold the complete state, so an interrupted run resumes bit-for-bit.
"""
from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..config import RunConfig
from ..data import load_dataset
from ..data.base import Dataset
from ..errors import ConfigError, TrainingDiverged
from ..models.base import GenerativeModel
from ..registry import get_model_class
from ..viz.grid import save_samples
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .distributed import DistInfo, dist_info, init_process_group, select_device
from .ema import EMA
from .logger import ScalarLogger
from .sampler import InMemoryBatches


def new_run_dir(out: str | Path, model: str, data: str) -> Path:
    """Create ``out/<model>-<data>-NNN`` with the next free number."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{model}-{Path(data).name or data}")
    numbers = [int(m.group(1)) for p in out.glob(f"{tag}-*") if (m := re.fullmatch(re.escape(tag) + r"-(\d+)", p.name))]
    n = max(numbers, default=0) + 1
    while True:
        path = out / f"{tag}-{n:03d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took this number
            n += 1


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
        init_process_group(self.info, self.device)
        self.data = data if data is not None else load_dataset(config.data, "train")
        if tc.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("train.precision=fp16 needs a GPU; use bf16 or fp32 on the CPU")

        torch.manual_seed(tc.seed)  # identical initial weights on every rank
        model_cls = get_model_class(config.model)
        self.model: GenerativeModel = model_cls(config.model_config, self.data.shape, self.data.num_classes).to(self.device)
        self.model.noise_slice = (self.info.rank, self.info.world_size)
        self.groups = self.model.optimizer_groups()
        self.optimizers = [g.make_optimizer() for g in self.groups]
        self.group_params = [set(map(id, g.params)) for g in self.groups]
        self.all_group_params = [p for g in self.groups for p in g.params]
        self.net = self._wrap_distributed(self.model)
        self.ema = EMA(self.model, tc.ema) if tc.ema > 0 else None
        self.batches = InMemoryBatches(
            self.data, tc.batch_size, tc.seed, self.device, self.info.rank, self.info.world_size,
            dynamic_binarize=config.data.binarize == "dynamic",
        )
        fixed = torch.Generator().manual_seed(tc.seed + 1)
        self.fixed_z = self.model.latent(tc.grid_size, fixed)
        self.fixed_labels = (
            torch.arange(tc.grid_size, device=self.device) % self.model.num_classes if self.model.num_classes else None
        )
        self.step, self.elapsed_before = 0, 0.0
        self.progress = progress and self.info.is_main
        self._stop_reason: str | None = None
        self._window: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.last_checkpoint: Path | None = None

    # -- set-up helpers -------------------------------------------------------------
    def _wrap_distributed(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.info.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        # Buffers (batch-norm statistics) are not broadcast: every rank updates its own from
        # its own slice, which keeps two D passes per step legal. Groups use disjoint parameters.
        return DDP(model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=True)

    def _autocast(self):
        if self.config.train.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.train.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- state ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "step": self.step,
            "elapsed": self.elapsed_before + self._elapsed_now(),
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "ema": self.ema.state_dict() if self.ema else {},
            "batches": self.batches.state_dict(),
            "rng": rng,
            "fixed_z": self.fixed_z if self.fixed_z is not None else torch.empty(0),
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for opt, s in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(s)
        if self.ema and state["ema"]:
            self.ema.load_state_dict(state["ema"])
        self.batches.load_state_dict(state["batches"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)
        if state["fixed_z"].numel():
            self.fixed_z = state["fixed_z"].to(self.device)
        self.step, self.elapsed_before = int(state["step"]), float(state["elapsed"])

    def resume(self) -> bool:
        """Load the latest checkpoint of the run folder, if there is one."""
        path = latest_checkpoint(self.run_dir / "checkpoints")
        if path is None:
            return False
        self.load_state_dict(load_checkpoint(path, self.device))
        self.last_checkpoint = path
        return True

    def save_checkpoint(self) -> None:
        self._log(None)  # checks for NaN first: never checkpoint weights a NaN has spoiled
        if self.info.is_main:
            self.last_checkpoint = save_checkpoint(
                self.run_dir / "checkpoints", self.state_dict(), self.step, self.config.train.keep_checkpoints
            )
        if self.info.enabled:
            dist.barrier()

    # -- the loop -------------------------------------------------------------------
    def _elapsed_now(self) -> float:
        return time.monotonic() - self._t0 if hasattr(self, "_t0") else 0.0

    def train_step(self) -> dict[str, torch.Tensor]:
        """One iteration: every optimizer group, ``steps`` times each. Returns detached scalars."""
        scalars: dict[str, torch.Tensor] = {}
        batch = None
        for group, opt, own in zip(self.groups, self.optimizers, self.group_params):
            # Parameters of the other groups need no gradient in this group's backward pass.
            for p in self.all_group_params:
                p.requires_grad_(id(p) in own)
            for _ in range(group.steps):
                if group.fresh_batch or batch is None:
                    batch = next(self.batches)
                with self._autocast():
                    out = self.net(batch, group.name)
                opt.zero_grad(set_to_none=True)
                out[group.name].backward()
                opt.step()
                self.model.on_step_end(group.name)
                for k, v in out.items():
                    scalars[k] = v.detach()
        for p in self.all_group_params:
            p.requires_grad_(True)
        if self.ema:
            self.ema.update(self.model)
        return scalars

    def _flush_scalars(self) -> dict[str, float]:
        """Move the buffered scalars to the host, check them, log their means."""
        if not self._window:
            return {}
        # The optimised losses first (they are what a NaN is reported as), then the logged extras.
        present = {k for _, s in self._window for k in s}
        keys = [g.name for g in self.groups if g.name in present] + sorted(present - {g.name for g in self.groups})
        values = {k: torch.stack([s[k].float() for _, s in self._window if k in s]).tolist() for k in keys}
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
            warning = self.model.health(means)
            self.logger.log(self.step, means, time=round(elapsed, 3), **({"warning": warning} if warning else {}))
            if warning:
                tqdm.write(f"step {self.step}: warning: {warning}", file=sys.stderr)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in list(means.items())[:4]}, refresh=False)

    @torch.no_grad()
    def sample_grid(self, path: Path) -> Path:
        """Samples from the fixed noise (with EMA weights when present), as a PNG."""
        model = self.model
        if self.ema:
            model = get_model_class(self.config.model)(self.config.model_config, self.data.shape, self.data.num_classes)
            model.load_state_dict(self.model.state_dict())
            self.ema.copy_to(model)
            model.to(self.device)
        was_training = model.training
        model.eval()
        g = torch.Generator(device=self.device).manual_seed(self.config.train.seed + 2)
        x = model.sample(self.config.train.grid_size, g, z=self.fixed_z, labels=self.fixed_labels)
        model.train(was_training)
        extra = {} if self.data.is_image else {"reference": self.data.x[:2000], "modes": self.data.modes}
        return save_samples(x, path, **extra)

    def export_model(self) -> Path:
        """Save the trained model (EMA weights when enabled) as RUN/model/."""
        state = self.model.state_dict()
        if self.ema:
            saved = {k: v.clone() for k, v in state.items()}
            self.ema.copy_to(self.model)
        path = self.model.save(self.run_dir / "model")
        if self.ema:
            self.model.load_state_dict(saved)
        return path

    def _request_stop(self, signum, frame) -> None:
        self._stop_reason = signal.Signals(signum).name

    def fit(self) -> Path:
        """Train until ``train.steps`` or ``train.minutes`` is reached (or SIGINT/SIGTERM); return the run folder."""
        tc = self.config.train
        if self.info.is_main:
            (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
            if not (self.run_dir / "config.yaml").exists():
                self.config.save(self.run_dir / "config.yaml")
        self.logger = ScalarLogger(self.run_dir, tc.tensorboard, enabled=self.info.is_main)
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._request_stop)
        self._t0 = time.monotonic()
        deadline = self._t0 + tc.minutes * 60 - self.elapsed_before if tc.minutes else None
        self.model.train()
        bar = tqdm(total=tc.steps, initial=self.step, disable=not self.progress, unit="it", dynamic_ncols=True, file=sys.stderr)
        start_step = self.step
        try:
            while self.step < tc.steps:
                if self._stop_reason or (deadline is not None and time.monotonic() >= deadline):
                    break
                self.model.global_step = self.step
                scalars = self.train_step()
                self.step += 1
                self._window.append((self.step, scalars))
                bar.update(1)
                if self.step % tc.log_every == 0:
                    self._log(bar)
                if self.step % tc.sample_every == 0 and self.info.is_main:
                    self.sample_grid(self.run_dir / "samples" / f"step_{self.step:08d}.png")
                if self.step % tc.checkpoint_every == 0:
                    self.save_checkpoint()
            self._log(bar)
            if self.step != start_step or self.last_checkpoint is None:
                self.save_checkpoint()
            if self.info.is_main:
                self.export_model()
                self.sample_grid(self.run_dir / "samples.png")
        finally:
            bar.close()
            self.logger.close()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        if self._stop_reason and self.info.is_main:
            print(
                f"stopped by {self._stop_reason} at step {self.step}; continue with: genzoo train --resume {self.run_dir}",
                file=sys.stderr,
            )
        return self.run_dir


def train(
    config: RunConfig, out: str | Path = "runs", resume: str | Path | None = None, progress: bool = True
) -> Path:
    """Train ``config`` into a new run folder under ``out`` (or continue run ``resume``); return the folder."""
    info = dist_info()
    if resume is not None:
        run_dir = Path(resume)
    elif info.is_main:
        run_dir = new_run_dir(out, config.model, config.data.name)
    else:
        run_dir = None
    if info.enabled and resume is None:
        trainer_device = select_device(config.train.device, info)
        init_process_group(info, trainer_device)
        box = [str(run_dir) if run_dir else ""]
        dist.broadcast_object_list(box, src=0)
        run_dir = Path(box[0])
    trainer = Trainer(config, run_dir, progress=progress, info=info)
    if resume is not None:
        trainer.resume()
    return trainer.fit()
