"""Full-state checkpoints, written so that an interruption at any moment leaves a loadable one.

Each checkpoint is written to a temporary file, flushed to disk (fsync), renamed into place,
and only then does the ``latest`` pointer move (itself replaced atomically). Older
checkpoints are deleted only after that, so ``latest`` always names a complete file. A write
that fails (full disk, read-only folder) removes its temporary file and leaves ``latest`` on
the last good checkpoint. Checkpoints hold only tensors and plain values and load with
``weights_only=True``; the pointer is read only after its file type is checked (a FIFO
would block the reader) and may only name a checkpoint in its own folder.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import torch

from ..errors import GenzooError
from ..files import atomic_write, discard

POINTER = "latest"
NAME = re.compile(r"step_\d{8,}\.pt")
FORMAT_VERSION = 1  # of the checkpoint's dict; a newer one is refused on load


class PointerError(GenzooError):
    """``latest`` cannot be followed: missing, not a file, empty, garbage, or pointing elsewhere."""


def save_checkpoint(directory: str | Path, state: dict, step: int, keep: int = 2) -> Path:
    """Write ``state`` as ``step_XXXXXXXX.pt``, point ``latest`` at it, keep the newest ``keep``."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenzooError(f"cannot write {directory}: {e.strerror or e}") from None
    path = directory / f"step_{step:08d}.pt"
    atomic_write(path, lambda f: torch.save({**state, "format_version": FORMAT_VERSION}, f))
    atomic_write(directory / POINTER, path.name)
    for old in checkpoint_files(directory)[:-keep]:
        if old != path:
            discard(old)
    for stale in directory.glob(".*.tmp*"):  # left by an earlier interrupted write
        if not stale.name.endswith(f"tmp{os.getpid()}"):
            discard(stale)
    return path


def checkpoint_files(directory: str | Path) -> list[Path]:
    """The regular ``step_*.pt`` files in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("step_*.pt") if NAME.fullmatch(p.name) and _is_regular(p))


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The checkpoint ``latest`` points to, or None when there is no pointer (nothing saved yet).

    Raises :class:`PointerError` for a pointer that is not a regular file, is empty, names
    no checkpoint, points outside ``directory``, or names a file that is not there.
    """
    directory = Path(directory)
    pointer = directory / POINTER
    try:
        mode = os.stat(pointer).st_mode  # follows a symlink: its target's type is what a read would meet
    except FileNotFoundError:
        if os.path.lexists(pointer):
            raise PointerError(f"{pointer} is a broken symbolic link") from None
        return None
    except OSError as e:
        raise PointerError(f"cannot read {pointer}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise PointerError(f"{pointer} is a directory, not the checkpoint pointer")
    if not stat.S_ISREG(mode):
        raise PointerError(f"{pointer} is not a regular file (a FIFO, socket or device), not the checkpoint pointer")
    try:
        with open(pointer, "rb") as f:
            raw = f.read(257)
    except OSError as e:
        raise PointerError(f"cannot read {pointer}: {e.strerror or e}") from None
    if not raw.strip():
        raise PointerError(f"{pointer} is empty")
    text = raw[:256].decode("utf-8", "replace").strip()
    if len(raw) > 256 or not NAME.fullmatch(text):
        if "/" in text or "\\" in text or text in (".", ".."):
            raise PointerError(f"{pointer} points outside its folder ({text[:80]!r}); it may only name a step_*.pt there")
        raise PointerError(f"{pointer} does not name a checkpoint (it holds {text[:40]!r})")
    path = directory / text
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise PointerError(f"{pointer} names {text}, which does not exist") from None
    if not stat.S_ISREG(mode):
        raise PointerError(f"{path} is not a regular file")
    if path.is_symlink() and not path.resolve().is_relative_to(directory.resolve().parent):
        raise PointerError(f"{path} is a link that points outside the run folder (to {path.resolve()})")
    return path


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """Load a checkpoint safely (tensors and plain values only); one line if it is not one."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # truncated, garbage, or a pickle that is more than tensors
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise GenzooError(f"cannot read checkpoint {path}: {first}") from None
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise GenzooError(f"{path} is not a genzoo training checkpoint")
    version = state.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise GenzooError(f"{path} was written by a newer genzoo (checkpoint format {version}; this one reads "
                          f"up to {FORMAT_VERSION}): upgrade genzoo to resume it")
    return state
