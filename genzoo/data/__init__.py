"""Datasets: every source returns the same :class:`Dataset` shape.

``load_dataset(DataConfig(name="mnist"), "train")`` dispatches on a registered name, or on
a path to an image folder or ``.npz`` file, then applies the config's ``limit``, ``resize``,
``channels`` and static ``binarize`` in that order. Importing this package registers the
sources; nothing is read or downloaded until a loader is called.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import DataError
from . import digits, mnist, toy2d, vision  # noqa: F401  (imported to register their sources)
from .base import DataConfig, Dataset, dataset_names, register_dataset
from .download import cache_dir, fetcher

__all__ = [
    "DataConfig", "Dataset", "binarize_dynamic", "binarize_static", "cache_dir", "dataset_names", "dataset_size",
    "fetch", "info", "load_dataset", "register_dataset",
]

SPLITS = ("train", "test")
STATIC_BINARIZE_SEEDS = {"train": 0, "test": 1}  # fixed, so "static" is the same set every run
_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as PIL's convert("L")


def _load_raw(config: DataConfig, split: str) -> Dataset:
    if split not in SPLITS:
        raise DataError(f"split must be 'train' or 'test', not {split!r}")
    loader = get_loader(config.name)
    if loader is not None:
        return loader(config, split)
    if Path(config.name).expanduser().exists():
        from .folder import load_path  # only needed for user paths

        return load_path(config, split)
    raise DataError(f"unknown dataset {config.name!r}: not a path, and not one of {', '.join(dataset_names())}")


def get_loader(name: str):
    """The loader registered under ``name``, or None."""
    from .base import _SOURCES  # the registry's table; read-only here

    return _SOURCES.get(name)


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(N, C, H, W)`` images to ``size x size``, bilinear with antialiasing, kept in [0, 1]."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    out = torch.cat([F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True,
                                   align_corners=False) for chunk in x.split(4096)])
    return out.clamp_(0.0, 1.0)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert ``(N, C, H, W)`` images to 1 (luma) or 3 (grey repeated) channels; RGBA drops alpha."""
    if channels not in (1, 3):
        raise DataError(f"data.channels must be 1 or 3, not {channels}")
    c = x.shape[1]
    if c == 4:
        x, c = x[:, :3], 3
    if c == channels:
        return x
    if channels == 3 and c == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c == 3:
        w = torch.tensor(_GREY_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(dim=1, keepdim=True)
    raise DataError(f"cannot convert {c}-channel images to {channels} channels")


def binarize_static(x: torch.Tensor, split: str = "train") -> torch.Tensor:
    """Bernoulli(x) drawn once with the fixed seed for ``split`` (train 0, test 1)."""
    g = torch.Generator().manual_seed(STATIC_BINARIZE_SEEDS.get(split, 0))
    return torch.bernoulli(x, generator=g)


def binarize_dynamic(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Bernoulli(x): a fresh binarisation of a batch; the trainer calls it every step."""
    return torch.bernoulli(x, generator=generator)


def load_dataset(config: DataConfig, split: str = "train") -> Dataset:
    """Load ``split`` ("train" or "test") of ``config.name`` and prepare it as the config says."""
    ds = _load_raw(config, split)
    if config.limit is not None:
        if config.limit < 1:
            raise DataError(f"data.limit must be positive, not {config.limit}")
        ds.x = ds.x[: config.limit]
        ds.y = ds.y[: config.limit] if ds.y is not None else None
    if ds.is_image:
        if config.resize is not None and tuple(ds.x.shape[-2:]) != (config.resize, config.resize):
            ds.x = resize_images(ds.x, config.resize)
            ds.levels = None  # interpolated values fall between the levels
        if config.channels is not None:
            grey_from_colour = config.channels == 1 and ds.x.shape[1] in (3, 4)
            ds.x = convert_channels(ds.x, config.channels)
            ds.levels = None if grey_from_colour else ds.levels  # luma is a weighted mean
        if config.binarize == "static":
            ds.x = binarize_static(ds.x, split)
            ds.levels = 2
    elif config.resize is not None or config.channels is not None or config.binarize == "static":
        raise DataError(f"{config.name} is 2-D point data: data.resize, data.channels and "
                        "data.binarize=static apply to images only")
    ds.extra["binarize"] = config.binarize
    return ds


def dataset_size(config: DataConfig, split: str = "train") -> tuple[int, tuple[int, ...], int]:
    """The number of examples of ``split``, the shape of one as ``load_dataset`` would prepare it, and
    the number of classes, without preparing the data: an image folder is counted (one image
    decoded), nothing is resized."""
    root = Path(config.name).expanduser()
    if get_loader(config.name) is None and root.is_dir():
        from .folder import read_image, split_files

        files, _, classes = split_files(root, config, split)
        h, w, c = read_image(files[0], config, None, None).shape  # after the config's resize and channels
        return len(files), (c, h, w), len(classes)
    raw = _load_raw(dataclasses.replace(config, resize=None, channels=None), split)
    n = len(raw) if config.limit is None else min(len(raw), config.limit)
    shape = raw.shape
    if raw.is_image:
        c, h, w = shape
        size = (config.resize, config.resize) if config.resize is not None else (h, w)
        shape = (config.channels or (3 if c == 4 else c), *size)
    return n, shape, raw.num_classes


def fetch(name: str, path: str | None = None) -> list[str]:
    """Make dataset ``name`` present in the cache (downloading once); return its files.

    Generated and bundled data (toy 2-D, digits) have no files and return []; a path is
    checked by loading it.
    """
    fn = fetcher(name)
    if fn is not None:
        return fn(path)
    if get_loader(name) is None:
        load_dataset(DataConfig(name=name, path=path), "train")  # raises the usual errors
        return [str(Path(name).expanduser())]
    return []


def info(name: str, path: str | None = None) -> dict:
    """Per split: size, example shape, value range, number of classes, source and checksum."""
    config = DataConfig(name=name, path=path)
    return {"name": name, "splits": {split: load_dataset(config, split).describe() for split in SPLITS}}
