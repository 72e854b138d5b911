"""A run's folder on disk: its lock, checkpoints, ``latest`` pointer, ``config.yaml`` and exported model.

The trainer runs the loop; everything it keeps on disk goes through :class:`RunFolder`:

- one process per run folder: a second ``train``/``--resume`` on a folder in use stops with
  the holder's pid. The lock is ``flock`` on ``RUN/.lock``, which the kernel releases when the
  holder exits or dies, SIGKILL included, so a crashed run never leaves a stale lock;
- ``--resume`` follows ``checkpoints/latest`` only when it is a regular file naming a
  checkpoint in that folder; anything else stops with what is wrong and what to do, never
  with a silent start from step 0;
- what may change on resume (:data:`RESUMABLE`): budgets, cadence, evaluation, logging,
  device and learning rates; anything else would make the checkpoint continue a different
  run and is refused. Accepted changes are written to ``config.yaml`` with the step they
  took effect at (its ``resumed:`` list);
- ``RUN/model/`` is exported at every checkpoint, so sampling a run killed by SIGKILL or
  stopped by a NaN uses its last good checkpoint.

Every write is atomic (:mod:`genzoo.files`); a failed one names its path and leaves the last
good checkpoint and no temporary file behind.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from pathlib import Path

import torch
import yaml

from ..config import RunConfig, to_dict
from ..errors import GenzooError
from ..files import atomic_write, write_error
from .checkpoint import POINTER, PointerError, checkpoint_files, latest_checkpoint, load_checkpoint, save_checkpoint

LOCK = ".lock"

# Fields a resumed run may change. The rest define what the checkpoint continues (the model,
# its data, the batch and seed, the optimiser and its state); changing them is a new run.
RESUMABLE = {
    "train": frozenset({
        "steps", "minutes",  # budgets
        "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "tensorboard",  # cadence, logging
        "eval_every", "eval_metrics", "eval_n",  # periodic evaluation
        "device", "compile", "data_workers", "micro_batches", "dist_timeout_minutes",  # where and how fast, not what
        "lr_halflife",  # a learning-rate setting, as model.lr is
    }),
    "data": frozenset({"path"}),  # where the raw files are, not which data
}


def resumable(section: str, name: str) -> bool:
    """Whether ``section.name`` may change when a run is resumed (learning rates: ``lr``, ``*_lr``)."""
    if section == "model":
        return name == "lr" or name.endswith("_lr")
    return name in RESUMABLE.get(section, ())


def new_run_dir(out: str | Path, model: str, data: str) -> Path:
    """Create ``out/<model>-<data>-NNN`` with the next free number."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(out, e) from None
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
        except OSError as e:
            raise write_error(path, e) from None


def resume_changes(saved: dict, given: RunConfig, resolved: RunConfig, source: Path, config_file: Path) -> dict:
    """What differs between the checkpoint's config ``saved`` and the one asked for, as
    ``{"train.steps": (old, new)}``; raises a one-line error for a field that may not change.

    ``given`` is the config as asked, ``resolved`` the same with auto/None settings resolved by
    the model; a field is unchanged when either matches (checkpoints before format 2 of the
    saved model config recorded ``null``/``auto``).
    """
    if saved.get("model") != given.model:
        raise GenzooError(f"{source} is a checkpoint of model {saved.get('model')!r}, not {given.model!r}; "
                          "resume a run with its own config, or start a new run")
    now, ran = given.to_dict(), resolved.to_dict()
    changes: dict[str, tuple] = {}
    for section, key in (("model", "model_config"), ("data", "data"), ("train", "train")):
        before = saved.get(key) or {}
        original = _field_defaults(given, key)
        for name, new in now[key].items():
            # A field newer than the checkpoint: what ran is the field's own default.
            old = before[name] if name in before else original.get(name, new)
            if _same(old, new) or _same(old, ran[key][name]):
                continue
            if not resumable(section, name):
                value = json.dumps(ran[key][name])
                raise GenzooError(
                    f"{section}.{name} cannot change when resuming (the run trained with {json.dumps(old)}, asked "
                    f"for {value}); on resume only budgets, cadence, evaluation, logging, device and learning "
                    f"rates may change; for a new run with it: genzoo train --config {config_file} "
                    f"--set {section}.{name}={value}"
                )
            changes[f"{section}.{name}"] = (old, ran[key][name])
    return changes


def _field_defaults(config: RunConfig, key: str) -> dict:
    """The section's fields at their own defaults (its dataclass built with no arguments)."""
    try:
        return to_dict(type(getattr(config, key))())
    except TypeError:  # a section with a required field: no defaults to compare against
        return {}


def _same(a, b) -> bool:
    norm = (lambda v: list(v) if isinstance(v, tuple) else v)
    return norm(a) == norm(b)


class RunFolder:
    """The files of one run: ``config.yaml``, ``checkpoints/``, ``model/``, ``samples/`` and the lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.config_file = self.path / "config.yaml"
        self._lock_fd: int | None = None

    # -- one process per folder ---------------------------------------------------------
    def lock(self) -> None:
        """Hold ``RUN/.lock`` (idempotent); a folder in use by another process is a one-line error."""
        if self._lock_fd is not None:
            return
        path = self.path / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise write_error(path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise write_error(path, e) from None
            pid = self._holder()
            who = f"process {pid}" if pid else "another process"
            stop = f" (kill {pid})" if pid else ""
            raise GenzooError(f"{self.path} is in use by {who} training it; wait for it to end, or stop it{stop} "
                              "and resume") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only a courtesy for the next process's message
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self) -> None:
        self.unlock()

    def _holder(self) -> int | None:
        try:
            text = (self.path / LOCK).read_text()[:32].strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    # -- the latest checkpoint ---------------------------------------------------------
    def _remedy(self) -> str:
        """What the user can do about a run whose ``latest`` cannot be followed."""
        start_over = f"to start over instead, train a new run from its config: genzoo train --config {self.config_file}"
        files = checkpoint_files(self.checkpoints)
        if files:
            return f"to resume from its newest checkpoint: echo {files[-1].name} > {self.checkpoints / POINTER}; {start_over}"
        return start_over

    def latest(self, required: bool = True) -> Path | None:
        """The checkpoint to resume from. Without one: None when not ``required`` and nothing was
        ever saved, else a one-line error that says what is wrong and what to do."""
        pointer = self.checkpoints / POINTER
        try:
            path = latest_checkpoint(self.checkpoints)
        except PointerError as e:
            fix = "remove it, then " if pointer.is_dir() or (pointer.exists() and not pointer.is_file()) else ""
            raise GenzooError(f"{e}; {fix}{self._remedy()}") from None
        if path is None and (required or checkpoint_files(self.checkpoints)):
            what = "the run has no checkpoint to resume from" if not checkpoint_files(self.checkpoints) else \
                "nothing says which checkpoint is the last good one"
            raise GenzooError(f"{pointer} is missing: {what}; {self._remedy()}")
        return path

    def read_checkpoint(self, device: torch.device | str = "cpu", required: bool = True) -> tuple[Path, dict] | None:
        """(path, state) of the latest checkpoint, or None (see :meth:`latest`)."""
        path = self.latest(required)
        if path is None:
            return None
        return path, load_checkpoint(path, device)

    def save_checkpoint(self, state: dict, step: int, keep: int) -> Path:
        return save_checkpoint(self.checkpoints, state, step, keep)

    # -- what a run records ------------------------------------------------------------
    def create(self) -> None:
        """The folder and its ``samples/`` (the main process, before training)."""
        try:
            (self.path / "samples").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(e.filename or self.path, e) from None

    def write_config(self, config: RunConfig, resumed_at: int | None = None, changes: dict | None = None) -> Path:
        """Write ``config.yaml``: the settings that run now; on resume, with a ``resumed:`` entry
        (the step and what changed at it) added to the history of earlier resumes."""
        d = config.to_dict()
        if resumed_at is not None:
            entry: dict = {"step": int(resumed_at)}
            if changes:
                entry["changed"] = {k: {"from": _plain(old), "to": _plain(new)} for k, (old, new) in changes.items()}
            d["resumed"] = self._history() + [entry]
        return atomic_write(self.config_file, yaml.safe_dump(d, sort_keys=False))

    def _history(self) -> list:
        try:
            d = yaml.safe_load(self.config_file.read_text())
        except (OSError, yaml.YAMLError):
            return []
        history = d.get("resumed") if isinstance(d, dict) else None
        return list(history) if isinstance(history, list) else []

    def export_model(self, model, step: int) -> Path:
        """``RUN/model/``: the model's weights, then its config (each file replaced atomically)."""
        return model.save(self.path / "model", extra={"step": int(step)})


def _plain(v):
    return list(v) if isinstance(v, tuple) else v
