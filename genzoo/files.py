"""Writing files so that a crash, a full disk or a read-only folder never leaves a half-written one.

:func:`atomic_write` writes to a temporary file beside the target, flushes it to disk (fsync),
renames it into place and fsyncs the folder, so a reader sees the old file or the new one,
never a mixture. When writing fails, the temporary file is removed and a :class:`WriteError`
names the path; the old file is left as it was.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import GenzooError, WriteError


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """The hidden temporary file a write of ``path`` by this process goes through."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def discard(path: Path) -> None:
    """Remove a temporary file if it is there; never raise (it is cleanup after another error)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def write_error(path: str | Path, e: OSError) -> WriteError:
    """One line for a failed write: the path and the system's reason (e.g. no space left)."""
    return WriteError(f"cannot write {path}: {e.strerror or e}")


def atomic_write(path: str | Path, data: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Replace ``path`` by ``data`` (bytes, text, or a function that writes to a binary file) atomically."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        discard(tmp)
        raise write_error(path, e) from None
    except BaseException:  # an interrupt or a serialisation error: still no stray temporary file
        discard(tmp)
        raise
    fsync_dir(path.parent)
    return path


def runs_inside(folder: str | Path, show: int = 3) -> str:
    """The run folders (those holding a config.yaml) directly inside ``folder``, named for a message:
    the first ``show`` and "..." for more; "" when there are none."""
    runs = sorted(p.parent.name for p in Path(folder).glob("*/config.yaml"))
    return ", ".join(runs[:show]) + (", ..." if len(runs) > show else "")


def require_run_folder(path: str | Path) -> Path:
    """``path`` when it is a training run's folder (it holds config.yaml); otherwise a one-line
    GenzooError that names the runs inside it (train's --out folder given for a run) or says it is missing."""
    path = Path(path)
    if (path / "config.yaml").is_file():
        return path
    if inner := runs_inside(path):
        raise GenzooError(f"{path} is not a run folder (no config.yaml) but holds runs: {inner}; name one of them")
    raise GenzooError(f"{path} is not a run folder (no config.yaml)" + ("" if path.is_dir() else ": no such folder"))
