"""The original GAN: an MLP generator and discriminator playing a minimax game.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).
The tutorial layout: G: z(100) -> 128 -> 784 sigmoid; D: 784 -> 128 -> 1; Adam 1e-3, batch 64.
D takes ``d_steps`` (the paper's k) steps per generator step. The generator loss defaults
to the non-saturating form (the paper's own recommendation, and what the tutorial code
actually trains); ``loss=minimax`` gives the literal min log(1 - D(G(z))), and every other
objective of :mod:`genzoo.models.objectives` (lsgan, wgan, wgan-gp, hinge, softmax) plugs in
the same way. The step itself is shared by the whole family (:mod:`._gan_common`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import LayerWidths, Width
from ..registry import register
from ._gan_common import AdversarialModel, GANConfig
from .nets import leaky, mlp

__all__ = ["GAN", "mlp"]


@register("gan")
class GAN(AdversarialModel):
    """MLP GAN for images (flattened) and 2-D toy data."""

    default_optim = {"optimizer": "adam", "lr": 1e-3, "betas": (0.9, 0.999), "d_steps": 1}  # the tutorial's

    @dataclass(frozen=True)
    class Config(GANConfig):
        z_dim: Width = 100
        g_hidden: LayerWidths = (128,)
        d_hidden: LayerWidths = (128,)

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        out = [nn.Sigmoid()] if self.is_image else []  # images live in [0, 1]; points are unbounded
        self.G = nn.Sequential(mlp([config.z_dim, *config.g_hidden, self.data_dim]), *out)
        # The tutorial's D uses ReLU; on 2-D toy data a leaky ReLU keeps gradients alive off the modes.
        d_act = nn.ReLU if self.is_image else leaky(0.2)
        self.D = mlp([self.data_dim, *config.d_hidden, 1], activation=d_act)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z).view(z.shape[0], *self.data_shape)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.D(x.reshape(x.shape[0], -1)).squeeze(1), None
