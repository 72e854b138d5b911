"""The convolutional VAE of the tutorial, whose 2-D latent space can be drawn as a map of digits.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114); the layout is
that of Chollet's "Deep Learning with Python" (2017), section 8.4: encoder conv 32 (3x3) ->
conv 64 (3x3, stride 2) -> conv 64 -> conv 64 -> dense 32 -> (mu, logvar), z of 2; decoder
dense (H/2 x W/2 x 64) -> transposed conv 32 (stride 2) -> conv to Bernoulli logits.

The tutorial samples ``z = z_mean + exp(z_log_var) * epsilon``: that uses the variance where the
standard deviation belongs. genzoo samples z = mu + exp(0.5 * logvar) * eps. The tutorial also
weighted the KL term by 5e-4 (with RMSprop and early stopping); here ``beta`` defaults to 1, the
true ELBO, and ``--set model.beta=5e-4 --set model.optimizer=rmsprop`` reproduces its setting.
Everything else (ELBO, IWAE objective, importance weights) comes from :class:`~genzoo.models.vae.VAE`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import nn

from ..config import NonNegativeFloat, OneOf, Optimizer, PositiveFloat, PositiveInt, Range, Width
from ..errors import GenzooError
from ..registry import register
from .vae import VAE


@register("conv-vae")
class ConvVAE(VAE):
    """Convolutional VAE (2-D latent by default) with Bernoulli or Gaussian decoder."""

    @dataclass(frozen=True)
    class Config:
        z_dim: Width = 2
        channels: Annotated[tuple[int, int], Range(1, 65_536)] = (32, 64)
        dense: Width = 32
        beta: NonNegativeFloat = 1.0  # the tutorial used 5e-4
        decoder: Annotated[str, OneOf("bernoulli", "gaussian")] = "bernoulli"
        objective: Annotated[str, OneOf("elbo", "iwae")] = "elbo"
        k: PositiveInt = 5
        lr: PositiveFloat = 1e-3
        optimizer: Optimizer = "adam"  # the tutorial used rmsprop

    def build(self) -> None:
        if len(self.data_shape) != 3 or self.data_shape[1] % 2 or self.data_shape[2] % 2:
            raise GenzooError(f"conv-vae needs images with even height and width, not shape {self.data_shape}")
        C, H, W = self.data_shape
        c1, c2 = self.config.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(C, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (B, c2, H/2, W/2)
            nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * (H // 2) * (W // 2), self.config.dense), nn.ReLU(),
        )
        self.to_mu = nn.Linear(self.config.dense, self.config.z_dim)
        self.to_logvar = nn.Linear(self.config.dense, self.config.z_dim)
        self.decoder = nn.Sequential(
            nn.Linear(self.config.z_dim, c2 * (H // 2) * (W // 2)), nn.ReLU(),
            nn.Unflatten(1, (c2, H // 2, W // 2)),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # (B, c1, H, W)
            nn.Conv2d(c1, C, 3, padding=1),
            nn.Flatten(),
        )

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.reshape(x.shape[0], *self.data_shape))
        return self.to_mu(h), self.to_logvar(h)
