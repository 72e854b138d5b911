"""The adversarial autoencoder: a latent discriminator, not a KL term, matches q(z) to the prior.

Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial Autoencoders", ICLR 2016 workshop
(arXiv:1511.05644). A deterministic encoder z = E(x) and a decoder trained to reconstruct
(the reconstruction phase), then a GAN on the codes (the regularisation phase): the
discriminator D tells prior draws z ~ N(0, I) from codes E(x), and the encoder, as the
generator, learns to fool it. The paper alternates a reconstruction phase and a regularisation
phase; here the two encoder updates are one loss, so that every parameter has one optimizer
(the trainer requires it). Two groups, stepped in this order every iteration:
  discriminator:  min_D        -log D(z) - log(1 - D(E(x))),  z ~ N(0, I)
  autoencoder:    min_{E,Dec}  -log p(x | Dec(E(x))) - adv_weight * log D(E(x))   (non-saturating)
Sampling decodes prior draws. There is no tractable likelihood, so no NLL is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import LayerWidths, NonNegativeFloat, PositiveFloat, Width
from ..registry import register
from .base import Batch, GenerativeModel, OptimGroup
from .gan import mlp


@register("aae")
class AAE(GenerativeModel):
    """Adversarial autoencoder (MLP, deterministic encoder, Gaussian prior matched by a latent discriminator)."""

    has_encoder = True
    inpaint = "latent"

    @dataclass(frozen=True)
    class Config:
        z_dim: Width = 8
        hidden: LayerWidths = (512, 512)
        d_hidden: LayerWidths = (512, 512)
        lr: PositiveFloat = 1e-3  # encoder and decoder
        d_lr: PositiveFloat = 2e-4  # latent discriminator
        adv_weight: NonNegativeFloat = 1.0  # weight of the encoder's adversarial term against the summed reconstruction NLL

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        h = list(config.hidden)
        self.encoder = mlp([self.data_dim, *h, config.z_dim])
        self.decoder = mlp([config.z_dim, *reversed(h), self.data_dim])  # Bernoulli logits
        self.discriminator = mlp([config.z_dim, *config.d_hidden, 1])

    def optimizer_groups(self) -> list[OptimGroup]:
        c = self.config
        return [
            OptimGroup("discriminator", list(self.discriminator.parameters()), lr=c.d_lr, betas=(0.5, 0.999)),
            OptimGroup("autoencoder", [*self.encoder.parameters(), *self.decoder.parameters()], lr=c.lr,
                       fresh_batch=False),
        ]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = E(x), (B, z_dim)."""
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image, in [0, 1]."""
        return torch.sigmoid(self.decoder(z)).view(z.shape[0], *self.data_shape)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x.reshape(batch.x.shape[0], -1)
        z_fake = self.encode(x)
        if group == "discriminator":
            z_real = self.randn(x.shape[0], self.config.z_dim)
            D_real, D_fake = self.discriminator(z_real), self.discriminator(z_fake.detach())
            loss = F.binary_cross_entropy_with_logits(D_real, torch.ones_like(D_real)) + \
                F.binary_cross_entropy_with_logits(D_fake, torch.zeros_like(D_fake))
            acc = ((D_real > 0).float().mean() + (D_fake < 0).float().mean()) / 2
            return {"discriminator": loss, "d_accuracy": acc.detach()}
        recon = F.binary_cross_entropy_with_logits(self.decoder(z_fake), x, reduction="none").sum(1).mean()
        D_fake = self.discriminator(z_fake)
        adv = F.binary_cross_entropy_with_logits(D_fake, torch.ones_like(D_fake))
        return {"autoencoder": recon + self.config.adv_weight * adv, "recon": recon.detach(),
                "adv": adv.detach(), "code_std": z_fake.detach().std()}

    def health(self, scalars: dict[str, float]) -> str | None:
        if scalars.get("d_accuracy", 0.5) > 0.99:
            return "the latent discriminator wins every time: the codes no longer look like the prior"
        return None

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        return self.decode(z)
