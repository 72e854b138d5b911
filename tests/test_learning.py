"""The two classic models learn: numbers asserted, on data small enough for a CPU test."""
import torch

from genzoo.data import load_dataset
from genzoo.train import Trainer
from helpers import run_config


def test_gan_covers_the_modes_of_the_ring(tmp_path):
    # The non-saturating MLP GAN on the PacGAN/VEEGAN ring (8 modes, std 0.01), the standard metric on
    # 2,500 samples; the recipe, the other objectives and the per-seed figures: tests/test_gan_family.py.
    from test_gan_family import RING_BARS, ring_figures

    m = ring_figures("nonsaturating", 0, tmp_path)
    _n_std, modes, hq, kl = RING_BARS["nonsaturating"]
    assert m["modes_covered"] >= modes and m["high_quality_fraction"] >= hq and m["mode_kl"] <= kl, m


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
