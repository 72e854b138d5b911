"""scikit-learn's copy of the UCI optical digits (Alpaydin & Kaynak, 1998): 1797 8x8 images.

Pixel counts 0..16 become float32 in [0, 1] by /16. The split is fixed: the first 1500
images are "train", the last 297 "test" (the file's order, which is stable across versions).
Small enough to train a model in seconds on a CPU; ``data.resize`` upsamples it when a model
needs larger images.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..errors import DataError
from .base import DataConfig, Dataset, register_dataset

N_TRAIN = 1500
N_TOTAL = 1797
LEVELS = 17  # pixel counts 0..16: values k / 16, not 8-bit


@register_dataset("digits", "scikit-learn 8x8 digits, 1500 train / 297 test, 1x8x8")
def load_digits(config: DataConfig, split: str) -> Dataset:
    """Load the scikit-learn digits (bundled with the package, no download) as (N, 1, 8, 8)."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as exc:
        raise DataError("the digits dataset needs scikit-learn: pip install scikit-learn") from exc
    bunch = sk_load_digits()
    images, labels = np.asarray(bunch.images), np.asarray(bunch.target)
    if images.shape != (N_TOTAL, 8, 8) or images.min() < 0 or images.max() > 16:
        raise DataError(f"scikit-learn digits have unexpected shape {images.shape} or range")
    part = slice(0, N_TRAIN) if split == "train" else slice(N_TRAIN, N_TOTAL)
    x = torch.from_numpy(images[part].astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(labels[part].astype(np.int64))
    checksum = hashlib.sha256(images[part].astype(np.uint8).tobytes()).hexdigest()
    return Dataset(x=x, y=y, name="digits", split=split, source="scikit-learn", checksum=checksum, num_classes=10,
                   levels=LEVELS)
