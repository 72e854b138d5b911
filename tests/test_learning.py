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


VAE_BEFORE_BOUND = 40.0  # -ELBO of the untrained VAE is above this
VAE_AFTER_BOUND = 26.0  # and below this after training


def vae_binarized_digits_neg_elbo(tmp_path, seed: int = 0) -> tuple[float, float]:
    """-ELBO (nats, mean of 10 draws) on binarized digits before and after 1500 steps of the default-width VAE."""
    torch.set_num_threads(1)
    cfg = run_config("vae", {"z_dim": 16}, "digits", steps=1500, batch_size=64, seed=seed).override(["data.binarize=static"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    test = load_dataset(cfg.data, "test")
    torch.manual_seed(0)
    with torch.no_grad():
        before = -torch.stack([trainer.model.elbo(test.x) for _ in range(10)]).mean()
    trainer.fit()
    with torch.no_grad():
        after = -torch.stack([trainer.model.elbo(test.x) for _ in range(10)]).mean()
    return float(before), float(after)


def test_vae_reaches_a_stated_elbo_on_binarized_digits(tmp_path):
    # 64 binary pixels per image: -ELBO ~45 nats untrained; the bounds sit outside seeds 0-4 (docs/benchmarks.md).
    before, after = vae_binarized_digits_neg_elbo(tmp_path)
    assert before > VAE_BEFORE_BOUND and after < VAE_AFTER_BOUND, (before, after)
