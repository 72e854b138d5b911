"""Evaluation entry points: feature network pinning, runs, the floor, the trainer hook."""
from __future__ import annotations

import json
import math

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.metrics import evaluate as ev
from genzoo.metrics.features import LeNet, LeNetFeatures, describe_conditioning, feature_extractor


def _random_lenet(path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(LeNet().state_dict(), str(path))
    return path


def test_lenet_weights_checksum_is_enforced(tmp_path):
    path = _random_lenet(tmp_path / "w.safetensors")
    with pytest.raises(GenzooError, match="sha256"):
        LeNetFeatures(path)  # not the pinned file
    f = LeNetFeatures(path, expected_sha256=None)
    feats, logits = f.extract(torch.rand(7, 3, 32, 32), batch_size=3)  # RGB, other size: converted
    assert feats.shape == (7, 128) and logits.shape == (7, 10)
    assert f.describe()["layer"] == "fc1_preact" and len(f.describe()["hash"]) == 8


def test_inception_is_never_implicit():
    with pytest.raises(GenzooError, match="local weights"):
        feature_extractor("inception")


def test_conditioning_report_counts_dead_units():
    x = torch.randn(500, 6)
    x[:, 2] = 0.0
    out = describe_conditioning(x)
    assert out["dead_units"] == 1 and out["min_eigenvalue"] < 1e-10


def test_parse_metrics():
    assert ev.parse_metrics(None, toy=False) == list(ev.IMAGE_METRICS)
    assert ev.parse_metrics("fid, kid", toy=False) == ["fid", "kid"]
    with pytest.raises(GenzooError, match="unknown metric"):
        ev.parse_metrics("fid,is", toy=False)


# ---------------------------------------------------------------- toy runs (no MNIST needed)


class _RingModel(torch.nn.Module):
    """Samples the 8-Gaussians ring, optionally only every other mode (a mode-dropping 'GAN')."""

    data_shape = (2,)
    num_classes = 0
    conditional = False  # what the evaluation reads of the model contract
    likelihood = None

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = every
        self.w = torch.nn.Parameter(torch.zeros(1))

    def sample(self, n, generator=None):
        from genzoo.data import DataConfig, load_dataset

        ds = load_dataset(DataConfig(name="8gaussians", toy_size=10), "test")
        modes = ds.modes[:: self.every]
        idx = torch.randint(len(modes), (n,), generator=generator)
        return modes[idx] + ds.mode_std * torch.randn(n, 2, generator=generator)


def _toy_run(tmp_path, monkeypatch, model):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text("model: gan\ndata:\n  name: 8gaussians\n")
    monkeypatch.setattr(genzoo, "load", lambda path: model)
    return run


def test_evaluate_toy_run_writes_metrics_json(tmp_path, monkeypatch):
    run = _toy_run(tmp_path, monkeypatch, _RingModel(every=2))
    result = ev.evaluate_run(run, n=2000, progress=False)
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["metrics"]["modes_covered"] == 4 == result["metrics"]["modes_covered"]
    assert saved["floor"]["modes_covered"] == 8  # real points cover every mode
    assert saved["metrics"]["mmd"] > 10 * abs(saved["floor"]["mmd"])
    assert {r["metric"] for r in saved["rows"]} >= {"modes_covered", "high_quality_fraction", "mmd"}
    table = ev.format_table(saved)
    assert "modes_covered" in table and "real-data floor" in table


def test_evaluate_command_dispatches(tmp_path, monkeypatch):
    run = _toy_run(tmp_path, monkeypatch, _RingModel())
    assert ev.evaluate_command(run, n=500, metrics="modes", progress=False)["metrics"]["modes_covered"] == 8
    floor = ev.evaluate_command(real=True, data="8gaussians", n=500, metrics="modes", progress=False)
    assert floor["metrics"]["modes_covered"] == 8
    with pytest.raises(GenzooError, match="neither a run folder"):
        ev.evaluate_command(tmp_path / "missing")


def test_periodic_evaluator_on_toy_data():
    evaluate = ev.make_periodic_evaluator("modes,mmd", n=1000, data="8gaussians")
    good, bad = evaluate(_RingModel(1)), evaluate(_RingModel(4))
    assert good["modes_covered"] == 8 and bad["modes_covered"] == 2
    assert all(isinstance(v, float) and math.isfinite(v) for v in good.values())


# ---------------------------------------------------------------- MNIST (pinned LeNet, real data)


@pytest.fixture
def metrics_cache(tmp_path, monkeypatch):
    import genzoo.metrics.cache as cache

    monkeypatch.setattr(cache, "metrics_cache_dir", lambda: tmp_path / "metrics")
    monkeypatch.setattr(ev, "metrics_cache_dir", lambda: tmp_path / "metrics")
    return tmp_path / "metrics"


def _mnist(split):
    from genzoo.data import DataConfig, load_dataset

    try:
        return load_dataset(DataConfig(name="mnist"), split)
    except GenzooError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"MNIST not available: {e}")


@pytest.mark.mnist
def test_pinned_lenet_accuracy_and_feature_conditioning():
    test = _mnist("test")
    f = feature_extractor("lenet")
    feats, logits = f.extract(test.x)
    assert (logits.argmax(1) == test.y).float().mean() >= 0.993
    cond = describe_conditioning(feats)
    assert cond["dead_units"] == 0 and cond["min_eigenvalue"] > 1e-3 and cond["condition_number"] < 1e6


class _ReplayModel(torch.nn.Module):
    """'Samples' by replaying given images: real images should score near the floor."""

    data_shape = (1, 28, 28)
    num_classes = 0
    conditional = False
    likelihood = None

    def __init__(self, images):
        super().__init__()
        self.images, self.i = images, 0

    def sample(self, n, generator=None):
        out = self.images[self.i : self.i + n]
        self.i += n
        return out


@pytest.mark.mnist
@pytest.mark.slow  # ~20 s on an idle 2-core machine (reference, floor and two evaluations), far more when shared
def test_evaluate_run_real_images_score_near_floor_and_noise_far(tmp_path, monkeypatch, metrics_cache):
    train = _mnist("train")
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text("model: vae\ndata:\n  name: mnist\n")
    # A random subset: contiguous MNIST slices come from different writer groups and are not iid.
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(1))[:2000]
    monkeypatch.setattr(genzoo, "load", lambda path: _ReplayModel(train.x[idx]))
    real = ev.evaluate_run(run, n=2000, progress=False)
    m, floor = real["metrics"], real["floor"]
    assert real["feature_network"]["name"] == "lenet_mnist"
    assert m["fid"] < 1.5 * floor["fid"] and m["precision"] > 0.6 and m["recall"] > 0.6
    assert m["classifier_score"] > 9.0
    monkeypatch.setattr(genzoo, "load", lambda path: _ReplayModel(torch.rand(2000, 1, 28, 28)))
    noise = ev.evaluate_run(run, n=2000, metrics="fid,kid,prdc", progress=False)["metrics"]
    # Uniform noise lands in one tight cluster that a few outlying real points' large k-NN balls
    # can contain, so precision alone does not flag it (Naeem et al.'s motivation for density and
    # coverage); recall and coverage do.
    assert noise["fid"] > 50 * m["fid"] and noise["kid"] > 20 * abs(m["kid"])
    assert noise["recall"] < 0.05 and noise["coverage"] < 0.05 and noise["density"] < m["density"]
    assert list(metrics_cache.glob("*.npz"))  # reference statistics were cached


@pytest.mark.mnist
def test_evaluate_folder_of_pngs(tmp_path, metrics_cache):
    from PIL import Image

    test = _mnist("test")
    for i in range(300):
        Image.fromarray((test.x[i, 0] * 255).round().byte().numpy()).save(tmp_path / f"{i:04d}.png")
    result = ev.evaluate_folder(tmp_path, metrics="fid,classifier_score", progress=False)
    assert result["n"] == 300 and result["metrics"]["classifier_score"] > 7


@pytest.mark.slow  # ~10 s: a 27M-parameter network on a 299x299 input
def test_inception_from_a_local_torchvision_layout_file(tmp_path):
    from safetensors.torch import save_file

    from genzoo.metrics.inception import InceptionV3

    torch.manual_seed(0)
    state = InceptionV3().state_dict()
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)  # torchvision files carry the aux head
    save_file(state, str(tmp_path / "inception.safetensors"))
    f = feature_extractor("inception", tmp_path / "inception.safetensors")
    feats, logits = f.extract(torch.rand(2, 1, 28, 28))
    assert feats.shape == (2, 2048) and logits.shape == (2, 1000)
    assert f.describe()["name"] == "inception_v3" and f.describe()["layer"] == "pool3"
    del state["Mixed_7c.branch_pool.conv.weight"]
    save_file(state, str(tmp_path / "broken.safetensors"))
    with pytest.raises(GenzooError, match="not an Inception-v3"):
        feature_extractor("inception", tmp_path / "broken.safetensors")
