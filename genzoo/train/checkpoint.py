"""Full-state checkpoints, written so that an interruption at any moment leaves a loadable one.

Each checkpoint is written to a temporary file, flushed to disk (fsync), renamed into place,
and only then does the ``latest`` pointer move (itself replaced atomically). Older
checkpoints are deleted only after that, so ``latest`` always names a complete file.
Checkpoints hold only tensors and plain values and load with ``weights_only=True``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import GenzooError

POINTER = "latest"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def save_checkpoint(directory: str | Path, state: dict, step: int, keep: int = 2) -> Path:
    """Write ``state`` as ``step_XXXXXXXX.pt``, point ``latest`` at it, keep the newest ``keep``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step_{step:08d}.pt"
    _atomic_write(path, lambda f: torch.save(state, f))
    _atomic_write(directory / POINTER, lambda f: f.write(path.name.encode()))
    for old in sorted(directory.glob("step_*.pt"))[:-keep]:
        if old != path:
            old.unlink(missing_ok=True)
    for stale in directory.glob(".*.tmp*"):  # left by an earlier interrupted write
        if not stale.name.endswith(f"tmp{os.getpid()}"):
            stale.unlink(missing_ok=True)
    return path


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The checkpoint ``latest`` points to, or None if no checkpoint was written yet."""
    directory = Path(directory)
    pointer = directory / POINTER
    if not pointer.exists():
        return None
    path = directory / pointer.read_text().strip()
    if not path.exists():
        raise GenzooError(f"{pointer} names {path.name}, which does not exist")
    return path


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """Load a checkpoint safely (tensors and plain values only)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise GenzooError(f"cannot read checkpoint {path}: {e}") from None
