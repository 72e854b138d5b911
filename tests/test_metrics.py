"""Correctness tests of the metric maths against independent computations (no data needed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from genzoo.metrics.classifier import classifier_score, label_accuracy
from genzoo.metrics.fid import FID, KID, FeatureStats, frechet_distance, kid
from genzoo.metrics.nll import bits_per_dim, evaluate_nll, iwae_log_likelihood
from genzoo.metrics.prdc import PRDC, prdc
from genzoo.metrics.toy import mmd, mode_metrics


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# ---------------------------------------------------------------- FID


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(2000, 16, generator=torch.Generator().manual_seed(0))
    m = FID()
    m.update(real=x[:1000], fake=x)
    m.update(real=x[1000:])
    assert m.compute()["fid"] == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_closed_form_diagonal():
    # For commuting (diagonal) covariances: |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = 1 + 0 + 9 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 0.5) ** 2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    rng = np.random.default_rng(1)
    d = 20
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_finite_for_singular_covariances():
    rng = np.random.default_rng(2)
    v = rng.standard_normal((10, 3))
    s1, s2 = v @ v.T, (v + 0.1) @ (v + 0.1).T  # rank 3 in 10-d
    d = frechet_distance(np.zeros(10), s1, np.zeros(10), s2)
    assert np.isfinite(d) and d >= 0


def test_fid_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(3)
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    m = FID()
    m.update(real=torch.from_numpy(x), fake=torch.from_numpy(y))
    assert m.compute()["fid"] == pytest.approx(frechet_distance(mu1, s1, mu2, s2), abs=0.02)


def test_feature_stats_match_numpy_and_round_trip():
    x = np.random.default_rng(4).standard_normal((500, 7)) * 3 + 1
    s = FeatureStats()
    for chunk in np.array_split(x, 6):
        s.update(torch.from_numpy(chunk).float())
    np.testing.assert_allclose(s.mean, x.astype(np.float32).mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.cov, np.cov(x.astype(np.float32), rowvar=False), rtol=1e-5, atol=1e-5)
    r = FeatureStats.from_moments(s.mean, s.cov, s.n)
    np.testing.assert_allclose(r.cov, s.cov, rtol=1e-10)


# ---------------------------------------------------------------- KID


def _mmd2_unbiased_numpy(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kern = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    n, m = len(x), len(y)
    kxx, kyy, kxy = kern(x, x), kern(y, y), kern(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def test_kid_one_full_subset_matches_numpy():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.3
    mean, std = kid(torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=300)
    assert mean == pytest.approx(_mmd2_unbiased_numpy(x, y), rel=1e-4)
    assert std == 0.0


def test_kid_is_unbiased_near_zero_for_the_same_distribution_and_positive_otherwise():
    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(3000, 16, generator=g), torch.randn(3000, 16, generator=g)
    m = KID(subsets=50, subset_size=500)
    m.update(real=x, fake=y)
    same = m.compute()
    assert abs(same["kid"]) < 3 * same["kid_std"]
    far, _ = kid(x, y + 0.5, subsets=20, subset_size=500)
    assert far > 10 * same["kid_std"]


# ---------------------------------------------------------------- PRDC


def _prdc_numpy(x: np.ndarray, y: np.ndarray, k: int) -> dict:
    """Textbook PRDC with full float64 distance matrices (Naeem et al. 2020, Algorithm 1)."""
    dxx, dyy, dxy = cdist(x, x), cdist(y, y), cdist(x, y)  # dxy: (real, fake)
    rx = np.sort(dxx, axis=1)[:, k]
    ry = np.sort(dyy, axis=1)[:, k]
    return {
        "precision": (dxy <= rx[:, None]).any(axis=0).mean(),
        "recall": (dxy <= ry[None, :]).any(axis=1).mean(),
        "density": (dxy <= rx[:, None]).sum(axis=0).mean() / k,
        "coverage": (dxy.min(axis=1) <= rx).mean(),
    }


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_brute_force(k):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((600, 10)), rng.standard_normal((500, 10)) * 1.2 + 0.2
    got = prdc(torch.from_numpy(x), torch.from_numpy(y), k_pr=k, k_dc=k, chunk=128)
    want = _prdc_numpy(x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64), k)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=2e-3), key  # float32 ties may flip a point


def test_prdc_separate_k_for_pr_and_dc():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((400, 5)), rng.standard_normal((400, 5)) + 0.5
    got = prdc(torch.from_numpy(x), torch.from_numpy(y), k_pr=3, k_dc=5)
    p3, p5 = _prdc_numpy(x, y, 3), _prdc_numpy(x, y, 5)
    assert got["precision"] == pytest.approx(p3["precision"], abs=3e-3)
    assert got["recall"] == pytest.approx(p3["recall"], abs=3e-3)
    assert got["density"] == pytest.approx(p5["density"], abs=3e-3)
    assert got["coverage"] == pytest.approx(p5["coverage"], abs=3e-3)


def test_prdc_reference_numbers_for_gaussians_in_1000d():
    # The reference (Naeem et al.'s prdc package): 10k vs 10k samples of N(0, I) in 1000-d, k=5
    # give about 0.477 / 0.471 / 1.056 / 0.974. Across seeds precision and recall move by ~0.02
    # and density by ~0.1, so the tolerances are set to that spread.
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10_000, 1000, generator=g), torch.randn(10_000, 1000, generator=g)
    m = PRDC(k_pr=5, k_dc=5)
    m.update(real=x, fake=y)
    got = m.compute()
    assert got["precision"] == pytest.approx(0.477, abs=0.03)
    assert got["recall"] == pytest.approx(0.471, abs=0.03)
    assert got["density"] == pytest.approx(1.056, abs=0.12)
    assert got["coverage"] == pytest.approx(0.974, abs=0.015)


def test_prdc_of_identical_sets_is_perfect():
    x = torch.randn(300, 4, generator=torch.Generator().manual_seed(9))
    got = prdc(x, x)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    assert got["density"] >= 1.0


# ---------------------------------------------------------------- classifier score


def test_classifier_score_bounds():
    uniform = torch.zeros(1000, 10)
    assert classifier_score(uniform, splits=10)[0] == pytest.approx(1.0, abs=1e-9)
    confident = torch.full((1000, 10), -1e4)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 0.0
    assert classifier_score(confident, splits=10)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = torch.full((1000, 10), -1e4)
    one_class[:, 3] = 0.0
    assert classifier_score(one_class)[0] == pytest.approx(1.0, abs=1e-6)


def test_label_accuracy_per_label():
    logits = torch.eye(3)[[0, 1, 2, 0, 0, 2]] * 5
    labels = torch.tensor([0, 1, 2, 1, 0, 1])
    out = label_accuracy(logits, labels)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["per_label"] == {0: 1.0, 1: pytest.approx(1 / 3), 2: 1.0}


# ---------------------------------------------------------------- toy metrics


def _ring(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    t = torch.arange(k) * 2 * math.pi / k
    return torch.stack([radius * torch.cos(t), radius * torch.sin(t)], 1)


def _sample(modes: torch.Tensor, n: int, std: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(modes), (n,), generator=g)
    return modes[idx] + std * torch.randn(n, 2, generator=g)


def test_mode_metrics_all_modes_vs_half_the_modes():
    modes, std = _ring(), 0.02
    all_modes = mode_metrics(_sample(modes, 4000, std, 0), modes, std)
    assert all_modes["modes_covered"] == 8
    assert all_modes["high_quality_fraction"] > 0.98
    assert all_modes["mode_kl"] < 0.01
    half = mode_metrics(_sample(modes[::2], 4000, std, 1), modes, std)
    assert half["modes_covered"] == 4
    assert half["mode_kl"] == pytest.approx(math.log(2), abs=0.01)
    far = mode_metrics(torch.zeros(100, 2), modes, std)  # all at the centre: no quality
    assert far["modes_covered"] == 0 and far["high_quality_fraction"] == 0.0


def test_mmd_separates_all_modes_from_half():
    modes, std = _ring(), 0.05
    real = _sample(modes, 1000, std, 2)
    same = mmd(real, _sample(modes, 1000, std, 3))
    half = mmd(real, _sample(modes[::2], 1000, std, 4))
    assert abs(same) < 0.005
    assert half > 20 * max(abs(same), 1e-4)


# ---------------------------------------------------------------- likelihood


class _LinearGaussian:
    """p(z) = N(0, 1), p(x|z) = N(z, 1), q(z|x) = N(x/2, 1): log p(x) = log N(x; 0, 2) exactly."""

    likelihood = "density-bound"

    @staticmethod
    def _log_normal(v, mu, var):
        return -0.5 * (math.log(2 * math.pi * var) + (v - mu) ** 2 / var)

    def log_importance_weights(self, x, k, generator=None):
        x = x.flatten(1)[:, :1].double()  # (B, 1)
        z = x / 2 + torch.randn(x.shape[0], k, dtype=torch.float64, generator=generator)  # (B, k)
        return self._log_normal(z, 0, 1) + self._log_normal(x, z, 1) - self._log_normal(z, x / 2, 1)

    def exact(self, x):
        return self._log_normal(x.flatten(1)[:, 0].double(), 0, 2)


def test_iwae_tightens_towards_the_exact_likelihood():
    torch.manual_seed(0)
    model = _LinearGaussian()
    x = torch.linspace(-2, 2, 64).reshape(64, 1, 1, 1)
    exact = model.exact(x)
    elbo = model.log_importance_weights(x, 2000).mean(1)
    iwae_5000 = iwae_log_likelihood(model, x, k=5000, k_chunk=700)  # uneven chunks on purpose
    assert (elbo < exact).all()  # q is not the posterior N(x/2, 1/2), so the ELBO has a gap
    assert float((iwae_5000 - exact).abs().mean()) < 0.01
    assert torch.allclose(iwae_5000, exact, atol=0.04)
    gap_elbo = float((exact - elbo).mean())
    gap_iwae = float((exact - iwae_5000).mean())
    assert gap_iwae < gap_elbo / 10


def test_evaluate_nll_exact_and_bits_per_dim():
    class Exact:
        likelihood = "discrete"

        def log_prob(self, x):  # uniform Bernoulli(0.5) per pixel
            return torch.full((x.shape[0],), -x[0].numel() * math.log(2))

    x = torch.rand(30, 1, 4, 4)
    out = evaluate_nll(Exact(), x, batch_size=7, progress=False)
    assert out["nll_method"] == "exact"
    assert out["nll"] == pytest.approx(16 * math.log(2))
    assert out["nll_bits_per_dim"] == pytest.approx(1.0)
    assert out["binarization"].startswith("dynamic")
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_evaluate_nll_iwae_records_k_and_elbo():
    x = torch.rand(20, 1, 1, 1)
    out = evaluate_nll(_LinearGaussian(), x, k=50, batch_size=8, binarization="none", progress=False)
    assert out["nll_method"].startswith("iwae_k50 bound on a density (continuous") and out["k"] == 50  # points
    assert out["neg_elbo"] > out["nll"]


class _Gaussian:
    """A diagonal Gaussian density N(mu, s^2) per dimension, declared as a density."""

    likelihood = "density"

    def __init__(self, mu: float, s: float):
        self.mu, self.s = mu, s

    def log_prob(self, x):
        return (-0.5 * (math.log(2 * math.pi * self.s**2) + (x.double() - self.mu) ** 2 / self.s**2)).flatten(1).sum(1)


def test_dequantised_density_matches_the_hand_computation():
    """-log P(x) <= E_u[-log p(x + u)] + D log(L - 1), u ~ U[-D/2, D/2)^D with D = 1/(L - 1). For a
    Gaussian, E_u[(x + u - mu)^2] = (x - mu)^2 + Delta^2 / 12, so the expectation is closed-form."""
    levels, mu, s = 17, 0.3, 0.05  # the digits' 17 levels; a narrow Gaussian, as a GMM fits a flat pixel
    g = torch.Generator().manual_seed(0)
    x = torch.randint(levels, (4000, 1, 2, 2), generator=g).double() / (levels - 1)  # values k / 16
    delta, dims = 1 / (levels - 1), 4
    per_example = (0.5 * math.log(2 * math.pi * s**2) + ((x - mu) ** 2 + delta**2 / 12) / (2 * s**2)).flatten(1).sum(1)
    hand = float(per_example.mean()) + dims * math.log(levels - 1)
    out = evaluate_nll(_Gaussian(mu, s), x, batch_size=1000, binarization="none", progress=False, levels=levels)
    assert out["nll"] == pytest.approx(hand, abs=4 * out["nll_se"])  # one u per example: a Monte Carlo estimate
    assert out["nll_bits_per_dim"] == pytest.approx(out["nll"] / (dims * math.log(2)))
    assert out["nll_density"] == pytest.approx(out["nll"] - dims * math.log(16))
    assert out["bin_width"] == 1 / 16 and "dequantised" in out["nll_method"] and "1/16" in out["nll_method"]
    # Without dequantisation the narrow density "beats" any discrete model: -log p(x) < 0 at its mode.
    assert float(-_Gaussian(mu, s).log_prob(torch.full((1, 1, 2, 2), mu)).item()) < 0 < out["nll"]


def test_the_bin_term_is_exact_and_levels_unknown_means_a_plain_density():
    class Flat:  # log p = c everywhere, so the dequantised figure is -c + D log(L - 1) exactly
        likelihood = "density"

        def log_prob(self, x):
            return torch.full((x.shape[0],), 1.5, dtype=torch.float64)

    x = torch.zeros(10, 1, 2, 3)
    out = evaluate_nll(Flat(), x, binarization="none", progress=False, levels=256)
    assert out["nll"] == pytest.approx(-1.5 + 6 * math.log(255))
    assert out["nll_bits_per_dim"] == pytest.approx(out["nll"] / (6 * math.log(2)))
    binary = evaluate_nll(Flat(), x, binarization="dynamic", progress=False, levels=256)  # binarized: 2 levels
    assert binary["levels"] == 2 and binary["nll"] == pytest.approx(-1.5)  # a cell of width 1: log 1 = 0
    points = evaluate_nll(Flat(), torch.zeros(10, 2), binarization="none", progress=False, levels=None)
    assert points["nll"] == pytest.approx(-1.5) and points["nll_bits_per_dim"] is None
    assert "not a discrete NLL" in points["nll_method"]


def test_a_gaussian_mixture_on_digits_reports_a_dequantised_nll(tmp_path, capsys):
    """The case of issue 10: a diagonal GMM on the 17-level digits reported -99.5 nats labelled exact."""
    import json

    from genzoo.cli import main

    assert main(["train", "gmm", "--data", "digits", "--steps", "20", "--out", str(tmp_path), "--no-progress",
                 "--set", "train.tensorboard=false"]) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["evaluate", run, "--metrics", "nll", "--no-progress"]) == 0
    assert "dequantised: an upper bound on a discrete NLL" in capsys.readouterr().out
    nll = json.loads((tmp_path / "gmm-digits-001" / "metrics.json").read_text())["nll"]
    assert nll["levels"] == 17 and nll["bin_width"] == 1 / 16 and nll["likelihood"] == "density"
    assert nll["nll"] > 0  # an upper bound on -log P(x) of a discrete distribution is never negative
    assert nll["nll"] == pytest.approx(nll["nll_density"] + 64 * math.log(16))
