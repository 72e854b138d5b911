"""The two classic models learn: numbers asserted, on data small enough for a CPU test."""
import torch

from genzoo.data import load_dataset
from genzoo.metrics.toy import mode_metrics
from genzoo.train import Trainer
from helpers import run_config


def test_gan_covers_the_modes_of_8gaussians(tmp_path):
    torch.set_num_threads(1)
    model = {"z_dim": 2, "g_hidden": [256, 256], "d_hidden": [256, 256], "lr": 2e-4, "betas": [0.5, 0.999]}
    trainer = Trainer(run_config("gan", model, "8gaussians", steps=1500, batch_size=256, log_every=100), tmp_path,
                      progress=False)
    trainer.fit()
    x = trainer.model.sample(2500, torch.Generator().manual_seed(0))
    # A mode counts as covered when it holds at least 1% of the samples within 3 std of it.
    m = mode_metrics(x, trainer.data.modes, trainer.data.mode_std, min_count=25)
    assert m["modes_covered"] >= 6, m
    assert m["high_quality_fraction"] >= 0.2, m


def test_vae_reaches_a_stated_elbo_on_binarized_digits(tmp_path):
    torch.set_num_threads(1)
    cfg = run_config("vae", {"z_dim": 16}, "digits", steps=1500, batch_size=64).override(["data.binarize=static"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    test = load_dataset(cfg.data, "test")
    torch.manual_seed(0)
    with torch.no_grad():
        before = -torch.stack([trainer.model.elbo(test.x) for _ in range(10)]).mean()
    trainer.fit()
    with torch.no_grad():
        after = -torch.stack([trainer.model.elbo(test.x) for _ in range(10)]).mean()
    # Measured: about 45 nats untrained and 23.8 nats after 1500 steps (64 binary pixels per image).
    assert before > 40 and after < 26, (float(before), float(after))
