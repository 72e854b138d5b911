"""User data: a folder of images or a ``.npz`` file, validated as it is read.

Image folders
    Files ending in .png, .jpg, .jpeg, .bmp or .webp (any case). Hidden files (``.DS_Store``,
    ``._x.png``) are skipped; any other file is an error, since a stray file usually means the
    wrong folder. If the folder has sub-folders, each is a class, labelled in sorted order;
    loose images beside class folders are an error. If it has ``train/`` and ``test/``
    sub-folders those are the splits; otherwise every 10th image in sorted path order
    (index 9, 19, ...) is "test" and the rest "train". All images must share a size and a
    channel count (grey or RGB; alpha is dropped) unless ``data.resize`` / ``data.channels``
    are set, in which case each image is converted as it is read.

``.npz`` files
    Read with ``allow_pickle=False``. Array ``x``: uint8 ``(N, H, W)``, ``(N, H, W, C)`` or
    ``(N, C, H, W)`` with C in 1, 3, 4, or float in [0, 1], or float ``(N, 2)`` points;
    optional int ``y`` of class indices 0..K-1 (K <= 10,000, counted over every label array of the
    file). Splits use ``x_train``/``x_test`` (and ``y_...``) when present, else
    the every-10th rule above.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .base import DataConfig, Dataset
from .mnist import uint8_to_dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
TEST_EVERY = 10  # every 10th example (by sorted position) is held out as "test"
MAX_CLASSES = 10_000  # labels of an .npz are class indices below this
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def split_indices(n: int, split: str) -> np.ndarray:
    """Indices of ``split`` under the every-10th rule: test = 9, 19, 29, ...; train = the rest."""
    is_test = (np.arange(n) % TEST_EVERY) == TEST_EVERY - 1
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_images(root: Path, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    """Image files under ``root`` in sorted order, their class indices, and the class names.

    ``classes`` fixes the class list (so train/ and test/ agree even if one lacks a class).
    """
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    classes = classes if classes is not None else [p.name for p in entries if p.is_dir()]
    loose = [p for p in entries if p.is_file()]
    if classes and loose:
        raise DataError(f"{loose[0]} sits beside class folders in {root}; move it into a class folder")
    files, labels = [], []
    for label, folder in enumerate([root / c for c in classes] or [root]):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if not path.is_file() or _hidden(path, root):
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{path} is not an image ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                                "remove it or point data.name at the image folder")
            files.append(path)
            labels.append(label)
    if not files:
        raise DataError(f"empty folder {root}: no {', '.join(sorted(IMAGE_SUFFIXES))} files found")
    return files, labels, classes


def read_image(path: Path, config: DataConfig, expect: tuple[int, int, int] | None, first: Path | None) -> np.ndarray:
    """Decode one image to uint8 (H, W, C), converted per ``config``, and check it matches ``expect``."""
    try:
        with Image.open(path) as im:
            im.load()  # decode fully now, so a truncated file fails here with its name
            channels = config.channels or (1 if im.mode in _GREY_MODES else 3)
            im = im.convert("L" if channels == 1 else "RGB")
            if config.resize is not None:
                im = im.resize((config.resize, config.resize), Image.BILINEAR)  # antialiased when shrinking
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode image {path}: {exc} (truncated or corrupt?)") from exc
    array = np.asarray(im, dtype=np.uint8).reshape(im.height, im.width, channels)
    if expect is not None and array.shape != expect:
        h, w, c = array.shape
        if c != expect[2]:
            raise DataError(f"{path} has {c} channel(s) but {first} has {expect[2]}; "
                            f"convert them all with --set data.channels={expect[2]} (1 = grey, 3 = RGB)")
        raise DataError(f"{path} is {w}x{h} but {first} is {expect[1]}x{expect[0]}; "
                        f"resize them all with --set data.resize=N")
    return array


def split_files(root: Path, config: DataConfig, split: str) -> tuple[list[Path], list[int], list[str]]:
    """The image files of ``split`` (after ``data.limit``), their class indices and the class names."""
    has_splits = (root / "train").is_dir() and (root / "test").is_dir()
    if has_splits:
        classes = sorted(set(_class_folders(root / "train")) | set(_class_folders(root / "test")))
        files, labels, classes = list_images(root / split, classes)
    else:
        files, labels, classes = list_images(root)
    if not has_splits:
        keep = split_indices(len(files), split)
        if len(keep) == 0:
            raise DataError(f"{root} has only {len(files)} images, too few for a {split} split "
                            f"(every {TEST_EVERY}th image is held out); add images or train/ and test/ folders")
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    if config.limit is not None:  # decode only what will be kept
        files, labels = files[: config.limit], labels[: config.limit]
    return files, labels, classes


def load_folder(root: Path, config: DataConfig, split: str) -> Dataset:
    """Load ``split`` of an image folder (see the module docstring for the layout rules)."""
    files, labels, classes = split_files(root, config, split)
    arrays = []
    for path in files:
        arrays.append(read_image(path, config, arrays[0].shape if arrays else None, files[0]))
    images = np.stack(arrays).transpose(0, 3, 1, 2)  # (N, C, H, W)
    ds = uint8_to_dataset(images, np.asarray(labels) if classes else None, root.name, split, str(root),
                          hashlib.sha256(images.tobytes()).hexdigest(), len(classes))
    ds.extra["classes"] = classes
    return ds


def _npz_images(x: np.ndarray, path: Path) -> torch.Tensor:
    """Images from an npz array as float32 (N, C, H, W) in [0, 1], or (N, 2) points."""
    if x.ndim == 2 and np.issubdtype(x.dtype, np.floating) and x.shape[1] == 2:
        if not np.isfinite(x).all():
            raise DataError(f"{path}: x holds NaN or infinite points")
        return torch.from_numpy(x.astype(np.float32))
    if x.ndim == 3 and min(x.shape[1:]) > 0:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3, 4) and min(x.shape[2:]) > 0):
        raise DataError(f"{path}: x has shape {x.shape}; expected (N, H, W), (N, H, W, C), (N, C, H, W) or (N, 2)")
    if x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
    if np.issubdtype(x.dtype, np.floating):
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1 or not np.isfinite([lo, hi]).all():
            raise DataError(f"{path}: float x must lie in [0, 1], found [{lo:g}, {hi:g}]")
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    raise DataError(f"{path}: x has dtype {x.dtype}; expected uint8 or float in [0, 1]")


def load_npz(path: Path, config: DataConfig, split: str) -> Dataset:
    """Load ``split`` of an ``.npz`` file (see the module docstring for the arrays it may hold)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise DataError(f"cannot read {path}: {exc} (pickled object arrays are refused)") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if f"x_{split}" in arrays:
        x, y = arrays[f"x_{split}"], arrays.get(f"y_{split}")
    elif "x" in arrays:
        x, y = arrays["x"], arrays.get("y")
        keep = split_indices(len(x), split)
        x, y = x[keep], (y[keep] if y is not None and len(y) == len(arrays["x"]) else y)
    else:
        raise DataError(f"{path} has arrays {sorted(arrays)}; expected 'x' (and optional 'y') or 'x_{split}'")
    if len(x) == 0:
        raise DataError(f"{path}: no examples for the {split} split")
    images = _npz_images(x, path)
    labels, num_classes = None, 0
    if y is not None:
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise DataError(f"{path}: y must be non-negative integers of shape ({len(x)},), got {y.dtype} {y.shape}")
        # Classes are counted over every label array of the file, so train and test agree.
        every = [a for k, a in arrays.items() if k in ("y", "y_train", "y_test") and a.size
                 and np.issubdtype(a.dtype, np.integer)]
        top = max(int(a.max()) for a in every)
        if top >= MAX_CLASSES:
            raise DataError(f"{path}: label {top} is out of range; labels are class indices 0..K-1 "
                            f"with K <= {MAX_CLASSES}")
        labels, num_classes = torch.from_numpy(y.astype(np.int64)), top + 1
    checksum = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return Dataset(x=images, y=labels, name=path.stem, split=split, source=str(path), checksum=checksum,
                   num_classes=num_classes, levels=256 if x.dtype == np.uint8 else None)


def load_path(config: DataConfig, split: str) -> Dataset:
    """Load a user path: an image folder or a ``.npz`` file."""
    path = Path(config.name).expanduser()
    if path.is_dir():
        return load_folder(path, config, split)
    if path.suffix.lower() == ".npz":
        return load_npz(path, config, split)
    raise DataError(f"{path} is neither an image folder nor a .npz file")
