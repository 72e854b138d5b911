"""The variational autoencoder with a Gaussian encoder and a Bernoulli decoder.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114).
The tutorial layout: encoder 784 -> 128 -> (mu, logvar), z of 100 (2 for pictures),
decoder z -> 128 -> 784; loss = summed binary cross-entropy per image + closed-form KL,
Adam 1e-3, batch 64. z = mu + exp(0.5 * logvar) * eps: the standard deviation is
exp(logvar / 2), not exp(logvar) as one of the tutorials writes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register
from .base import Batch, GenerativeModel, OptimGroup
from .gan import mlp

LOG_2PI = math.log(2 * math.pi)


@register("vae")
class VAE(GenerativeModel):
    """MLP VAE; also gives the ELBO and importance weights for the IWAE bound."""

    @dataclass(frozen=True)
    class Config:
        z_dim: int = 100
        hidden: tuple[int, ...] = (128,)
        beta: float = 1.0  # weight of the KL term
        lr: float = 1e-3

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        h = list(config.hidden)
        self.encoder = nn.Sequential(mlp([self.data_dim, *h]), nn.ReLU())
        self.to_mu = nn.Linear(h[-1], config.z_dim)
        self.to_logvar = nn.Linear(h[-1], config.z_dim)
        self.decoder = mlp([config.z_dim, *reversed(h), self.data_dim])  # Bernoulli logits

    def optimizer_groups(self) -> list[OptimGroup]:
        return [OptimGroup("loss", list(self.parameters()), lr=self.config.lr)]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian q(z|x): its mean and log-variance."""
        h = self.encoder(x.reshape(x.shape[0], -1))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image, in [0, 1]."""
        return torch.sigmoid(self.decoder(z)).view(z.shape[0], *self.data_shape)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    def _terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example reconstruction NLL and KL(q(z|x) || N(0, I)), both in nats."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * self.randn(*mu.shape)
        x_hat_logits = self.decoder(z)
        recon = F.binary_cross_entropy_with_logits(x_hat_logits, x.reshape(x.shape[0], -1), reduction="none").sum(1)
        kl = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(1)
        return recon, kl

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        recon, kl = self._terms(batch.x)
        recon, kl = recon.mean(), kl.mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon.detach(), "kl": kl.detach()}

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """A one-sample estimate of the evidence lower bound per example, in nats."""
        recon, kl = self._terms(x)
        return -(recon + kl)

    def log_importance_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i | x) for k samples z_i ~ q(z | x); shape (B, k)."""
        B = x.shape[0]
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        eps = self.randn(B, k, mu.shape[1])
        z = mu.unsqueeze(1) + std.unsqueeze(1) * eps  # (B, k, Z)
        logits = self.decoder(z.view(B * k, -1)).view(B, k, -1)
        target = x.reshape(B, 1, -1).expand_as(logits)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz_x = -0.5 * (eps.pow(2) + LOG_2PI).sum(-1) - (0.5 * logvar).sum(-1, keepdim=True)
        return log_px_z + log_pz - log_qz_x

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        return self.decode(z)
