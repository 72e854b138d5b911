"""BiGAN / ALI: a generator, an encoder, and a discriminator on joint pairs (x, z).

Donahue, Krähenbühl & Darrell, "Adversarial Feature Learning", ICLR 2017 (arXiv:1605.09782);
Dumoulin et al., "Adversarially Learned Inference", ICLR 2017 (arXiv:1606.00704).

    min_{G,E} max_D  E_x log D(x, E(x)) + E_z log(1 - D(G(z), z))

D tells encoder pairs (x, E(x)) from generator pairs (G(z), z). At the optimum the two joint
distributions match, so E inverts G: reconstructions G(E(x)) resemble x and E(x) is a
feature for downstream tasks (the BiGAN paper reports 97.4% 1-nearest-neighbour accuracy on
MNIST). G and E share one optimizer group and minimise D's own loss with the two kinds of
pair swapped (the usual inverted-labels form, which is the non-saturating loss for the log
objectives); any objective of :mod:`genzoo.models.objectives` applies, a gradient penalty
interpolates x and z together. The encoder is deterministic (BiGAN); D reads x through a body
(conv on images, MLP on points) and z through an MLP, then a joint MLP on both. On images the
defaults are dcgan's measured remedies (:class:`._gan_common.Remedied`; R1 on the real pairs).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import LayerWidths, Width, Widths
from ..registry import register
from ._gan_common import AdversarialModel, Remedied, RemediedConfig
from .base import Batch
from .nets import leaky, mlp


@register("bigan")
class BiGAN(Remedied, AdversarialModel):
    """BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder, generator, joint discriminator."""

    packing = False  # D judges (x, z) pairs in its own step, one pair at a time

    @dataclass(frozen=True)
    class Config(RemediedConfig):
        z_dim: Width = 50
        z_hidden: Widths = (512,)  # D's MLP on z
        joint_hidden: LayerWidths = (1024,)  # D's MLP on [f(x), f(z)]

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        arch = self.resolve_arch()
        self.G = self.build_generator(arch, config.z_dim)
        enc = self.build_body(arch, packed=False)
        self.E = nn.Sequential(enc, nn.Linear(enc.out_dim, config.z_dim))
        x_body = self.build_body(arch)
        z_body = mlp([config.z_dim, *config.z_hidden], activation=leaky(0.2), last_activation=True)
        self.D = nn.ModuleDict({
            "x": x_body,
            "z": z_body,
            "joint": mlp([x_body.out_dim + config.z_hidden[-1], *config.joint_hidden, 1], activation=leaky(0.2)),
        })

    def generator_parameters(self) -> list:
        return list(self.G.parameters()) + list(self.E.parameters())

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x): the latent code of data x, (B, z_dim)."""
        return self.E(x)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)): the generator's reading of the encoder's code."""
        return self.G(self.E(x))

    def discriminate(self, x: torch.Tensor, z: torch.Tensor):
        f = torch.cat([self.D["x"](x), self.D["z"](z)], dim=1)  # (B, Fx + Fz)
        return self.D["joint"](f).squeeze(1), f

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x
        B = x.shape[0]
        z = self.randn(B, self.config.z_dim)
        if group == "discriminator":
            with torch.no_grad():
                z_enc, x_fake = self.E(x), self.G(z)
            real, fake = (self.perturb(x), z_enc), (self.perturb(x_fake), z)
            # One D forward over both kinds of pair (batch statistics see both).
            d, _ = self.discriminate(torch.cat([real[0], fake[0]]), torch.cat([real[1], fake[1]]))
            return self.discriminator_terms(d[:B], d[B:], lambda xx, zz: self.discriminate(xx, zz)[0], real, fake)
        if group == "generator":
            z_enc, x_fake = self.E(x), self.G(z)
            d, _ = self.discriminate(torch.cat([self.perturb(x), self.perturb(x_fake)]), torch.cat([z_enc, z]))
            # G and E want D to take generator pairs for encoder pairs and vice versa.
            return {"generator": self.objective.discriminator(d[B:], d[:B])}
        raise KeyError(group)
