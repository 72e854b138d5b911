"""Image folders above train.stream_above_mb stream from disk, in the in-memory stream's order, resumably."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import load_dataset
from genzoo.data.base import DataConfig
from genzoo.train import Trainer
from genzoo.train.sampler import InMemoryBatches
from genzoo.train.streaming import StreamingBatches, plan_streaming
from helpers import run_config

TINY_MB = 1e-4  # any folder streams


@pytest.fixture
def folder(tmp_path):
    """60 random 8x8 grey images in two class folders (54 train, 6 test)."""
    rng = np.random.default_rng(0)
    for i in range(60):
        d = tmp_path / "imgs" / ("a" if i % 2 else "b")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(d / f"{i:03d}.png")
    return tmp_path / "imgs"


def test_small_folders_stay_in_memory(folder):
    assert plan_streaming(DataConfig(name=str(folder)), threshold_mb=1.0) is None


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_in_memory_batches_across_epochs(folder, workers):
    cfg = DataConfig(name=str(folder))
    preview, images = plan_streaming(cfg, TINY_MB)
    data = load_dataset(cfg, "train")
    assert len(images) == len(data) == 54 and preview.shape == data.shape and preview.num_classes == 2
    cpu = torch.device("cpu")
    for rank in (0, 1):  # each rank's slice, too
        streamed = StreamingBatches(images, 16, 5, cpu, rank, 2, workers=workers)
        memory = InMemoryBatches(data, 16, 5, cpu, rank, 2)
        for _ in range(7):  # 3 batches per epoch: crosses two epoch boundaries
            a, b = next(streamed), next(memory)
            assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_streamed_run_resumes_bitwise(folder, tmp_path):
    def cfg(steps):
        return run_config("vae", {"z_dim": 2, "hidden": [8]}, data=str(folder), steps=steps, batch_size=16,
                          stream_above_mb=TINY_MB, data_workers=0).override(["data.binarize=dynamic"])

    straight = Trainer(cfg(5), tmp_path / "a", progress=False)
    assert isinstance(straight.batches, StreamingBatches)
    straight.fit()
    first = Trainer(cfg(2), tmp_path / "b", progress=False)
    first.fit()
    resumed = Trainer(cfg(5), tmp_path / "b", progress=False)
    assert resumed.resume() and resumed.step == 2
    resumed.fit()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
