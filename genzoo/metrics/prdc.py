"""Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each sample gets a radius: the distance to its k-th nearest neighbour within its own set.
- precision: fraction of fake samples inside at least one real sample's ball;
- recall: fraction of real samples inside at least one fake sample's ball;
- density: how many real balls contain each fake sample, divided by k, averaged;
- coverage: fraction of real samples whose ball contains at least one fake sample.
genzoo reports precision/recall with k=3 and density/coverage with k=5, as in the papers.
Distances are computed with ``torch.cdist`` in row chunks of at most ``MAX_BLOCK`` entries, so
100k x 100k needs no 100k^2 matrix (nor a 2048 x 100k one).
"""
from __future__ import annotations

import torch

from ..errors import GenzooError
from .base import Metric

MAX_BLOCK = 2**24  # distances computed at once (64 MB of float32)


def _rows(chunk: int, columns: int) -> int:
    """Rows per distance block: ``chunk``, fewer when the other set is large."""
    return max(1, min(chunk, MAX_BLOCK // max(columns, 1)))


def kth_neighbour_radii(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of ``x`` (N, D) to its k-th nearest other row, shape (N,)."""
    if x.shape[0] <= k:
        raise GenzooError(f"need more than k={k} samples for k-NN radii, got {x.shape[0]}")
    out = torch.empty(x.shape[0], dtype=x.dtype)
    chunk = _rows(chunk, x.shape[0])
    for i in range(0, x.shape[0], chunk):
        d = torch.cdist(x[i : i + chunk], x)  # (chunk, N)
        # The k+1 smallest include the point itself at distance 0.
        out[i : i + chunk] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return out


def prdc(
    real: torch.Tensor,
    fake: torch.Tensor,
    k_pr: int = 3,
    k_dc: int = 5,
    chunk: int = 2048,
) -> dict:
    """Precision and recall with ``k_pr`` neighbours, density and coverage with ``k_dc``.

    ``real`` (N, D) and ``fake`` (M, D) are feature vectors. Returns a dict of four floats.
    Pass ``k_pr == k_dc`` to reproduce the single-k numbers of the reference implementation.
    """
    x = torch.as_tensor(real).float()
    y = torch.as_tensor(fake).float()
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise GenzooError(f"prdc needs (N, D) and (M, D) features, got {tuple(x.shape)} and {tuple(y.shape)}")
    ks = sorted({k_pr, k_dc})
    r_real = {k: kth_neighbour_radii(x, k, chunk) for k in ks}  # each (N,)
    r_fake = kth_neighbour_radii(y, k_pr, chunk)  # (M,)

    in_real_ball = torch.zeros(y.shape[0], dtype=torch.bool)  # precision, per fake
    density_count = torch.zeros(y.shape[0], dtype=torch.float64)  # per fake
    real_in_fake_ball = torch.zeros(x.shape[0], dtype=torch.bool)  # recall, per real
    nearest_fake = torch.full((x.shape[0],), float("inf"))  # coverage, per real
    chunk = _rows(chunk, x.shape[0])
    for j in range(0, y.shape[0], chunk):
        d = torch.cdist(y[j : j + chunk], x)  # (chunk, N): fake rows, real columns
        in_real_ball[j : j + chunk] = (d <= r_real[k_pr][None, :]).any(dim=1)
        density_count[j : j + chunk] = (d <= r_real[k_dc][None, :]).sum(dim=1).double()
        real_in_fake_ball |= (d <= r_fake[j : j + chunk, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    return {
        "precision": float(in_real_ball.float().mean()),
        "recall": float(real_in_fake_ball.float().mean()),
        "density": float(density_count.mean() / k_dc),
        "coverage": float((nearest_fake <= r_real[k_dc]).float().mean()),
    }


class PRDC(Metric):
    """Precision, recall, density and coverage as a small object (keeps features until compute)."""

    name = "prdc"

    def __init__(self, features=None, k_pr: int = 3, k_dc: int = 5) -> None:
        super().__init__(features)
        self.k_pr, self.k_dc = k_pr, k_dc
        self._store = {"real": [], "fake": []}

    def _add(self, side: str, f: torch.Tensor) -> None:
        self._store[side].append(f.detach().cpu().float())

    def compute(self) -> dict:
        """{"precision", "recall", "density", "coverage", "k_pr", "k_dc", "n_real", "n_fake", ...}."""
        real, fake = torch.cat(self._store["real"]), torch.cat(self._store["fake"])
        out = prdc(real, fake, self.k_pr, self.k_dc)
        return {**out, "k_pr": self.k_pr, "k_dc": self.k_dc, "n_real": len(real), "n_fake": len(fake),
                **self._feature_info()}
