"""GAN objectives as small swappable objects, chosen by name (``model.loss=...``).

Each objective turns discriminator outputs (logits or critic values) into the
discriminator's and the generator's loss. Objectives that need more than the outputs
(a gradient penalty, weight clipping) say so through :meth:`GANObjective.penalty` and
:attr:`GANObjective.clip`.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Union

import torch
import torch.nn.functional as F

from ..errors import ConfigError

_OBJECTIVES: dict[str, type["GANObjective"]] = {}
Tensors = Union[torch.Tensor, tuple[torch.Tensor, ...]]


def register_objective(name: str):
    """Class decorator: make a GAN objective available as ``name``."""

    def wrap(cls):
        cls.name = name
        _OBJECTIVES[name] = cls
        return cls

    return wrap


def get_objective(name: str, penalty_weight: float = 10.0) -> "GANObjective":
    """A fresh objective instance by name; a ConfigError lists the known names otherwise.

    ``penalty_weight`` is the lambda of a gradient penalty (``wgan-gp``); other objectives ignore it.
    """
    try:
        cls = _OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown GAN loss {name!r}; known: {', '.join(sorted(_OBJECTIVES))}") from None
    return cls(penalty_weight)


def objective_names() -> list[str]:
    return sorted(_OBJECTIVES)


class GANObjective:
    """Base class: maps D's outputs on real and fake data to the two players' losses.

    Convention for every objective: a larger output means "more real". ``d_real``/``d_fake``
    are (B,) tensors of logits or critic values.
    """

    name: ClassVar[str] = ""
    clip: ClassVar[float | None] = None  # clamp D's weights to [-clip, clip] after each step
    # D's decision threshold for the logged accuracy: 0 for a logit, 0.5 for LSGAN's targets,
    # None for a critic whose offset is arbitrary (the midpoint of the mean scores is used).
    threshold: ClassVar[float | None] = 0.0
    uses_real_in_generator: ClassVar[bool] = False  # generator() needs d_real too (Softmax GAN)
    allows_batch_norm: ClassVar[bool] = True  # False where a per-example gradient penalty is taken
    # True where the loss of an example depends on the other examples of the batch (a softmax over it):
    # data-parallel ranks then compute what micro-batches do, not the whole batch (GenerativeModel.couples_batch).
    couples_batch: ClassVar[bool] = False
    # The paper's optimisation settings; a model uses them for whatever its config leaves unset.
    recommended: ClassVar[dict] = {}

    def __init__(self, penalty_weight: float = 10.0) -> None:
        if penalty_weight < 0:
            raise ConfigError(f"the gradient penalty's weight must be >= 0, not {penalty_weight}")
        self.penalty_weight = penalty_weight

    def discriminator(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, d_fake: torch.Tensor, d_real: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def penalty(
        self, critic: Callable[..., torch.Tensor], real: Tensors, fake: Tensors,
        rand: Callable[[int], torch.Tensor] | None = None,
    ) -> torch.Tensor | None:
        """An extra discriminator term computed from the critic itself (None: no penalty).

        ``real`` and ``fake`` are D's inputs: one tensor, or a tuple (e.g. BiGAN's (x, z)) that
        ``critic(*inputs)`` takes. ``rand(n)``: n U(0, 1) draws for a penalty that needs
        them (the model passes its rank-sliced ``rand``; ``torch.rand`` when None).
        """
        return None

    @torch.no_grad()
    def accuracy(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """How often D puts a real example above, and a fake one below, its threshold."""
        t = self.threshold if self.threshold is not None else 0.5 * (d_real.mean() + d_fake.mean())
        return 0.5 * ((d_real > t).float().mean() + (d_fake < t).float().mean())


@register_objective("minimax")
class Minimax(GANObjective):
    """Goodfellow et al. (2014): D maximises log D(x) + log(1 - D(G(z))); G minimises log(1 - D(G(z))).

    G's gradient vanishes when D confidently rejects fakes, which is why ``nonsaturating``
    is the default.
    """

    def discriminator(self, d_real, d_fake):
        # -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l)
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def generator(self, d_fake, d_real=None):
        return -F.softplus(d_fake).mean()  # = mean log(1 - D(G(z)))


@register_objective("nonsaturating")
class NonSaturating(Minimax):
    """Goodfellow et al. (2014), section 3: G maximises log D(G(z)) instead; same fixed point, strong early gradients."""

    def generator(self, d_fake, d_real=None):
        return F.softplus(-d_fake).mean()  # = -mean log D(G(z))


@register_objective("lsgan")
class LeastSquares(GANObjective):
    """Mao et al. (2017), "Least Squares GANs": D regresses real to 1 and fake to 0, G pulls fakes to 1.

    Minimising these squares minimises a Pearson chi-squared divergence; the loss keeps pushing
    fakes that are on the right side of the boundary but far from the data, so G's gradient
    does not vanish the way the saturating log loss does.
    """

    threshold = 0.5

    def discriminator(self, d_real, d_fake):
        return 0.5 * (d_real - 1).pow(2).mean() + 0.5 * d_fake.pow(2).mean()

    def generator(self, d_fake, d_real=None):
        return 0.5 * (d_fake - 1).pow(2).mean()


@register_objective("wgan")
class Wasserstein(GANObjective):
    """Arjovsky et al. (2017), "Wasserstein GAN": a critic estimates W1 = E f(x) - E f(G(z)).

    The critic must be 1-Lipschitz; the paper enforces it crudely by clipping every weight to
    [-0.01, 0.01] after each step, and trains with RMSprop 5e-5 and 5 critic steps per
    generator step (momentum-based optimisers were unstable with clipping).
    """

    clip = 0.01
    threshold = None
    recommended = {"optimizer": "rmsprop", "lr": 5e-5, "d_steps": 5}

    def discriminator(self, d_real, d_fake):
        return d_fake.mean() - d_real.mean()

    def generator(self, d_fake, d_real=None):
        return -d_fake.mean()


@register_objective("wgan-gp")
class WassersteinGP(Wasserstein):
    """Gulrajani et al. (2017), "Improved Training of Wasserstein GANs": a gradient penalty instead of clipping.

    lambda E[(|grad_x f(x_hat)|_2 - 1)^2] on x_hat = eps x + (1 - eps) G(z), eps ~ U(0, 1) per
    example, with lambda = 10 (``penalty_weight``; the authors' own toy-data code uses 0.1);
    Adam 1e-4, betas (0.5, 0.9), 5 critic steps. The penalty is per example, so the critic must
    not use batch norm (layer norm or none instead).
    """

    clip = None
    allows_batch_norm = False
    recommended = {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.9), "d_steps": 5}

    def penalty(self, critic, real, fake, rand=None):
        reals = real if isinstance(real, (tuple, list)) else (real,)
        fakes = fake if isinstance(fake, (tuple, list)) else (fake,)
        r0 = reals[0]
        eps = (torch.rand(r0.shape[0], device=r0.device) if rand is None else rand(r0.shape[0])).to(r0.dtype)
        x_hat = [
            (eps.view(-1, *[1] * (r.dim() - 1)) * r.detach() + (1 - eps.view(-1, *[1] * (r.dim() - 1))) * f.detach())
            .requires_grad_(True)
            for r, f in zip(reals, fakes)
        ]
        out = critic(*x_hat)
        grads = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        norm = torch.cat([g.flatten(1) for g in grads], dim=1).norm(2, dim=1)  # (B,)
        return self.penalty_weight * (norm - 1).pow(2).mean()


@register_objective("hinge")
class Hinge(GANObjective):
    """The hinge loss (Lim & Ye 2017; Miyato et al. 2018): D max(0, 1 - D(x)) + max(0, 1 + D(G(z))), G -D(G(z))."""

    def discriminator(self, d_real, d_fake):
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def generator(self, d_fake, d_real=None):
        return -d_fake.mean()


@register_objective("softmax")
class Softmax(GANObjective):
    """Lin (2017), "Softmax GAN": a softmax over the whole batch of real and fake examples.

    With D's output l = -energy and Z = sum over the batch B = B+ u B- of exp(l):
    D's target puts probability 1/|B+| on each real example, L_D = -mean_{B+} l + log Z;
    G's target is uniform over all of B, L_G = -mean_B l + log Z. G's loss needs the real
    scores too (only through Z and the mean), hence ``uses_real_in_generator``.
    """

    threshold = None
    uses_real_in_generator = True
    couples_batch = True  # log Z sums over the whole batch

    def discriminator(self, d_real, d_fake):
        return -d_real.mean() + torch.logsumexp(torch.cat([d_real, d_fake]), dim=0)

    def generator(self, d_fake, d_real=None):
        if d_real is None:
            raise ValueError("the softmax objective's generator loss needs d_real")
        scores = torch.cat([d_real, d_fake])
        return -scores.mean() + torch.logsumexp(scores, dim=0)
