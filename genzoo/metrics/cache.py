"""Reference (real-data) features and statistics, cached per dataset, split, subset and feature network.

Files live in ``<cache dir>/metrics/`` (the cache dir is ``$GENZOO_DATA`` or ``~/.cache/genzoo``)
as ``.npz`` with the features (float32, for KID/PRDC), mean and covariance (float64, for FID),
class logits, and the sha256 of the data they came from: a cache entry whose data checksum no
longer matches is recomputed, so a changed dataset never silently reuses old statistics.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .features import FeatureExtractor
from .fid import FeatureStats


def metrics_cache_dir() -> Path:
    """``<cache dir>/metrics``: where reference statistics are kept."""
    from ..data import cache_dir

    return cache_dir() / "metrics"


@dataclass
class Reference:
    """Real-data features of one dataset split, with their float64 statistics."""

    features: torch.Tensor  # (N, D) float32
    logits: torch.Tensor | None  # (N, K) or None
    stats: FeatureStats
    info: dict  # data name, split, n, subset seed, checksum, feature network

    @classmethod
    def from_features(cls, features: torch.Tensor, logits: torch.Tensor | None, info: dict) -> "Reference":
        stats = FeatureStats()
        stats.update(features)
        return cls(features.float(), logits, stats, info)


def select_subset(n_total: int, n: int | None, seed: int) -> torch.Tensor | None:
    """Indices of a seeded random subset of size ``n`` (None: use everything)."""
    if n is None or n >= n_total:
        return None
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def reference(
    extractor: FeatureExtractor,
    data: str = "mnist",
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    use_cache: bool = True,
    progress: bool = True,
) -> Reference:
    """Features of (a seeded subset of ``n`` images of) ``data``/``split``, from the cache if valid."""
    from ..data import DataConfig, load_dataset

    ds = load_dataset(DataConfig(name=data), split)
    idx = select_subset(len(ds), n, seed)
    n_used = len(ds) if idx is None else len(idx)
    subset = "all" if idx is None else f"n{n_used}-seed{seed}"
    safe_data = "".join(c if c.isalnum() or c in "-_" else "_" for c in data)
    path = metrics_cache_dir() / f"{safe_data}-{split}-{subset}-{extractor.id}.npz"
    info = {
        "data": data, "split": split, "n": n_used, "subset_seed": None if idx is None else seed,
        "data_checksum": ds.checksum, "feature_network": extractor.describe(),
    }
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            stored = json.loads(str(z["info"]))
            if stored == info:
                logits = torch.from_numpy(z["logits"]) if z["logits"].size else None
                stats = FeatureStats.from_moments(z["mean"], z["cov"], int(z["n"]))
                return Reference(torch.from_numpy(z["features"]), logits, stats, info)
    x = ds.x if idx is None else ds.x[idx]
    feats, logits = extractor.extract(x, progress=progress, desc=f"features {data}/{split}")
    ref = Reference.from_features(feats, logits, info)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp, features=feats.numpy(), logits=logits.numpy() if logits is not None else np.zeros(0),
            mean=ref.stats.mean, cov=ref.stats.cov, n=ref.stats.n, info=json.dumps(info),
        )
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return ref
