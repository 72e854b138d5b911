"""Sampling, evaluation and pictures never touch the caller's global RNG, and leave a model in the
train/eval mode they found it in -- for every registered model (tiny config, untrained)."""
from __future__ import annotations

import pytest
import torch

from genzoo.config import from_dict
from genzoo.data import DataConfig, load_dataset
from genzoo.metrics import evaluate as ev
from genzoo.metrics.features import feature_extractor
from genzoo.metrics.nll import evaluate_nll
from genzoo.registry import get_model_class, model_names
from genzoo.viz import inpaint, latent
from tiny_configs import TINY


@pytest.fixture
def metrics_cache(tmp_path, monkeypatch):
    import genzoo.metrics.cache as cache

    monkeypatch.setattr(cache, "metrics_cache_dir", lambda: tmp_path / "metrics")
    monkeypatch.setattr(ev, "metrics_cache_dir", lambda: tmp_path / "metrics")


def _build(name: str):
    cfg, data = TINY[name]
    test = load_dataset(DataConfig(name=data, toy_size=200), "test")
    cls = get_model_class(name)
    torch.manual_seed(0)
    model = cls(from_dict(cls.Config, cfg), test.shape, test.num_classes)
    model.prepare_data(load_dataset(DataConfig(name=data, toy_size=200), "train"))
    return model, data, test


@pytest.mark.parametrize("name", model_names())
def test_sampling_evaluation_and_pictures_leave_rng_and_mode_alone(name, metrics_cache):
    model, data, test = _build(name)
    labels = (torch.arange(12) % test.num_classes) if model.conditional else None
    x, y = test.x[:6], (test.y[:6] if model.conditional else None)
    actions = {
        "sample": lambda: model.sample(4, torch.Generator().manual_seed(1), labels=None if labels is None else labels[:4]),
        "sample_model": lambda: ev.sample_model(model, 12, seed=0, batch_size=5, labels=labels, progress=False),
    }
    if model.is_image:
        extractor = feature_extractor("lenet")
        actions["image metrics"] = lambda: ev.evaluate_features(
            *ev.sample_features(model, 10, extractor, seed=0, batch_size=4, labels=labels[:10] if labels is not None else None,
                                progress=False),
            extractor, data, ["fid", "kid", "prdc"], progress=False, floor=False)
    else:
        actions["toy metrics"] = lambda: ev.evaluate_samples(ev.sample_model(model, 50, progress=False), data,
                                                             "modes,mmd", progress=False, floor=False)
    if model.likelihood:
        actions["nll"] = lambda: evaluate_nll(model, x, k=3, batch_size=4, progress=False, labels=y, levels=test.levels,
                                              binarization="dynamic" if model.is_image else "none")
    if model.is_image and model.latent(1, torch.Generator()) is not None:
        actions["interpolate"] = lambda: latent.interpolate(model, 2, 3, "slerp", torch.Generator().manual_seed(2))
    if model.inpaint:
        label = None if y is None else y[:1]
        actions["inpaint"] = lambda: inpaint.complete(model, x[0], inpaint.region_mask("bottom", tuple(x[0].shape)), 2,
                                                      torch.Generator().manual_seed(3), iterations=2, label=label)
    if model.has_encoder and model.is_image:
        actions["latent traverse"] = lambda: latent.traverse(model, x[:1], steps=3, label=None if y is None else y[:1])
    if model.code_traversal:
        actions["code traversal"] = lambda: latent.code_traversal(model, 0, 3, 2.0, torch.Generator().manual_seed(4))
    for mode in (True, False):
        for what, action in actions.items():
            model.train(mode)
            state = torch.get_rng_state()
            action()
            assert torch.equal(state, torch.get_rng_state()), f"{name}: {what} drew from the global RNG (train={mode})"
            assert model.training is mode, f"{name}: {what} left the model with training={model.training}, not {mode}"
