"""The original GAN: an MLP generator and discriminator playing a minimax game.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).
The tutorial layout: G: z(100) -> 128 -> 784 sigmoid; D: 784 -> 128 -> 1; Adam 1e-3, batch 64.
D takes ``d_steps`` (the paper's k) steps per generator step. The generator loss defaults
to the non-saturating form (the paper's own recommendation, and what the tutorial code
actually trains); ``loss=minimax`` gives the literal min log(1 - D(G(z))).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..registry import register
from .base import Batch, GenerativeModel, OptimGroup
from .objectives import get_objective


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


@register("gan")
class GAN(GenerativeModel):
    """MLP GAN for images (flattened) and 2-D toy data."""

    @dataclass(frozen=True)
    class Config:
        z_dim: int = 100
        g_hidden: tuple[int, ...] = (128,)
        d_hidden: tuple[int, ...] = (128,)
        loss: str = "nonsaturating"  # any registered GAN objective
        d_steps: int = 1  # k discriminator steps per generator step
        lr: float = 1e-3
        betas: tuple[float, float] = (0.9, 0.999)

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        self.objective = get_objective(config.loss)
        out = [nn.Sigmoid()] if self.is_image else []  # images live in [0, 1]; points are unbounded
        self.G = nn.Sequential(mlp([config.z_dim, *config.g_hidden, self.data_dim]), *out)
        # The tutorial's D uses ReLU; on 2-D toy data a leaky ReLU keeps gradients alive off the modes.
        d_act = nn.ReLU if self.is_image else (lambda: nn.LeakyReLU(0.2))
        self.D = mlp([self.data_dim, *config.d_hidden, 1], activation=d_act)

    def optimizer_groups(self) -> list[OptimGroup]:
        c = self.config
        return [
            OptimGroup("discriminator", list(self.D.parameters()), lr=c.lr, betas=c.betas, steps=c.d_steps),
            OptimGroup("generator", list(self.G.parameters()), lr=c.lr, betas=c.betas, fresh_batch=False),
        ]

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z).view(z.shape[0], *self.data_shape)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x
        B = x.shape[0]
        z = self.randn(B, self.config.z_dim)
        if group == "discriminator":
            with torch.no_grad():
                x_fake = self.generate(z)
            # One forward over real and fake together: batch statistics stay consistent under DDP.
            d = self.D(torch.cat([x, x_fake]).view(2 * B, -1)).squeeze(1)
            D_real, D_fake = d[:B], d[B:]
            loss = self.objective.discriminator(D_real, D_fake)
            penalty = self.objective.penalty(lambda v: self.D(v.view(v.shape[0], -1)).squeeze(1), x, x_fake)
            out = {"discriminator": loss if penalty is None else loss + penalty}
            with torch.no_grad():
                out["d_accuracy"] = 0.5 * ((D_real > 0).float().mean() + (D_fake < 0).float().mean())
                out["d_real"] = D_real.mean()
                out["d_fake"] = D_fake.mean()
            return out
        if group == "generator":
            D_fake = self.D(self.G(z)).squeeze(1)
            return {"generator": self.objective.generator(D_fake)}
        raise KeyError(group)

    def on_step_end(self, group: str) -> None:
        if group == "discriminator" and self.objective.clip is not None:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.objective.clip, self.objective.clip)

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        return self.generate(z)
