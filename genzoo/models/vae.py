"""The variational autoencoder (MLP), with a Bernoulli or Gaussian decoder and the ELBO or IWAE objective.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114);
Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016 (arXiv:1509.00519).
The tutorial layout: encoder 784 -> 128 -> (mu, logvar), z of 100 (2 for pictures),
decoder z -> 128 -> 784; loss = summed binary cross-entropy per image + beta * closed-form KL,
Adam 1e-3, batch 64. z = mu + exp(0.5 * logvar) * eps: the standard deviation is
exp(logvar / 2), not exp(logvar) as one of the tutorials writes.

``objective: iwae`` trains on IWAE_k = log (1/k) sum_i p(x, z_i) / q(z_i | x) with k samples
(beta is then not used: the bound has no separate KL term). The conv VAE and the CVAE subclass
this model and override only ``encode`` and ``decoder_out``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NonNegativeFloat, OneOf, Optimizer, PositiveFloat, PositiveInt, Width, Widths
from ..errors import ConfigError
from ..registry import register
from .base import Batch, GenerativeModel, OptimGroup
from .gan import mlp

LOG_2PI = math.log(2 * math.pi)
MIN_X_LOGVAR = -5.0  # floor of the Gaussian decoder's log-variance: on binary pixels it would collapse to -inf


@register("vae")
class VAE(GenerativeModel):
    """MLP VAE (ELBO or IWAE objective); also gives the ELBO and importance weights for the IWAE bound."""

    conditional = False  # whether labels enter encoder and decoder (the CVAE)
    has_encoder = True
    inpaint = "latent"

    @dataclass(frozen=True)
    class Config:
        z_dim: Width = 100
        hidden: Widths = (128,)
        beta: NonNegativeFloat = 1.0  # weight of the KL term (ELBO objective)
        decoder: Annotated[str, OneOf("bernoulli", "gaussian")] = "bernoulli"  # gaussian: learned per-pixel variance
        objective: Annotated[str, OneOf("elbo", "iwae")] = "elbo"
        k: PositiveInt = 5  # importance samples of the iwae objective
        lr: PositiveFloat = 1e-3
        optimizer: Optimizer = "adam"

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        # The Bernoulli decoder gives probabilities of binary pixels; the Gaussian one a density.
        self.likelihood = "bound" if config.decoder == "bernoulli" else "density-bound"
        if config.decoder not in ("bernoulli", "gaussian"):
            raise ConfigError(f"model.decoder must be bernoulli or gaussian, not {config.decoder!r}")
        if config.objective not in ("elbo", "iwae") or config.k < 1:
            raise ConfigError(f"model.objective must be elbo or iwae with k >= 1, not {config.objective!r}, k={config.k}")
        self.build()
        if config.decoder == "gaussian":
            self.x_logvar = nn.Parameter(torch.zeros(self.data_dim))

    def build(self) -> None:
        """Create the encoder and decoder networks (subclasses replace this)."""
        h = list(self.config.hidden)
        self.encoder = nn.Sequential(mlp([self.data_dim, *h]), nn.ReLU())
        self.to_mu = nn.Linear(h[-1], self.config.z_dim)
        self.to_logvar = nn.Linear(h[-1], self.config.z_dim)
        self.decoder = mlp([self.config.z_dim, *reversed(h), self.data_dim])

    def optimizer_groups(self) -> list[OptimGroup]:
        return [OptimGroup("loss", list(self.parameters()), lr=self.config.lr, optimizer=self.config.optimizer)]

    # -- networks -----------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian q(z|x): its mean and log-variance."""
        h = self.encoder(x.reshape(x.shape[0], -1))
        return self.to_mu(h), self.to_logvar(h)

    def decoder_out(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output per pixel, (N, D): Bernoulli logits, or the Gaussian mean before a sigmoid."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean image, in [0, 1]."""
        return torch.sigmoid(self.decoder_out(z, y)).view(z.shape[0], *self.data_shape)

    def log_px_z(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over pixels, for decoder outputs ``out`` (..., D) and flat data x (..., D)."""
        if self.config.decoder == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
        logvar = self.x_logvar.clamp(min=MIN_X_LOGVAR)
        return -0.5 * ((x - torch.sigmoid(out)).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    # -- objectives ---------------------------------------------------------------------
    def _terms(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example reconstruction NLL and KL(q(z|x) || N(0, I)), both in nats."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.exp(0.5 * logvar) * self.randn(*mu.shape)
        recon = -self.log_px_z(self.decoder_out(z, y), x.reshape(x.shape[0], -1))
        kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)
        return recon, kl

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        y = batch.y if self.conditional else None
        if self.config.objective == "iwae":
            w = self.log_importance_weights(batch.x, self.config.k, y)  # (B, k)
            bound = (torch.logsumexp(w, 1) - math.log(w.shape[1])).mean()
            return {"loss": -bound, "elbo": w.mean().detach()}
        recon, kl = self._terms(batch.x, y)
        recon, kl = recon.mean(), kl.mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon.detach(), "kl": kl.detach()}

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """A one-sample estimate of the evidence lower bound per example, in nats."""
        recon, kl = self._terms(x, y)
        return -(recon + kl)

    def log_importance_weights(self, x: torch.Tensor, k: int, y: torch.Tensor | None = None,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i | x) for k samples z_i ~ q(z | x); shape (B, k). The noise comes
        from ``generator`` when given (evaluation), else from the model's training noise."""
        B = x.shape[0]
        mu, logvar = self.encode(x, y)
        std = torch.exp(0.5 * logvar)
        eps = self.randn_from(generator, B, k, mu.shape[1])
        z = mu.unsqueeze(1) + std.unsqueeze(1) * eps  # (B, k, Z)
        y_rep = y.repeat_interleave(k) if y is not None else None
        out = self.decoder_out(z.reshape(B * k, -1), y_rep).view(B, k, -1)
        log_px_z = self.log_px_z(out, x.reshape(B, 1, -1).expand_as(out))
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz_x = -0.5 * (eps.pow(2) + LOG_2PI).sum(-1) - (0.5 * logvar).sum(-1, keepdim=True)
        return log_px_z + log_pz - log_qz_x

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        return self.decode(z)
