"""Mixture models fitted by expectation-maximisation: Gaussian (diagonal or full covariance) and Bernoulli.

Dempster, Laird & Rubin, "Maximum Likelihood from Incomplete Data via the EM Algorithm", JRSS B
1977; Bishop, "Pattern Recognition and Machine Learning" (2006), sections 9.2-9.3.5 (Bernoulli
mixtures); stepwise (online) EM: Cappe & Moulines, JRSS B 2009.
    log p(x) = log sum_k pi_k p(x | theta_k)       (exact; log-sum-exp in float64)
E-step: responsibilities r_nk = pi_k p(x_n | theta_k) / p(x_n). M-step: pi, means and
covariances from the r-weighted sufficient statistics (plus ``reg_covar`` on the diagonal, as in
scikit-learn, so that a component on one point keeps a valid covariance).

How EM fits the trainer: the model's one group, ``em``, is a :class:`~.base.StatisticsGroup`.
Each step the trainer collects the E-step's sufficient statistics of the batch
(:meth:`GMM.batch_statistics`: sums of r, r x, r x x^T and log p(x) over the examples), sums them
over micro-batches and data-parallel ranks, and the model applies them (:meth:`GMM.apply_statistics`):
the running statistics move towards the global batch's by eta_t = (t + 2) ** -step_power (eta = 1
at the first step; with a full-data batch and ``step_power=0`` this is classical EM), then the
M-step. So any number of processes or micro-batches makes the same update. The means start at K
examples drawn from the whole training set (:meth:`GMM.prepare_data`, with the trainer's seeded
generator). ``fit_em(x)`` runs classical full-batch EM directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch

from ..config import Fraction, NonNegativeFloat, OneOf, Range
from ..errors import ConfigError
from ..registry import register
from .base import Batch, GenerativeModel, OptimGroup, StatisticsGroup

LOG_2PI = math.log(2 * math.pi)
BERNOULLI_EPS = 1e-4  # keeps log(mu) and log(1 - mu) finite for a pixel a component never turns on


@register("gmm")
class GMM(GenerativeModel):
    """Mixture fitted by EM: Gaussian (diag/full covariance) or Bernoulli (binarized images); exact log-likelihood."""

    @dataclass(frozen=True)
    class Config:
        components: Annotated[int, Range(1, 10_000)] = 10
        covariance: Annotated[str, OneOf("diag", "full", "bernoulli")] = "diag"  # diag | full | bernoulli
        reg_covar: NonNegativeFloat = 1e-6  # added to covariance diagonals (scikit-learn's default)
        step_power: Fraction = 0.6  # stepwise EM: eta_t = (t + 2) ** -step_power; 0 gives plain EM on each batch

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        self.likelihood = "discrete" if config.covariance == "bernoulli" else "density"
        if config.covariance not in ("diag", "full", "bernoulli"):
            raise ConfigError(f"model.covariance must be diag, full or bernoulli, not {config.covariance!r}")
        K, D = config.components, self.data_dim
        f64 = dict(dtype=torch.float64)
        self.weights = torch.nn.Parameter(torch.full((K,), 1.0 / K, **f64))
        self.means = torch.nn.Parameter(torch.full((K, D), 0.5, **f64))
        cov_shape = (K, D, D) if config.covariance == "full" else (K, D)
        cov = torch.eye(D, **f64).expand(K, D, D).clone() if config.covariance == "full" else torch.ones(K, D, **f64)
        self.cov = torch.nn.Parameter(cov.reshape(cov_shape))
        # Running sufficient statistics of stepwise EM: sum r, sum r x, sum r x x^T (or r x^2), per example.
        self.register_buffer("s0", torch.zeros(K, **f64))
        self.register_buffer("s1", torch.zeros(K, D, **f64))
        self.register_buffer("s2", torch.zeros(cov_shape, **f64))
        self.register_buffer("em_steps", torch.zeros((), dtype=torch.long))

    def optimizer_groups(self) -> list[OptimGroup]:
        return [StatisticsGroup("em", list(self.parameters()))]  # updated by EM, never by a gradient

    # -- likelihood ---------------------------------------------------------------------
    def component_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log pi_k + log p(x | theta_k), (B, K), in float64."""
        x = x.reshape(x.shape[0], -1).to(torch.float64)
        kind, mu = self.config.covariance, self.means
        if kind == "bernoulli":
            p = mu.clamp(BERNOULLI_EPS, 1 - BERNOULLI_EPS)
            lp = x @ p.log().T + (1 - x) @ (1 - p).log().T
        elif kind == "diag":
            var = self.cov
            lp = -0.5 * (((x.unsqueeze(1) - mu) ** 2 / var).sum(-1) + var.log().sum(-1) + x.shape[1] * LOG_2PI)
        else:
            L = torch.linalg.cholesky(self.cov)  # (K, D, D)
            diff = (x.unsqueeze(0) - mu.unsqueeze(1)).transpose(1, 2)  # (K, D, B)
            sol = torch.linalg.solve_triangular(L, diff, upper=False)  # L^-1 (x - mu)
            logdet = 2 * torch.diagonal(L, dim1=1, dim2=2).log().sum(-1)  # (K,)
            lp = (-0.5 * (sol.pow(2).sum(1) + logdet.unsqueeze(1) + x.shape[1] * LOG_2PI)).T
        return lp + self.weights.clamp_min(1e-300).log()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, (B,) (a density for the Gaussian mixtures)."""
        return torch.logsumexp(self.component_log_prob(x), 1)

    # -- EM -----------------------------------------------------------------------------
    @torch.no_grad()
    def _batch_sums(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """E-step: the sufficient statistics of batch x under the current parameters, summed over
        its examples, with the example count and the summed log-likelihood."""
        x = x.reshape(x.shape[0], -1).to(torch.float64)
        lp = self.component_log_prob(x)  # (B, K)
        r = torch.softmax(lp, 1)  # responsibilities
        if self.config.covariance == "full":
            s2 = torch.einsum("bk,bd,be->kde", r, x, x)
        else:
            s2 = r.T @ (x * x)
        return {"count": torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device),
                "s0": r.sum(0), "s1": r.T @ x, "s2": s2, "log_likelihood": torch.logsumexp(lp, 1).sum()}

    def _batch_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """E-step: the mean sufficient statistics of batch x under the current parameters."""
        sums = self._batch_sums(x)
        return tuple(sums[k] / sums["count"] for k in ("s0", "s1", "s2"))

    @torch.no_grad()
    def _m_step(self) -> None:
        nk = self.s0 + 10 * torch.finfo(torch.float64).eps  # as scikit-learn: no empty component divides by 0
        mu = self.s1 / nk.unsqueeze(1)
        self.weights.copy_(nk / nk.sum())
        self.means.copy_(mu)
        if self.config.covariance == "full":
            cov = self.s2 / nk.view(-1, 1, 1) - mu.unsqueeze(2) * mu.unsqueeze(1)
            cov = 0.5 * (cov + cov.transpose(1, 2))
            self.cov.copy_(cov + self.config.reg_covar * torch.eye(mu.shape[1], dtype=mu.dtype, device=mu.device))
        elif self.config.covariance == "diag":
            self.cov.copy_((self.s2 / nk.unsqueeze(1) - mu * mu).clamp_min(0) + self.config.reg_covar)

    @torch.no_grad()
    def initialise(self, x: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Means at K distinct random examples of x (Bernoulli: pulled half-way to 0.5), variances at
        the data's. Draws from ``generator``, else from the model's source (:meth:`rand`)."""
        x = x.reshape(x.shape[0], -1)
        N, K = x.shape[0], self.config.components
        u = self.rand(N) if generator is None else torch.rand(N, generator=generator, device=generator.device)
        idx = u.argsort()[:K].cpu()
        if len(idx) < K:  # fewer examples than components: repeat them
            idx = idx[torch.arange(K) % len(idx)]
        mu = x[idx.to(x.device)].to(self.means)
        self.weights.fill_(1.0 / K)
        if self.config.covariance == "bernoulli":
            self.means.copy_(0.5 * mu + 0.25)
            return
        self.means.copy_(mu)
        var = _variance(x).to(self.means) + self.config.reg_covar if N > 1 else torch.ones_like(mu[0])
        self.cov.copy_(torch.diag_embed(var).expand_as(self.cov) if self.config.covariance == "full" else var.expand_as(self.cov))

    def prepare_data(self, data) -> None:
        """Initialise from the whole training set (the trainer's seeded draws, alike on every rank),
        so the start does not depend on how batches are split across processes."""
        if int(self.em_steps) == 0:
            self.initialise(data.x)

    def batch_statistics(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        """The E-step's sums over ``batch`` (see the module docstring); the trainer adds shards up."""
        return self._batch_sums(batch.x)

    @torch.no_grad()
    def apply_statistics(self, group: str, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One stepwise-EM update from the global batch's sums; logs the batch's NLL before the update."""
        n = stats["count"]
        eta = 1.0 if int(self.em_steps) == 0 else (int(self.em_steps) + 1) ** -self.config.step_power
        for s, key in zip((self.s0, self.s1, self.s2), ("s0", "s1", "s2")):
            s.mul_(1 - eta).add_(eta * stats[key] / n)
        self._m_step()
        self.em_steps += 1
        nll = (-stats["log_likelihood"] / n).float()
        return {"em": nll, "nll": nll}

    @torch.no_grad()
    def em_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One stepwise-EM update on batch x, outside a trainer (initialise first)."""
        return self.apply_statistics("em", self._batch_sums(x))

    @torch.no_grad()
    def fit_em(self, x: torch.Tensor, iterations: int = 100, tol: float = 1e-6,
               init: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> list[float]:
        """Classical full-batch EM on x from ``init`` = (weights, means, covariances) or a random start;
        stops when the mean log-likelihood gains less than ``tol``. Returns the mean log-likelihood per iteration."""
        if init is None:
            self.initialise(x)
        else:
            for p, v in zip((self.weights, self.means, self.cov), init):
                p.copy_(torch.as_tensor(v, dtype=torch.float64))
        history: list[float] = []
        for _ in range(iterations):
            self.s0, self.s1, self.s2 = self._batch_stats(x)
            self._m_step()
            history.append(float(self.log_prob(x).mean()))
            if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
                break
        self.em_steps += len(history)
        return history

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        """The batch's NLL under the current parameters, changing nothing (training goes through
        batch_statistics/apply_statistics). Tied to the parameters by a zero-weight term, so code
        that differentiates every group's loss sees an ordinary one."""
        with torch.no_grad():
            nll = -self.log_prob(batch.x).mean()
        anchor = 0.0 * self.weights.sum()
        return {"em": (nll + anchor).float(), "nll": nll.float()}

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        g = generator
        dev = g.device if g is not None else self.weights.device
        k = torch.multinomial(self.weights.to(dev), n, replacement=True, generator=g).to(self.device)  # (n,)
        mu = self.means[k]  # (n, D)
        if self.config.covariance == "bernoulli":
            u = torch.rand(mu.shape, generator=g, device=dev, dtype=torch.float64).to(self.device)
            x = (u < mu).to(torch.float64)
        else:
            eps = torch.randn(mu.shape, generator=g, device=dev, dtype=torch.float64).to(self.device)
            if self.config.covariance == "full":
                x = mu + (torch.linalg.cholesky(self.cov)[k] @ eps.unsqueeze(2)).squeeze(2)
            else:
                x = mu + self.cov[k].sqrt() * eps
        x = x.float().view(n, *self.data_shape)
        return x.clamp(0, 1) if self.is_image else x


def _variance(x: torch.Tensor, rows: int = 4096) -> torch.Tensor:
    """The per-dimension variance of x (N, D) in float64, a block of rows at a time (bounded memory)."""
    n = x.shape[0]
    mean = sum(x[i : i + rows].to(torch.float64).sum(0) for i in range(0, n, rows)) / n
    sq = sum((x[i : i + rows].to(torch.float64) - mean).pow(2).sum(0) for i in range(0, n, rows))
    return sq / (n - 1)
