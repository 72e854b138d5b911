"""InfoGAN: a GAN whose generator input carries codes that an auxiliary head must recover.

Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", NeurIPS 2016 (arXiv:1606.03657).

    min_{G,Q} max_D  V(D, G) - lambda L_I(G, Q),
    L_I = E_{c ~ p(c), x ~ G(z, c)} log Q(c | x) + H(c)  <=  I(c; G(z, c))

G's input is [z, c]: noise z, a categorical code (``categorical`` values, one-hot, uniform) and
``continuous`` codes ~ U(-1, 1). Q shares D's body and adds a small head: logits of the
categorical code and the means of a unit-variance Gaussian for the continuous ones, so
-log Q(c | x) is a cross-entropy plus half a squared error (weighted by ``continuous_weight``,
the paper's smaller lambda for continuous codes). D's body and Q learn the term in D's step,
G in its own step. On MNIST the categorical code tends to pick up the digit class and the
continuous codes rotation and width, with no labels at all.

``sample(n, labels=k)`` fixes the categorical code to k (it is not a digit label);
:func:`genzoo.viz.latent.code_traversal` and ``genzoo traverse RUN`` draw the grid of one row
per categorical value and one column per value of a continuous code.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NonNegativeFloat, NonNegativeInt, Width
from ..errors import ConfigError
from ..registry import register
from ._gan_common import AdversarialModel, Remedied, RemediedConfig


@register("infogan")
class InfoGAN(Remedied, AdversarialModel):
    """InfoGAN (Chen et al. 2016): categorical + continuous codes recovered by a Q head on D's body."""

    code_traversal = True

    @dataclass(frozen=True)
    class Config(RemediedConfig):
        z_dim: Width = 62
        categorical: NonNegativeInt = 10  # values of the categorical code (0: none)
        continuous: NonNegativeInt = 2  # number of continuous codes, each U(-1, 1)
        info_weight: NonNegativeFloat = 1.0  # lambda
        continuous_weight: NonNegativeFloat = 0.1  # relative weight of the continuous codes' term
        q_hidden: Width = 128

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if config.categorical < 0 or config.continuous < 0 or config.categorical + config.continuous == 0:
            raise ConfigError("infogan needs at least one code: model.categorical > 1 or model.continuous > 0")
        if config.categorical == 1:
            raise ConfigError("model.categorical must be 0 or at least 2")
        arch = self.resolve_arch()
        self.code_dim = config.categorical + config.continuous
        self.G = self.build_generator(arch, config.z_dim + self.code_dim)
        body = self.build_body(arch)
        self.D = nn.ModuleDict({
            "body": body,
            "head": nn.Linear(body.out_dim, 1),
            # The paper's Q head on conv bodies: FC 128 - batch norm - leaky ReLU 0.1 - FC. The batch
            # norm matters there: without it Q learned nothing from the conv D's features on MNIST
            # (cross-entropy stuck at log 10 for 500 steps); on MLP bodies Q learns without it.
            "q": nn.Sequential(nn.Linear(body.out_dim, config.q_hidden),
                               nn.BatchNorm1d(config.q_hidden) if arch == "conv" else nn.Identity(),
                               nn.LeakyReLU(0.1), nn.Linear(config.q_hidden, self.code_dim * config.pack)),
        })

    # -- codes ---------------------------------------------------------------------------
    def compose(self, z: torch.Tensor, categorical: torch.Tensor | None, continuous: torch.Tensor | None) -> torch.Tensor:
        """The generator input [z, one-hot(categorical), continuous] from its parts."""
        parts = [z]
        if self.config.categorical:
            parts.append(F.one_hot(categorical.long(), self.config.categorical).to(z.dtype))
        if self.config.continuous:
            parts.append(continuous.to(z.dtype))
        return torch.cat(parts, dim=1)

    def _codes_from_normal(self, g: torch.Tensor) -> torch.Tensor:
        """Codes from standard normal draws (B, K + C): argmax of K normals is a uniform category,
        erf(u / sqrt 2) of a normal is U(-1, 1); so all noise goes through randn (rank-sliced under DDP)."""
        K = self.config.categorical
        cat = g[:, :K].argmax(1) if K else None
        cont = torch.erf(g[:, K:] / 2**0.5) if self.config.continuous else None
        return cat, cont

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.randn_from(generator, n, self.config.z_dim + self.code_dim)
        cat, cont = self._codes_from_normal(z[:, self.config.z_dim:])
        return self.compose(z[:, : self.config.z_dim], cat, cont)

    def training_latent(self, n: int) -> torch.Tensor:
        z = self.randn(n, self.config.z_dim + self.code_dim)
        cat, cont = self._codes_from_normal(z[:, self.config.z_dim:])
        return self.compose(z[:, : self.config.z_dim], cat, cont)

    def split(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Inverse of :meth:`compose`: (z, categorical index or None, continuous codes or None)."""
        c = self.config
        z, one, cont = latent.split([c.z_dim, c.categorical, c.continuous], dim=1)
        return z, (one.argmax(1) if c.categorical else None), (cont if c.continuous else None)

    @torch.no_grad()
    def infer_codes(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Q's reading of images or points: categorical logits (B, K) and continuous means (B, C).

        With ``pack`` = m Q reads packs of m consecutive examples, so B must divide by m."""
        q = self.D["q"](self.D["body"](self.pack_inputs(x))).reshape(x.shape[0], self.code_dim)
        K = self.config.categorical
        return (q[:, :K] if K else None), (q[:, K:] if self.config.continuous else None)

    # -- the game ------------------------------------------------------------------------
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        f = self.D["body"](x)  # (B, F)
        return self.D["head"](f).squeeze(1), f

    def auxiliary(self, features_fake: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        q = self.D["q"](features_fake).reshape(z.shape[0], self.code_dim)  # a pack's Q: every member's codes
        _, cat, cont = self.split(z)
        out: dict[str, torch.Tensor] = {}
        loss = torch.zeros((), device=z.device)
        if c.categorical:
            logits = q[:, : c.categorical]
            out["info_categorical"] = F.cross_entropy(logits, cat)
            out["info_accuracy"] = (logits.argmax(1) == cat).float().mean()
            loss = loss + out["info_categorical"]
        if c.continuous:
            out["info_continuous"] = 0.5 * (q[:, c.categorical:] - cont).pow(2).sum(1).mean()
            loss = loss + c.continuous_weight * out["info_continuous"]
        out["aux"] = c.info_weight * loss
        return out

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        if labels is not None and self.config.categorical:  # labels fix the categorical code
            noise, _, cont = self.split(z)
            z = self.compose(noise, labels.to(z.device), cont)
        return self.generate(z)
