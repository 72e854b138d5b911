"""Fashion-MNIST (Xiao et al., 2017) and CIFAR-10 (Krizhevsky, 2009).

Both are found in ``cache_dir()/<name>/``, then in the directory the user names
(``data.path`` / ``--data-path``), then downloaded into the cache; every file is checked
against the md5 torchvision publishes before it is parsed. Offline, the error is one line
saying which files to put where.

CIFAR-10 is read from the *binary* archive (fixed 3073-byte records: one label byte, then
1024 red, 1024 green and 1024 blue bytes), never the Python version, which is a pickle.
The archive is streamed with ``tarfile.extractfile``; nothing is extracted to disk.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import DataConfig, Dataset, register_dataset
from .download import fetch_files, register_fetcher
from .idx import read_idx
from .mnist import uint8_to_dataset

FASHION_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
FASHION_FILES = {
    "train": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
              "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe"},
    "test": {"t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
             "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
}
FASHION_SIZES = {"train": 60_000, "test": 10_000}

CIFAR_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR_MEMBERS = {
    "train": [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)],
    "test": ["cifar-10-batches-bin/test_batch.bin"],
}
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_PER_FILE = 10_000


@register_fetcher("fashion-mnist")
def fetch_fashion(path: str | None = None) -> list[str]:
    """Make the four Fashion-MNIST IDX files present (verified); return their paths."""
    files = {n: md5 for split in FASHION_FILES.values() for n, md5 in split.items()}
    return [str(p) for p in fetch_files("fashion-mnist", files, FASHION_MIRRORS, path).values()]


@register_dataset("fashion-mnist", "Fashion-MNIST clothing, 60k train / 10k test, 1x28x28")
def load_fashion(config: DataConfig, split: str) -> Dataset:
    """Load one Fashion-MNIST split as float32 (N, 1, 28, 28) in [0, 1]."""
    # all four files, so an offline error lists everything the user has to provide
    found = {Path(p).name: Path(p) for p in fetch_fashion(config.path)}
    image_file, label_file = (found[n] for n in FASHION_FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    n = FASHION_SIZES[split]
    if images.shape != (n, 28, 28) or labels.shape != (n,) or labels.max() > 9:
        raise DataError(f"{image_file}: expected {n} 28x28 images with labels 0..9, got {images.shape}")
    return uint8_to_dataset(images, labels, "fashion-mnist", split, str(image_file),
                            FASHION_FILES[split][image_file.name], 10)


def parse_cifar_records(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Split CIFAR-10 binary records into uint8 images (N, 3, 32, 32) and labels (N,)."""
    if len(data) == 0 or len(data) % CIFAR_RECORD:
        raise DataError(f"{name}: {len(data)} bytes is not a whole number of {CIFAR_RECORD}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].copy()
    if labels.max() > 9:
        raise DataError(f"{name}: label {labels.max()} outside 0..9; not a CIFAR-10 binary batch")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_cifar_archive(archive: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split's batches out of ``cifar-10-binary.tar.gz`` without extracting it."""
    images, labels = [], []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in CIFAR_MEMBERS[split]:
                f = tar.extractfile(member)  # KeyError if absent; None if not a regular file
                if f is None:
                    raise KeyError(member)
                x, y = parse_cifar_records(f.read(), f"{archive}:{member}")
                if len(y) != CIFAR_PER_FILE:
                    raise DataError(f"{archive}:{member} holds {len(y)} records, expected {CIFAR_PER_FILE}")
                images.append(x)
                labels.append(y)
    except KeyError as exc:
        raise DataError(f"{archive} has no member {exc.args[0]}; is it the CIFAR-10 binary version?") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {archive}: {exc}") from exc
    return np.concatenate(images), np.concatenate(labels)


@register_fetcher("cifar10")
def fetch_cifar10(path: str | None = None) -> list[str]:
    """Make ``cifar-10-binary.tar.gz`` present (verified); return its path."""
    return [str(p) for p in fetch_files("cifar10", {CIFAR_ARCHIVE: CIFAR_MD5}, CIFAR_MIRRORS, path).values()]


@register_dataset("cifar10", "CIFAR-10 natural images, 50k train / 10k test, 3x32x32")
def load_cifar10(config: DataConfig, split: str) -> Dataset:
    """Load one CIFAR-10 split as float32 (N, 3, 32, 32) in [0, 1] from the binary archive."""
    archive = Path(fetch_cifar10(config.path)[0])
    images, labels = read_cifar_archive(archive, split)
    return uint8_to_dataset(images, labels, "cifar10", split, str(archive), CIFAR_MD5, 10)

