"""The conditional VAE: the label is given to the encoder and the decoder, so one can ask for a digit.

Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional Generative
Models", NeurIPS 2015; Kingma, Rezende, Mohamed & Welling, "Semi-Supervised Learning with Deep
Generative Models", NeurIPS 2014 (the M2 model's labelled term). The bound is
log p(x | y) >= E_q(z|x,y)[log p(x | z, y)] - beta * KL(q(z | x, y) || N(0, I)).
Without labels, :meth:`CVAE.log_importance_weights` bounds the marginal log p(x) under a uniform
class prior by importance sampling within every class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NonNegativeFloat, OneOf, Optimizer, PositiveFloat, PositiveInt, Width, Widths
from ..errors import GenzooError
from ..registry import register
from .gan import mlp
from .vae import VAE


@register("cvae")
class CVAE(VAE):
    """Conditional MLP VAE: q(z | x, y) and p(x | z, y); ``sample(labels=...)`` draws chosen classes."""

    conditional = True

    @dataclass(frozen=True)
    class Config:
        z_dim: Width = 16
        hidden: Widths = (256,)
        beta: NonNegativeFloat = 1.0
        decoder: Annotated[str, OneOf("bernoulli", "gaussian")] = "bernoulli"
        objective: Annotated[str, OneOf("elbo", "iwae")] = "elbo"
        k: PositiveInt = 5
        lr: PositiveFloat = 1e-3
        optimizer: Optimizer = "adam"

    def build(self) -> None:
        if self.num_classes < 2:
            raise GenzooError("cvae needs labelled data (a dataset with classes)")
        h, K = list(self.config.hidden), self.num_classes
        self.encoder = nn.Sequential(mlp([self.data_dim + K, *h]), nn.ReLU())
        self.to_mu = nn.Linear(h[-1], self.config.z_dim)
        self.to_logvar = nn.Linear(h[-1], self.config.z_dim)
        self.decoder = mlp([self.config.z_dim + K, *reversed(h), self.data_dim])

    def _one_hot(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise GenzooError("cvae needs labels here")
        return F.one_hot(y.to(self.device).long(), self.num_classes).float().expand(n, -1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.cat([x.reshape(x.shape[0], -1), self._one_hot(y, x.shape[0])], 1))
        return self.to_mu(h), self.to_logvar(h)

    def decoder_out(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(torch.cat([z, self._one_hot(y, z.shape[0])], 1))

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """ELBO of log p(x | y); without labels, of log p(x) = log mean_y p(x | y) (a bound on each term)."""
        if y is not None:
            return super().elbo(x, y)
        per_class = torch.stack([super(CVAE, self).elbo(x, self._label(x, c)) for c in range(self.num_classes)], 1)
        return torch.logsumexp(per_class, 1) - math.log(self.num_classes)

    def _label(self, x: torch.Tensor, c: int) -> torch.Tensor:
        return torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)

    def log_importance_weights(self, x: torch.Tensor, k: int, y: torch.Tensor | None = None,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, k) weights of log p(x | y); without labels (B, K*k) weights whose logsumexp minus log k
        bounds log p(x) under a uniform prior over the K classes (k samples within each class)."""
        if y is not None:
            return super().log_importance_weights(x, k, y, generator)
        w = [super(CVAE, self).log_importance_weights(x, k, self._label(x, c), generator) for c in range(self.num_classes)]
        return torch.cat(w, 1) - math.log(self.num_classes)

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        """Samples of the classes ``labels`` (n,); without labels, classes 0, 1, 2, ... in turn."""
        if z is None:
            z = self.latent(n, generator)
        if labels is None:
            labels = torch.arange(n, device=z.device) % self.num_classes
        return self.decode(z, labels)
