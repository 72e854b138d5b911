"""Conditional GAN: generator and discriminator both see the class label.

Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784 (2014);
the projection discriminator of Miyato & Koyama, "cGANs with Projection Discriminator",
ICLR 2018 (arXiv:1802.05637).

    min_G max_D E_{x,y} log D(x | y) + E_{z,y} log(1 - D(G(z | y) | y))

G(z | y) takes the noise and a one-hot label, concatenated. D is conditioned in one of two ways
(``conditioning``): ``concat`` (Mirza & Osindero) appends the one-hot label to D's input (as K
constant planes for a conv D); ``projection`` adds the inner product of a learned label
embedding with D's features, D(x | y) = w^T f(x) + e_y^T f(x), which acts like the log ratio of
two class-conditional densities. Fakes are generated for the labels of the real batch, so both
halves of D's batch carry the same label distribution (and a gradient penalty interpolates
between examples of one label). Any objective of :mod:`genzoo.models.objectives` applies.

Sampling: ``sample(n, labels=y)``, or ``genzoo sample RUN --label 3``; without labels, labels are
drawn uniformly from the same generator as the noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import nn

from ..config import OneOf
from ..errors import ConfigError
from ..registry import register
from ._gan_common import AdversarialModel, FamilyConfig, one_hot
from .base import Batch


@register("cgan")
class ConditionalGAN(AdversarialModel):
    """Class-conditional GAN (Mirza & Osindero 2014), with an optional projection discriminator."""

    conditional = True

    @dataclass(frozen=True)
    class Config(FamilyConfig):
        conditioning: Annotated[str, OneOf("projection", "concat")] = "projection"  # projection | concat

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if num_classes < 2:
            raise ConfigError("cgan needs labelled data (a dataset with classes, e.g. mnist, digits, an image folder "
                              "with class sub-folders, or 8gaussians)")
        if config.conditioning not in ("projection", "concat"):
            raise ConfigError(f"model.conditioning must be projection or concat, not {config.conditioning!r}")
        arch = self.resolve_arch()
        K = num_classes
        self.G = self.build_generator(arch, config.z_dim + K)
        concat = config.conditioning == "concat"
        body = self.build_body(arch, extra_in=K if concat else 0)
        self.D = nn.ModuleDict({"body": body, "head": nn.Linear(body.out_dim, 1)})
        if not concat:
            self.D["embed"] = nn.Embedding(K, body.out_dim)
            # Scaled like a linear layer's weights: nn.Embedding's N(0, 1) against ~1000 unnormalised
            # features starts D's logits in the tens and D wins at once.
            nn.init.normal_(self.D["embed"].weight, std=body.out_dim**-0.5)

    def training_labels(self, batch: Batch) -> torch.Tensor:
        if batch.y is None:
            raise ConfigError("cgan needs batches with labels")
        return batch.y

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(torch.cat([z, one_hot(y, self.num_classes)], dim=1))

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        # y: (B,) labels, or (B, pack) labels of each pack's members (model.pack > 1).
        if self.config.conditioning == "concat":
            f = self.D["body"](x, one_hot(y, self.num_classes).flatten(1))  # (B, F)
            return self.D["head"](f).squeeze(1), f
        f = self.D["body"](x)
        # A pack's projection term is the sum of its members': (sum_i e_{y_i})^T f(x).
        e = self.D["embed"](y).reshape(f.shape[0], -1, f.shape[1]).sum(1)  # (B, F)
        return self.D["head"](f).squeeze(1) + (e * f).sum(1), f

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        if labels is None:
            if generator is not None:
                labels = torch.randint(self.num_classes, (z.shape[0],), generator=generator, device=generator.device)
            else:
                labels = torch.randint(self.num_classes, (z.shape[0],))
        return self.generate(z, labels.to(z.device).long())
