"""DCGAN: convolutional generator and discriminator with batch norm.

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434).

Two layouts (:mod:`genzoo.models.nets`): ``mnist``, the tutorials' MNIST network (G: z(96) ->
fc 1024 -> fc 7x7x128 -> transposed conv 64 -> transposed conv 1, batch norm after each hidden
layer; D: two k5 conv + max-pool blocks, fc 1024, fc 1), and ``allconv``, the paper's
all-convolutional network for 32x32 / 64x64 RGB (strided convs, no pooling, batch norm, ReLU
in G and leaky ReLU in D). ``auto`` picks mnist for 28x28 images. Adam 2e-4, betas (0.5, 0.999)
as in the paper (1e-3 for the mnist layout, as in the tutorials); any objective of
:mod:`genzoo.models.objectives` plugs in (``model.loss``).

The defaults are the recipe chosen by measurement on MNIST (``benchmarks/dcgan_defaults.py``;
docs/benchmarks.md, "Choosing the DCGAN's recipe"): the mnist layout at width 32 (allconv keeps
the paper's 64), the R1 penalty on D with gamma 1 (Mescheder et al. 2018), a learning rate that
halves every 10,000 iterations (``train.lr_halflife``) and an exponential moving average of the
weights (``train.ema`` 0.999) for sampling. The tutorials' recipe is ``width=64 r1=0
train.ema=0 train.lr_halflife=0``; without R1 the same network stalled at LeNet-FID 268-349 with
its class mix drifting. With a constant learning rate the FID rose again after about 17,000
iterations at two seeds of three, with or without packing (``pack=2``, the previous default);
with the half-life it stayed within the seed spread to 26,000 iterations.

Batch norm and data parallelism: D sees real and fake examples in one concatenated forward
(the shared step in :mod:`._gan_common`), so its batch statistics mix both, as in one process.
Toy 2-D data have no image to convolve: they raise a ConfigError naming the MLP models.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import NonNegativeFloat, Width
from ..registry import register
from ._gan_common import AdversarialModel, ConvConfig


@register("dcgan")
class DCGAN(AdversarialModel):
    """Deep convolutional GAN (Radford et al. 2016): the tutorials' MNIST layout or the all-conv layout."""

    layout_widths = {"mnist": 32, "allconv": 64}
    train_defaults = {"ema": 0.999, "lr_halflife": 10_000}

    @dataclass(frozen=True)
    class Config(ConvConfig):
        z_dim: Width = 96
        width: Width | None = None  # channel multiplier; None: 32 for the mnist layout, 64 (the paper's) for allconv
        r1: NonNegativeFloat = 1.0  # gamma of the R1 penalty on D

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        arch = self.resolve_arch()
        self.G = self.build_generator(arch, config.z_dim)
        body = self.build_body(arch)
        self.D = nn.Sequential(body, nn.Linear(body.out_dim, 1))

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        f = self.D[0](x)  # (B, F)
        return self.D[1](f).squeeze(1), f
