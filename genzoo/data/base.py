"""The one shape every data source returns, and the registry of sources.

Images are float32 tensors ``(N, C, H, W)`` with values in ``[0, 1]``; toy 2-D data are
float32 ``(N, 2)`` points. Labels, when a source has them, are int64 ``(N,)``.
Models never need to know where the data came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Callable

import torch

from ..config import OneOf, PositiveInt, Range, Satisfies, check_config


MAX_SIDE = 1024  # data.resize: the largest image side
MAX_TOY_POINTS = 10_000_000  # data.toy_size


@dataclass(frozen=True)
class DataConfig:
    """Which data to train or evaluate on, and how to prepare it.

    ``name`` is a registered source (``mnist``, ``digits``, ``8gaussians``...) or a path to an
    image folder or ``.npz`` file.
    """

    name: Annotated[str, Satisfies(bool, "a dataset name or a path")] = "mnist"
    path: str | None = None  # a directory the user names that holds the raw files
    resize: Annotated[int, Range(1, MAX_SIDE)] | None = None  # images resized to resize x resize
    channels: Annotated[int, OneOf(1, 3)] | None = None  # convert images to 1 (grey) or 3 (RGB) channels
    binarize: Annotated[str, OneOf("none", "dynamic", "static")] = "none"  # dynamic: resampled every batch; static: once, seeded
    limit: PositiveInt | None = None  # keep only the first `limit` examples
    toy_size: Annotated[int, Range(1, MAX_TOY_POINTS)] = 100_000  # points generated for toy 2-D data

    def __post_init__(self) -> None:
        check_config(self, "data")


@dataclass
class Dataset:
    """An in-memory dataset: ``x`` (images in [0, 1] or 2-D points), optional labels ``y``."""

    x: torch.Tensor  # (N, C, H, W) float32 in [0, 1], or (N, 2) float32
    y: torch.Tensor | None  # (N,) int64, or None
    name: str
    split: str
    source: str = ""  # where it was read from (a file path, "generated", "scikit-learn")
    checksum: str = ""  # sha256 or md5 of what was read, when there is a file
    num_classes: int = 0  # 0 when unlabelled
    modes: torch.Tensor | None = None  # (K, 2) mode centres for toy data
    mode_std: float = 0.0  # the standard deviation around each mode (toy data)
    # How many evenly spaced values each pixel takes in [0, 1]: 256 for 8-bit images (k / 255), 17 for
    # the scikit-learn digits (k / 16), 2 once binarized; None for continuous data (points, resized
    # or converted images). A likelihood report reads it for the bin width (genzoo.metrics.nll).
    levels: int | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example, e.g. (1, 28, 28) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    def describe(self) -> dict:
        """A JSON-friendly summary: sizes, range, source and checksum."""
        x = self.x
        return {
            "name": self.name,
            "split": self.split,
            "n": len(self),
            "shape": list(self.shape),
            "dtype": str(x.dtype).replace("torch.", ""),
            "range": [float(x.min()), float(x.max())] if len(self) else None,
            "num_classes": self.num_classes,
            "levels": self.levels,
            "source": self.source,
            "checksum": self.checksum,
        }


Loader = Callable[[DataConfig, str], Dataset]
_SOURCES: dict[str, Loader] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_dataset(name: str, description: str = "") -> Callable[[Loader], Loader]:
    """Register ``fn(config, split) -> Dataset`` under ``name``."""

    def wrap(fn: Loader) -> Loader:
        if name in _SOURCES:
            raise ValueError(f"dataset {name!r} registered twice")
        _SOURCES[name] = fn
        _DESCRIPTIONS[name] = description or (fn.__doc__ or "").strip().splitlines()[0]
        return fn

    return wrap


def dataset_names() -> dict[str, str]:
    """Registered dataset names with a one-line description."""
    return dict(sorted(_DESCRIPTIONS.items()))
