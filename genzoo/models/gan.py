"""The original GAN: an MLP generator and discriminator playing a minimax game.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).
The tutorial layout: G: z(100) -> 128 -> 784 sigmoid; D: 784 -> 128 -> 1; Adam 1e-3, batch 64.
D takes ``d_steps`` (the paper's k) steps per generator step. The generator loss defaults
to the non-saturating form (the paper's own recommendation, and what the tutorial code
actually trains); ``loss=minimax`` gives the literal min log(1 - D(G(z))), and every other
objective of :mod:`genzoo.models.objectives` (lsgan, wgan, wgan-gp, hinge, softmax) plugs in
the same way. The step itself is shared by the whole family (:mod:`._gan_common`), packing
(``pack``, PacGAN) included.

The networks of the 2-D mixture experiments of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018) are options: ``g_batch_norm`` (batch norm and ReLU after each hidden layer of G,
whose hidden layers then have no bias), ``d_maxout`` (maxout hidden units with that many pieces in
D) and ``init_std`` (weights N(0, init_std^2), biases 0). PacGAN's toy setting is z_dim=2,
g_hidden=[400, 400, 400, 400], g_batch_norm=true, d_hidden=[200, 200, 200], d_maxout=5,
init_std=0.02, Adam 1e-4 with betas (0.8, 0.999), batches of 100 packs (benchmarks/toy_modes.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import LayerWidths, NonNegativeFloat, NonNegativeInt, Width
from ..errors import ConfigError
from ..registry import register
from ._gan_common import AdversarialModel, GANConfig
from .nets import leaky, maxout_mlp, mlp

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
        g_batch_norm: bool = False  # batch norm after each hidden layer of G (bias-free hidden layers)
        d_maxout: NonNegativeInt = 0  # maxout pieces per hidden unit of D (0: ReLU on images, leaky ReLU on points)
        init_std: NonNegativeFloat = 0.0  # weights ~ N(0, init_std^2) and zero biases (0: PyTorch's default init)

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if config.d_maxout and not config.d_hidden:
            raise ConfigError("model.d_maxout needs hidden layers in D (model.d_hidden)")
        out = [nn.Sigmoid()] if self.is_image else []  # images live in [0, 1]; points are unbounded
        g_sizes = [config.z_dim, *config.g_hidden, self.data_dim]
        self.G = nn.Sequential(mlp(g_sizes, batch_norm=config.g_batch_norm), *out)
        if config.g_batch_norm:  # a bias before batch norm is cancelled by its mean
            for layer in list(self.G[0])[:-1]:
                if isinstance(layer, nn.Linear):
                    layer.bias = None
        d_sizes = [self.data_dim * config.pack, *config.d_hidden, 1]
        if config.d_maxout:
            self.D = maxout_mlp(d_sizes, config.d_maxout)
        else:
            # The tutorial's D uses ReLU; on 2-D toy data a leaky ReLU keeps gradients alive off the modes.
            self.D = mlp(d_sizes, activation=nn.ReLU if self.is_image else leaky(0.2))
        if config.init_std:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=config.init_std)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z).view(z.shape[0], *self.data_shape)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.D(x.reshape(x.shape[0], -1)).squeeze(1), None
