"""Fréchet Inception Distance (Heusel et al. 2017) and Kernel Inception Distance (Bińkowski et al. 2018).

FID fits a Gaussian to each set of features and takes the Fréchet (2-Wasserstein) distance

    ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^1/2 S_2 S_1^1/2)^1/2),

with statistics accumulated in float64. KID is the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets, reported with its standard deviation.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GenzooError
from .base import Metric


class FeatureStats:
    """Running float64 mean and covariance of feature vectors (sums, so batches can be merged)."""

    def __init__(self, dim: int | None = None) -> None:
        self.n = 0
        self.dim = dim
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, features: torch.Tensor | np.ndarray) -> None:
        """Add a batch of features (B, D)."""
        f = torch.as_tensor(features).detach().cpu().double()
        if f.dim() != 2:
            raise GenzooError(f"features must be (N, D), got shape {tuple(f.shape)}")
        if self._sum is None:
            self.dim = f.shape[1]
            self._sum = np.zeros(self.dim)
            self._outer = np.zeros((self.dim, self.dim))
        elif f.shape[1] != self.dim:
            raise GenzooError(f"feature dimension changed from {self.dim} to {f.shape[1]}")
        self.n += f.shape[0]
        self._sum += f.sum(0).numpy()
        self._outer += (f.T @ f).numpy()

    @property
    def mean(self) -> np.ndarray:
        return self._sum / self.n

    @property
    def cov(self) -> np.ndarray:
        """The unbiased sample covariance (N - 1 in the denominator)."""
        if self.n < 2:
            raise GenzooError("need at least 2 feature vectors for a covariance")
        mu = self.mean
        return (self._outer - self.n * np.outer(mu, mu)) / (self.n - 1)

    @classmethod
    def from_moments(cls, mean: np.ndarray, cov: np.ndarray, n: int) -> "FeatureStats":
        """Rebuild the running sums from a stored mean and covariance."""
        s = cls(len(mean))
        s.n = int(n)
        s._sum = np.asarray(mean, dtype=np.float64) * n
        s._outer = np.asarray(cov, dtype=np.float64) * (n - 1) + n * np.outer(mean, mean)
        return s


def _sym_sqrt(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    tr((S1 S2)^1/2) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S1^1/2 S2 S1^1/2 (same eigenvalues as S1 S2); unlike a general ``sqrtm`` of S1 S2
    this never produces complex parts or NaNs for singular covariances.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise GenzooError(f"statistics have different shapes: {mu1.shape} vs {mu2.shape}")
    r1 = _sym_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(d, 0.0)  # rounding can leave -1e-12 for identical sets


def fid_from_stats(real: FeatureStats, fake: FeatureStats) -> float:
    """FID between two accumulated feature statistics."""
    return frechet_distance(real.mean, real.cov, fake.mean, fake.cov)


def kid(
    real: torch.Tensor,
    fake: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased MMD^2 over random subsets.

    Each subset draws ``subset_size`` rows (without replacement) from each set; the kernel is
    (x.y / d + 1)^3. Features are (N, D); if a set is smaller than ``subset_size`` the subset
    size shrinks to it.
    """
    x = torch.as_tensor(real).float()
    y = torch.as_tensor(fake).float()
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise GenzooError("KID needs at least 2 samples in each set")
    d = x.shape[1]
    g = torch.Generator().manual_seed(seed)
    values = torch.empty(subsets, dtype=torch.float64)

    def kernel_sums(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Elementwise in float32 (rounding ~1e-7 relative, random, far below the subset spread),
        # sums accumulated in float64 where the unbiased estimate's cancellation happens.
        t = (a @ b.T).div_(d).add_(1)
        t = t * t * t
        return t.sum(dtype=torch.float64), t.diagonal().sum(dtype=torch.float64)

    for s in range(subsets):
        a = x[torch.randperm(x.shape[0], generator=g)[:m]]
        b = y[torch.randperm(y.shape[0], generator=g)[:m]]
        (s_aa, d_aa), (s_bb, d_bb), (s_ab, _) = kernel_sums(a, a), kernel_sums(b, b), kernel_sums(a, b)
        # Unbiased: drop the diagonals of the within-set kernels.
        values[s] = (s_aa - d_aa) / (m * (m - 1)) + (s_bb - d_bb) / (m * (m - 1)) - 2 * s_ab / (m * m)
    std = float(values.std()) if subsets > 1 else 0.0
    return float(values.mean()), std


class FID(Metric):
    """FID as a small object: ``update(real=x)``, ``update(fake=y)``, ``compute()``.

    Pass ``features`` (a FeatureExtractor) to feed images, or None to feed feature vectors.
    ``reference`` may be a precomputed (e.g. cached) FeatureStats for the real side.
    """

    name = "fid"

    def __init__(self, features=None, reference: FeatureStats | None = None) -> None:
        super().__init__(features)
        self.real = reference if reference is not None else FeatureStats()
        self.fake = FeatureStats()

    def _add(self, side: str, f: torch.Tensor) -> None:
        getattr(self, side).update(f)

    def compute(self) -> dict:
        """{"fid": value, "n_real", "n_fake", "feature_network"}."""
        return {
            "fid": fid_from_stats(self.real, self.fake),
            "n_real": self.real.n,
            "n_fake": self.fake.n,
            **self._feature_info(),
        }


class KID(Metric):
    """KID as a small object; keeps the features since subsets are drawn at ``compute()``."""

    name = "kid"

    def __init__(self, features=None, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> None:
        super().__init__(features)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self._store = {"real": [], "fake": []}

    def _add(self, side: str, f: torch.Tensor) -> None:
        self._store[side].append(f.detach().cpu().float())

    def compute(self) -> dict:
        """{"kid": mean, "kid_std": std, "n_real", "n_fake", ...}."""
        real, fake = torch.cat(self._store["real"]), torch.cat(self._store["fake"])
        mean, std = kid(real, fake, self.subsets, self.subset_size, self.seed)
        return {"kid": mean, "kid_std": std, "n_real": len(real), "n_fake": len(fake), **self._feature_info()}
