"""Tests for user data: image folders and .npz files, and the errors that name the bad file."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import DataConfig, load_dataset
from genzoo.errors import DataError


def save(path, size=(6, 5), mode="RGB", seed=0):
    """Write a random image of ``size`` (w, h) and ``mode``; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
    return path


def make_folder(root, n=20, **kwargs):
    for i in range(n):
        save(root / f"img{i:03d}.png", seed=i, **kwargs)
    return root


def test_class_folders_become_sorted_labels(tmp_path):
    for label, name in enumerate(["cat", "ant"]):
        make_folder(tmp_path / name, n=10)
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"\x00junk")  # hidden files are skipped
    train, test = (load_dataset(DataConfig(name=str(tmp_path)), s) for s in ("train", "test"))
    assert train.x.shape == (18, 3, 5, 6) and test.x.shape == (2, 3, 5, 6)
    assert train.num_classes == 2 and train.extra["classes"] == ["ant", "cat"]
    assert torch.bincount(train.y).tolist() == [9, 9] and test.y.tolist() == [0, 1]


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    make_folder(tmp_path / "train" / "a", n=4)
    make_folder(tmp_path / "train" / "b", n=3)
    make_folder(tmp_path / "test" / "b", n=2)
    train, test = (load_dataset(DataConfig(name=str(tmp_path)), s) for s in ("train", "test"))
    assert len(train) == 7 and len(test) == 2 and test.y.tolist() == [1, 1] and test.num_classes == 2


def test_empty_folder(tmp_path):
    (tmp_path / ".hidden").write_text("x")
    with pytest.raises(DataError, match=f"empty folder {tmp_path}"):
        load_dataset(DataConfig(name=str(tmp_path)))


def test_non_image_file_is_named(tmp_path):
    make_folder(tmp_path, n=3)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=f"{tmp_path / 'notes.txt'} is not an image"):
        load_dataset(DataConfig(name=str(tmp_path)))


def test_truncated_png_is_named(tmp_path):
    make_folder(tmp_path, n=12)
    bad = save(tmp_path / "img005.png", size=(64, 64), seed=99)
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    with pytest.raises(DataError, match=f"cannot decode image {bad}"):
        load_dataset(DataConfig(name=str(tmp_path)))


def test_mixed_sizes_name_the_file_and_resize_fixes_them(tmp_path):
    make_folder(tmp_path, n=12)
    odd = save(tmp_path / "img004.png", size=(9, 7))
    with pytest.raises(DataError, match=rf"{odd} is 9x7 but .*img000.png is 6x5.*data\.resize"):
        load_dataset(DataConfig(name=str(tmp_path)))
    ds = load_dataset(DataConfig(name=str(tmp_path), resize=4))
    assert ds.x.shape == (11, 3, 4, 4)


def test_mixed_channels_name_the_file_and_channels_fixes_them(tmp_path):
    make_folder(tmp_path, n=12)
    grey = save(tmp_path / "img003.png", mode="L")
    save(tmp_path / "img006.png", mode="RGBA")  # alpha is dropped: counts as RGB
    with pytest.raises(DataError, match=rf"{grey} has 1 channel\(s\) but .*img000.png has 3.*data\.channels"):
        load_dataset(DataConfig(name=str(tmp_path)))
    for c in (1, 3):
        assert load_dataset(DataConfig(name=str(tmp_path), channels=c)).x.shape == (11, c, 5, 6)


def test_jpeg_and_limit(tmp_path):
    for i in range(15):
        Image.fromarray(np.full((8, 8), i * 10, np.uint8)).save(tmp_path / f"{i:02d}.JPG")
    ds = load_dataset(DataConfig(name=str(tmp_path), limit=5, channels=3))
    assert ds.x.shape == (5, 3, 8, 8) and ds.y is None and ds.num_classes == 0


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW", "float"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (20, 3, 7, 9), dtype=np.uint8)  # (N, C, H, W)
    x = {"NHW": base[:, 0], "NHWC": base.transpose(0, 2, 3, 1), "NCHW": base, "float": base / 255.0}[layout]
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 4)
    train = load_dataset(DataConfig(name=str(tmp_path / "d.npz")))
    c = 1 if layout == "NHW" else 3
    assert train.x.shape == (18, c, 7, 9) and train.x.dtype == torch.float32 and train.num_classes == 4
    expected = torch.from_numpy(base[[i for i in range(20) if i % 10 != 9], :c] / 255.0).float()
    assert torch.allclose(train.x, expected)


def test_npz_explicit_splits_and_points(tmp_path):
    np.savez(tmp_path / "s.npz", x_train=np.zeros((5, 4, 4), np.uint8), x_test=np.ones((2, 4, 4), np.uint8))
    assert len(load_dataset(DataConfig(name=str(tmp_path / "s.npz")), "test")) == 2
    np.savez(tmp_path / "p.npz", x=np.random.default_rng(0).normal(size=(30, 2)))
    assert load_dataset(DataConfig(name=str(tmp_path / "p.npz"))).x.shape == (27, 2)


@pytest.mark.parametrize("bad", ["range", "pickle", "keys", "shape"])
def test_npz_errors_name_the_file(tmp_path, bad):
    path = tmp_path / "bad.npz"
    if bad == "range":
        np.savez(path, x=np.full((10, 4, 4), 2.0))
    elif bad == "pickle":
        np.savez(path, x=np.array([{"a": 1}] * 10, dtype=object))
    elif bad == "keys":
        np.savez(path, images=np.zeros((10, 4, 4), np.uint8))
    else:
        np.savez(path, x=np.zeros((10, 4, 4, 7, 2), np.uint8))
    with pytest.raises(DataError, match=str(path)):
        load_dataset(DataConfig(name=str(path)))
