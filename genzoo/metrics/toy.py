"""Metrics for 2-D toy data with known modes (rings and grids of Gaussians).

The standard mode-collapse metric of the 2-D mixtures, as VEEGAN (Srivastava et al. 2017)
defines it and PacGAN (Lin et al. 2018, Table 1) uses it, on 2,500 generated samples
(``genzoo evaluate`` draws 2,500 for toy runs):

- a sample is *high quality* when it lies within 3 standard deviations of its nearest mode
  (Euclidean distance / std <= 3, the modes being isotropic with one std);
- a mode is *covered* ("captured") when at least one high-quality sample has it as nearest mode
  (VEEGAN: "the number of mixture components whose mean is nearest to at least one high quality
  sample"; the PacGAN authors' metric code counts modes with a non-zero high-quality count);
- ``mode_kl`` is PacGAN's *reverse KL*: KL(p || uniform) = sum_k p_k log(K p_k) of the histogram
  p of the high-quality samples over the K modes (the authors' code builds the histogram from the
  high-quality samples only); 0 when they are spread evenly, log K when all sit on one mode.

``min_count`` > 1 is a stricter coverage rule for tests (a mode then needs that many samples).
A kernel MMD with a Gaussian kernel compares the samples to real data without knowing the modes.
"""
from __future__ import annotations

import math

import torch

from ..errors import GenzooError
from .base import Metric


def mode_metrics(samples: torch.Tensor, modes: torch.Tensor, std: float, n_std: float = 3.0,
                 min_count: int = 1) -> dict:
    """Modes covered, fraction of high-quality samples, and the reverse KL of the mode histogram.

    ``samples`` (N, 2), ``modes`` (K, 2), ``std`` the per-mode standard deviation. The defaults
    (``n_std=3``, ``min_count=1``) give the VEEGAN/PacGAN metric of the module docstring;
    ``mode_kl`` = KL(high-quality histogram || uniform), log K when no sample is high quality.
    """
    x = torch.as_tensor(samples).double()
    mu = torch.as_tensor(modes).double()
    if x.dim() != 2 or mu.dim() != 2 or x.shape[1] != mu.shape[1]:
        raise GenzooError(f"samples {tuple(x.shape)} and modes {tuple(mu.shape)} must be (N, D), (K, D)")
    if std <= 0:
        raise GenzooError("mode std must be positive")
    d = torch.cdist(x, mu)  # (N, K)
    dist, nearest = d.min(dim=1)
    hq = dist <= n_std * std
    counts = torch.bincount(nearest[hq], minlength=mu.shape[0]).double()  # (K,)
    k = mu.shape[0]
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        mode_kl = float((p[nz] * torch.log(p[nz] * k)).sum())
    else:
        mode_kl = math.log(k)
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "modes_total": k,
        "high_quality_fraction": float(hq.double().mean()),
        "mode_kl": mode_kl,
    }


def median_bandwidth(x: torch.Tensor, y: torch.Tensor, max_points: int = 2000) -> float:
    """The median pairwise distance of the pooled samples (the usual kernel-width heuristic)."""
    z = torch.cat([x[:max_points], y[:max_points]]).double()
    d = torch.cdist(z, z)
    return float(d[torch.triu(torch.ones_like(d, dtype=torch.bool), diagonal=1)].median())


# Multiples of the median distance: the median alone is too wide to see mode dropping on a
# symmetric ring (every other mode removed keeps the low-order moments), so several widths are summed.
MMD_SCALES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None, max_points: int = 2000,
        seed: int = 0) -> float:
    """Unbiased MMD^2 with a Gaussian kernel exp(-|a - b|^2 / (2 h^2)).

    With ``bandwidth`` None the kernel is the sum over h = s * median distance for s in
    ``MMD_SCALES`` (a multi-scale kernel, still characteristic). At most ``max_points`` of each
    set are used (a seeded random subset) so the cost stays bounded.
    """
    x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
    g = torch.Generator().manual_seed(seed)
    if x.shape[0] > max_points:
        x = x[torch.randperm(x.shape[0], generator=g)[:max_points]]
    if y.shape[0] > max_points:
        y = y[torch.randperm(y.shape[0], generator=g)[:max_points]]
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise GenzooError("MMD needs at least 2 samples in each set")
    if bandwidth is not None:
        widths = [bandwidth]
    else:
        med = median_bandwidth(x, y)
        widths = [s * med for s in MMD_SCALES]

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (2 * h * h)) for h in widths)

    k_xx, k_yy = k(x, x), k(y, y)
    return float(
        (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
        + (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
        - 2 * k(x, y).mean()
    )


class ToyModes(Metric):
    """Mode metrics as a small object: ``ToyModes(modes, std)``, ``update(fake=points)``."""

    name = "modes"

    def __init__(self, modes: torch.Tensor, std: float, n_std: float = 3.0, min_count: int = 1) -> None:
        super().__init__(None)
        self.modes, self.std, self.n_std, self.min_count = modes, std, n_std, min_count
        self._fake: list[torch.Tensor] = []

    def _add(self, side: str, f: torch.Tensor) -> None:
        if side == "fake":
            self._fake.append(f.detach().cpu())

    def compute(self) -> dict:
        """{"modes_covered", "modes_total", "high_quality_fraction", "mode_kl", "n_fake"}."""
        x = torch.cat(self._fake)
        return {**mode_metrics(x, self.modes, self.std, self.n_std, self.min_count), "n_fake": len(x)}


class MMD(Metric):
    """Gaussian-kernel MMD^2 between real and generated points (or feature vectors)."""

    name = "mmd"

    def __init__(self, bandwidth: float | None = None, max_points: int = 2000, seed: int = 0) -> None:
        super().__init__(None)
        self.bandwidth, self.max_points, self.seed = bandwidth, max_points, seed
        self._store = {"real": [], "fake": []}

    def _add(self, side: str, f: torch.Tensor) -> None:
        self._store[side].append(f.detach().cpu())

    def compute(self) -> dict:
        """{"mmd": value, "n_real", "n_fake"}."""
        x, y = torch.cat(self._store["real"]), torch.cat(self._store["fake"])
        return {"mmd": mmd(x, y, self.bandwidth, self.max_points, self.seed), "n_real": len(x), "n_fake": len(y)}
