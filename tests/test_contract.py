"""Every registered model: tiny config -> one training step -> save -> load -> same samples."""
import pytest
import torch

import genzoo
from genzoo.registry import model_names
from genzoo.train import Trainer
from helpers import run_config
from tiny_configs import TINY


def test_every_model_has_a_tiny_config():
    assert set(model_names()) <= set(TINY), f"add to tests/tiny_configs.py: {set(model_names()) - set(TINY)}"


@pytest.mark.parametrize("name", model_names())
def test_train_save_load_sample(name, tmp_path):
    model_cfg, data = TINY[name]
    cfg = run_config(name, model_cfg, data, steps=1)
    trainer = Trainer(cfg, tmp_path, progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "one step changed no weight"
    loaded = genzoo.load(tmp_path)
    # The saved config records the settings that ran: the model's auto/None settings resolved.
    assert type(loaded) is type(trainer.model) and loaded.config == trainer.model.resolved_config()
    trainer.model.eval()
    a = trainer.model.sample(6, torch.Generator().manual_seed(3))
    b = loaded.sample(6, torch.Generator().manual_seed(3))
    assert a.shape == (6, *trainer.data.shape)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    if trainer.data.is_image:
        assert 0 <= float(a.min()) and float(a.max()) <= 1, "image samples must lie in [0, 1]"
    assert (tmp_path / "samples.png").exists() and (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize("name", model_names())
def test_losses_are_finite_scalars_for_every_group(name):
    model_cfg, data = TINY[name]
    cfg = run_config(name, model_cfg, data)
    trainer = Trainer(cfg, "/nonexistent-unused", progress=False)
    batch = next(trainer.batches)
    for group in trainer.groups:
        out = trainer.model.losses(batch, group.name)
        assert group.name in out and out[group.name].dim() == 0 and torch.isfinite(out[group.name])
        assert out[group.name].requires_grad
