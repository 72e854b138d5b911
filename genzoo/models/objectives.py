"""GAN objectives as small swappable objects, chosen by name (``model.loss=...``).

Each objective turns discriminator outputs (logits or critic values) into the
discriminator's and the generator's loss. Objectives that need more than the outputs
(a gradient penalty, weight clipping) say so through :meth:`GANObjective.penalty` and
:attr:`GANObjective.clip`.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import torch
import torch.nn.functional as F

from ..errors import ConfigError

_OBJECTIVES: dict[str, type["GANObjective"]] = {}


def register_objective(name: str):
    """Class decorator: make a GAN objective available as ``name``."""

    def wrap(cls):
        cls.name = name
        _OBJECTIVES[name] = cls
        return cls

    return wrap


def get_objective(name: str) -> "GANObjective":
    """A fresh objective instance by name; a ConfigError lists the known names otherwise."""
    try:
        return _OBJECTIVES[name]()
    except KeyError:
        raise ConfigError(f"unknown GAN loss {name!r}; known: {', '.join(sorted(_OBJECTIVES))}") from None


def objective_names() -> list[str]:
    return sorted(_OBJECTIVES)


class GANObjective:
    """Base class: maps D's outputs on real and fake data to the two players' losses."""

    name: ClassVar[str] = ""
    clip: ClassVar[float | None] = None  # clamp D's weights to [-clip, clip] after each step
    outputs_probability: ClassVar[bool] = True  # D's output is a logit (else an unbounded critic)

    def discriminator(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(
        self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor | None:
        """An extra discriminator term computed from the critic itself (None: no penalty)."""
        return None


@register_objective("minimax")
class Minimax(GANObjective):
    """Goodfellow et al. (2014): D maximises log D(x) + log(1 - D(G(z))); G minimises log(1 - D(G(z))).

    G's gradient vanishes when D confidently rejects fakes, which is why ``nonsaturating``
    is the default.
    """

    def discriminator(self, d_real, d_fake):
        # -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l)
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def generator(self, d_fake):
        return -F.softplus(d_fake).mean()  # = mean log(1 - D(G(z)))


@register_objective("nonsaturating")
class NonSaturating(Minimax):
    """Goodfellow et al. (2014), section 3: G maximises log D(G(z)) instead; same fixed point, strong early gradients."""

    def generator(self, d_fake):
        return F.softplus(-d_fake).mean()  # = -mean log D(G(z))
