"""What every adversarial model in genzoo shares: the config fields, the D/G step, instance noise, health.

A model subclasses :class:`AdversarialModel`, builds ``self.G`` and ``self.D`` and implements
:meth:`~AdversarialModel.generate` and :meth:`~AdversarialModel.discriminate`; the standard step
(:meth:`~AdversarialModel.losses`) then covers unconditional and label-conditional GANs with any
objective from :mod:`genzoo.models.objectives`. Models with a different game (BiGAN's joint
discriminator, the semi-supervised GAN's K+1 classes) write their own ``losses`` from the
same pieces (:meth:`~AdversarialModel.discriminator_terms`, :meth:`~AdversarialModel.perturb`).

Instance noise (Sonderby et al. 2017; Arjovsky & Bottou 2017): Gaussian noise of standard
deviation ``instance_noise * max(0, 1 - step / instance_noise_steps)`` added to every input of D,
real and fake alike, so the two distributions overlap early in training and D cannot separate
them perfectly; it anneals to zero.

R1 (Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually Converge?", ICML
2018): with ``r1 = gamma > 0`` D's loss gains (gamma / 2) E_x ||grad_x D(x)||^2 on the real
inputs D judges (after instance noise and packing; x in genzoo's [0, 1] pixels), which keeps D
flat on the data so that the game settles instead of circling; any objective takes it.

Packing (PacGAN; Lin, Khetan, Fanti & Oh, NeurIPS 2018): with ``pack=m`` D judges m samples at
once, all real or all generated, concatenated along their first axis (m x 2 coordinates of
points, m x C channels of images). A generator that drops modes makes packs whose members are
too alike, which a packed D sees, so packing penalises mode collapse. The shared step packs
consecutive examples of each shard's batch (which must divide by m) after instance noise; D is
built for the packed shape (:attr:`AdversarialModel.d_input_shape`); an objective's loss, D's
accuracy and a gradient penalty then work per pack. Label-conditional models receive each
pack's labels as (B / m, m); InfoGAN's Q reads a pack and predicts every member's codes. Models
with their own game set ``packing = False`` and refuse ``pack > 1``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import (
    LayerWidths, NonNegativeFloat, NonNegativeInt, OneOf, Optimizer, PositiveFloat, PositiveInt, Range, Width, Widths,
)
from ..errors import ConfigError
from .base import Batch, GenerativeModel, Health, OptimGroup
from .nets import ConvBody, ConvGenerator, MLPBody, MLPGenerator, resolve_arch, resolve_layout
from .objectives import get_objective


@dataclass(frozen=True)
class GANConfig:
    """Fields every GAN config has. ``None`` optimisation fields take the objective's paper settings
    (``wgan``: RMSprop 5e-5, 5 critic steps; ``wgan-gp``: Adam 1e-4, betas (0.5, 0.9), 5 critic
    steps), else the model's defaults."""

    z_dim: Width = 64
    loss: str = "nonsaturating"  # minimax | nonsaturating | lsgan | wgan | wgan-gp | hinge | softmax
    optimizer: Optimizer | None = None  # adam | adamw | rmsprop | sgd
    lr: PositiveFloat | None = None
    betas: Annotated[tuple[float, float], Range(0, 1, high_open=True)] | None = None
    d_steps: PositiveInt | None = None  # discriminator (critic) steps per generator step
    penalty_weight: NonNegativeFloat = 10.0  # lambda of wgan-gp's gradient penalty
    instance_noise: NonNegativeFloat = 0.0  # initial std of the noise added to D's inputs; 0 turns it off
    instance_noise_steps: PositiveInt = 10_000  # steps over which it anneals linearly to 0
    pack: PositiveInt = 1  # PacGAN: D judges this many samples concatenated (1: the usual single-sample D)
    r1: NonNegativeFloat = 0.0  # gamma of the R1 penalty (gamma / 2) E||grad_x D(x)||^2 on real data; 0 turns it off


@dataclass(frozen=True)
class ConvConfig(GANConfig):
    """A GAN with the convolutional bodies of :mod:`.nets` (``layout``, ``width``, ``depth``)."""

    layout: Annotated[str, OneOf("auto", "mnist", "allconv")] = "auto"  # auto (mnist for 28x28, allconv otherwise) | mnist | allconv
    width: Width = 64  # channel multiplier (64: the papers' numbers)
    depth: NonNegativeInt = 0  # resolution doublings in G (and halvings in D); 0: from the image size
    d_norm: Annotated[str, OneOf("auto", "batch", "layer", "none")] = "auto"  # batch | layer | none; auto: none for mnist, batch for allconv, layer under wgan-gp


@dataclass(frozen=True)
class FamilyConfig(ConvConfig):
    """A GAN that runs on images (conv bodies) and on 2-D points (MLP bodies) alike."""

    arch: Annotated[str, OneOf("auto", "conv", "mlp")] = "auto"  # auto (conv for images, mlp for points) | conv | mlp
    g_hidden: LayerWidths = (256, 256)  # MLP widths (arch=mlp)
    d_hidden: Widths = (256, 256)


@dataclass(frozen=True)
class RemediedConfig(FamilyConfig):
    """A family GAN whose defaults on images are dcgan's measured remedies (:class:`Remedied`)."""

    width: Width | None = None  # channel multiplier; None: 16 for the mnist layout (the measured recipe), 64 for allconv
    r1: NonNegativeFloat | None = None  # gamma of the R1 penalty; None: 1 on images (the measured recipe), 0 on 2-D points


class AdversarialModel(GenerativeModel):
    """Base class of the GAN family: optimizer groups, the standard D/G step, clipping, health."""

    # The model's own optimisation defaults, used where neither config nor objective says.
    default_optim: ClassVar[dict] = {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "d_steps": 1}
    # Whether the model's game takes model.pack > 1 (models that write their own losses say False).
    packing: ClassVar[bool] = True

    def __init__(self, config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        self.objective = get_objective(config.loss, config.penalty_weight)
        if config.instance_noise < 0 or config.instance_noise_steps < 1:
            raise ConfigError("model.instance_noise must be >= 0 and model.instance_noise_steps >= 1")
        if config.pack > 1 and not self.packing:
            raise ConfigError(f"{self.registry_name or type(self).__name__} has its own discriminator game, which does "
                              f"not pack samples: model.pack must be 1, not {config.pack}")

    # -- optimisation -------------------------------------------------------------------
    def optim_setting(self, key: str):
        """The config's value for ``key``, else the objective's recommendation, else the model default.

        The tutorials train the ``mnist`` conv layout with Adam 1e-3 (beta1 0.5): at Radford et
        al.'s 2e-4 its discriminator wins outright within 100 steps, so that layout defaults to 1e-3.
        """
        value = getattr(self.config, key, None)
        if value is not None:
            return value
        default = 1e-3 if key == "lr" and self.layout == "mnist" else self.default_optim[key]
        return self.objective.recommended.get(key, default)

    def generator_parameters(self) -> list:
        return list(self.G.parameters())

    def discriminator_parameters(self) -> list:
        return list(self.D.parameters())

    def optimizer_groups(self) -> list[OptimGroup]:
        opt, lr, betas, k = (self.optim_setting(key) for key in ("optimizer", "lr", "betas", "d_steps"))
        return [
            OptimGroup("discriminator", self.discriminator_parameters(), lr=lr, optimizer=opt, betas=tuple(betas), steps=k),
            OptimGroup("generator", self.generator_parameters(), lr=lr, optimizer=opt, betas=tuple(betas),
                       fresh_batch=False),
        ]

    def d_norm(self, layout: str) -> str:
        """The discriminator's normalisation (``config.d_norm``): ``auto`` is none for the mnist layout
        (the tutorial's D has none), batch norm for allconv, layer norm under a gradient penalty."""
        requested = self.config.d_norm
        if requested == "auto":
            if layout == "mnist":
                return "none"
            return "batch" if self.objective.allows_batch_norm else "layer"
        if requested == "batch" and not self.objective.allows_batch_norm:
            raise ConfigError(f"loss={self.objective.name} penalises per-example gradients: use d_norm=layer or none")
        return requested

    def resolved_config(self):
        """The config with the optimiser settings, ``arch``, ``layout``, ``depth``, ``d_norm`` and ``r1`` this model uses."""
        from dataclasses import fields, replace

        from .nets import stages

        c = self.config
        names = {f.name for f in fields(c)}
        values = {k: self.optim_setting(k) for k in ("optimizer", "lr", "betas", "d_steps")}
        values["betas"] = tuple(values["betas"])
        arch = resolve_arch(c.arch, self.data_shape) if "arch" in names else ("conv" if "layout" in names else "mlp")
        if "arch" in names:
            values["arch"] = arch
        if arch == "conv" and "layout" in names:
            layout = resolve_layout(c.layout, self.data_shape)
            values.update(layout=layout, d_norm=self.d_norm(layout), depth=stages(layout, self.data_shape[1], c.depth)[1],
                          width=self.conv_width)
        if "r1" in names:
            values["r1"] = self.r1_gamma
        return replace(c, **values)

    # -- networks -------------------------------------------------------------------------
    layout: str | None = None  # the resolved conv layout (None for MLP bodies)

    def resolve_arch(self) -> str:
        """``config.arch`` resolved for the data (models without the field are convolutional)."""
        arch = resolve_arch(getattr(self.config, "arch", "conv"), self.data_shape)
        if arch == "conv":
            self.layout = resolve_layout(self.config.layout, self.data_shape)
        return arch

    def build_generator(self, arch: str, in_dim: int) -> nn.Module:
        """G for ``arch``: the conv layouts of :mod:`.nets`, or an MLP (batch norm on images)."""
        c = self.config
        if arch == "conv":
            return ConvGenerator(in_dim, self.data_shape, c.layout, self.conv_width, c.depth)
        return MLPGenerator(in_dim, self.data_shape, tuple(c.g_hidden), batch_norm=self.is_image)

    def build_body(self, arch: str, extra_in: int = 0, noise: tuple[float, float] = (0.0, 0.0),
                   packed: bool = True) -> nn.Module:
        """A discriminator (or encoder) body for ``arch``, with ``extra_in`` extra inputs (label planes)
        per sample; ``noise``: Gaussian noise layers of the MLP body (input std, hidden std).
        ``packed``: sized for D's packed input (``pack`` samples); False for an encoder."""
        c = self.config
        m = c.pack if packed else 1
        shape = self.d_input_shape if packed else self.data_shape
        if arch == "conv":
            layout = resolve_layout(c.layout, self.data_shape)
            return ConvBody(shape, layout, self.conv_width, c.depth, self.d_norm(layout), extra_channels=extra_in * m)
        return MLPBody(self.data_dim * m, tuple(c.d_hidden), extra_in * m, noise)

    # The channel multiplier per conv layout where the config's ``width`` is None (a model's measured default).
    layout_widths: ClassVar[dict[str, int]] = {"mnist": 64, "allconv": 64}

    @property
    def conv_width(self) -> int:
        """``config.width``, or where it is None the model's width for its resolved layout."""
        width = self.config.width
        return width if width is not None else self.layout_widths[resolve_layout(self.config.layout, self.data_shape)]

    @property
    def d_input_shape(self) -> tuple[int, ...]:
        """The shape of one input of D: ``pack`` examples concatenated along their first axis."""
        return (self.data_shape[0] * self.config.pack, *self.data_shape[1:])

    def pack_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, ...) -> (B / m, m C, ...): each run of m consecutive examples becomes one input of D."""
        m = self.config.pack
        if m == 1:
            return x
        if x.shape[0] % m:
            raise ConfigError(f"model.pack={m} needs each shard's batch (train.batch_size / (ranks x "
                              f"micro_batches)) to divide by {m}, but a shard has {x.shape[0]} examples")
        return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    def pack_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """(B,) labels -> (B / m, m): the labels of each pack's members (unchanged when pack = 1)."""
        m = self.config.pack
        return y if y is None or m == 1 else y.reshape(-1, m)

    @property
    def d_batch_norm(self) -> bool:
        """Whether D normalises over the batch (then G's step feeds D real and fake together too)."""
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())

    @property
    def couples_batch(self) -> bool:
        """Declared from what the model is: its objective couples the batch (the softmax objective's
        sum over it), or it built batch norm into G or D. Then N processes equal one process with
        ``train.micro_batches=N``, not one process on the whole batch (see GenerativeModel)."""
        return self.objective.couples_batch or any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for net in (self.G, self.D) for m in net.modules())

    # -- the pieces of a step -----------------------------------------------------------
    def instance_noise_std(self) -> float:
        c = self.config
        if c.instance_noise <= 0:
            return 0.0
        return c.instance_noise * max(0.0, 1.0 - self.global_step / c.instance_noise_steps)

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        """D's view of ``x``: with annealed instance noise while it is on."""
        std = self.instance_noise_std()
        return x if std == 0 else x + std * self.randn(*x.shape)

    def discriminator_terms(
        self, D_real: torch.Tensor, D_fake: torch.Tensor, critic: Callable[..., torch.Tensor], real, fake
    ) -> dict[str, torch.Tensor]:
        """D's loss (plus the objective's penalty on ``critic``) and the logged accuracy and mean scores."""
        loss = self.objective.discriminator(D_real, D_fake)
        out: dict[str, torch.Tensor] = {}
        penalty = self.objective.penalty(critic, real, fake, rand=self.rand)
        if penalty is not None:
            out["gradient_penalty"] = penalty.detach()
            loss = loss + penalty
        if self.r1_gamma > 0:
            r1 = self.r1_penalty(critic, real)
            out["r1_penalty"] = r1.detach()
            loss = loss + r1
        out["discriminator"] = loss
        out["d_accuracy"] = self.objective.accuracy(D_real.detach(), D_fake.detach())
        out["d_real"], out["d_fake"] = D_real.detach().mean(), D_fake.detach().mean()
        return out

    @property
    def r1_gamma(self) -> float:
        """``config.r1``; where a model's config leaves it None, 1 on images and 0 on 2-D points."""
        r1 = self.config.r1
        return r1 if r1 is not None else (1.0 if self.is_image else 0.0)

    def r1_penalty(self, critic: Callable[..., torch.Tensor], real) -> torch.Tensor:
        """(r1 / 2) E ||grad D||^2 at the real inputs ``real`` (one tensor, or a tuple that ``critic(*real)`` takes)."""
        reals = real if isinstance(real, (tuple, list)) else (real,)
        x = [r.detach().requires_grad_(True) for r in reals]
        grads = torch.autograd.grad(critic(*x).sum(), x, create_graph=True)
        return 0.5 * self.r1_gamma * torch.cat([g.flatten(1) for g in grads], dim=1).pow(2).sum(1).mean()

    def on_step_end(self, group: str) -> None:
        if group == "discriminator" and self.objective.clip is not None:
            with torch.no_grad():
                for p in self.discriminator_parameters():
                    p.clamp_(-self.objective.clip, self.objective.clip)

    # -- hooks of the standard step -----------------------------------------------------
    def training_latent(self, n: int) -> torch.Tensor:
        """The generator's input for a training batch (InfoGAN adds its codes)."""
        return self.randn(n, self.config.z_dim)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    def training_labels(self, batch: Batch) -> torch.Tensor | None:
        """Labels the generator and D are conditioned on (None for unconditional models)."""
        return None

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's scores (B,) and the features its head reads (B, F), or None where it has none.

        ``x`` has D's input shape (:attr:`d_input_shape`: packs of examples when ``pack`` > 1) and
        ``y`` the labels (B,), or each pack's labels (B, pack) when ``pack`` > 1."""
        raise NotImplementedError

    def auxiliary(self, features_fake: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra terms on the fakes that both players minimise, key ``"aux"`` (InfoGAN's MI bound)."""
        return {}

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x
        B = x.shape[0]
        y = self.training_labels(batch)
        z = self.training_latent(B)
        # D judges packs of examples (pack = 1: single examples): n packs of real, n of fake,
        # with each pack's labels yp.
        pack, yp = self.pack_inputs, self.pack_labels(y)
        n = B // self.config.pack
        yp2 = None if yp is None else torch.cat([yp, yp])
        if group == "discriminator":
            with torch.no_grad():
                x_fake = self.generate(z, y)
            real, fake = pack(self.perturb(x)), pack(self.perturb(x_fake))
            # One forward over real and fake together: batch-norm statistics see both, also under DDP.
            d, feats = self.discriminate(torch.cat([real, fake]), yp2)
            out = self.discriminator_terms(d[:n], d[n:], lambda v: self.discriminate(v, yp)[0], real, fake)
            aux = self.auxiliary(feats[n:], z) if feats is not None else {}
        elif group == "generator":
            fake = pack(self.perturb(self.generate(z, y)))
            if self.objective.uses_real_in_generator or self.d_batch_norm:
                # With batch norm in D, a fake-only batch would be normalised differently from the
                # mixed batch D was trained on; G must see the D that D's own step shaped.
                d, feats = self.discriminate(torch.cat([pack(self.perturb(x)), fake]), yp2)
                D_real, D_fake, feats = d[:n], d[n:], (feats[n:] if feats is not None else None)
            else:
                (D_fake, feats), D_real = self.discriminate(fake, yp), None
            out = {"generator": self.objective.generator(D_fake, D_real)}
            aux = self.auxiliary(feats, z) if feats is not None else {}
        else:
            raise KeyError(group)
        if "aux" in aux:
            out[group] = out[group] + aux.pop("aux")
            out.update({k: v.detach() for k, v in aux.items()})
        return out

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        if z is None:
            z = self.latent(n, generator)
        return self.generate(z, labels)

    # -- health ---------------------------------------------------------------------------
    # D winning for a few hundred steps is the normal first phase of a GAN (the tutorial's GAN:
    # accuracy >= 0.99 in up to 10 consecutive windows of 100 steps, seeds 0-4, then it recovers),
    # so a winning D alone warns only when it lasts 3000 steps; a generator loss with no slope at
    # D's verdict (the saturating minimax loss) warns after 3 windows.
    VANISHING_SLOPE = 1e-2  # |dL_G / dD(G(z))| below this: G learns nothing from D
    WINNING_STEPS = 3000

    def generator_slope(self, d_fake: float, d_real: float | None = None) -> float:
        """|d L_G / d score| of this objective's generator loss at D's mean score on the fakes."""
        f = torch.tensor([float(d_fake)], requires_grad=True)
        r = torch.tensor([float(d_real)]) if d_real is not None else None
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.objective.generator(f, r), f)
        return float(grad.abs())

    def health(self, scalars: dict[str, float]) -> Health | None:
        """The window's condition when training goes wrong: G's gradient vanishes, D wins for
        good, or D tells nothing apart (outputs equal). The trainer warns once each, when it persists."""
        acc = scalars.get("d_accuracy")
        if acc is None:
            return None
        d_real, d_fake = scalars.get("d_real"), scalars.get("d_fake")
        if acc >= 0.9 and d_fake is not None and self.generator_slope(d_fake, d_real if self.objective.uses_real_in_generator
                                                      else None) < self.VANISHING_SLOPE:
            return Health("vanishing generator gradient", (
                f"D rejects the fakes (mean score {d_fake:.3g}, accuracy {acc:.3f}) and the {self.objective.name} "
                "generator loss is flat there, so G learns almost nothing; use loss=nonsaturating (the "
                "default), lsgan or wgan-gp"))
        if self.objective.threshold is not None and acc >= 0.99:
            return Health("discriminator wins", (
                f"D has rejected every fake for {self.WINNING_STEPS}+ steps (accuracy {acc:.3f}): the generator "
                "is not catching up (divergence or mode collapse); try model.instance_noise=0.1, a smaller D "
                f"learning rate{'' if self.objective.name == 'lsgan' else ', or loss=lsgan'}"),
                windows=3, steps=self.WINNING_STEPS)
        if d_real is not None and d_fake is not None and abs(acc - 0.5) < 0.01 and \
                abs(d_real - d_fake) <= 1e-6 + 1e-3 * max(abs(d_real), abs(d_fake)):
            return Health("discriminator stopped learning", (
                f"D gives real and fake data the same score ({d_real:.4g}) with accuracy {acc:.3f}: it has "
                "stopped learning (dead units, weights clipped flat or a learning rate of 0), so the generator "
                "gets no signal"))
        return None


def one_hot(y: torch.Tensor | None, k: int) -> torch.Tensor | None:
    """(B,) integer labels -> (B, k) float one-hot, None stays None."""
    return None if y is None else F.one_hot(y.long(), k).float()


class Remedied:
    """Mixin of the family GANs whose image defaults are dcgan's remedies, measured on MNIST.

    On images (``RemediedConfig``'s None fields and ``image_train_defaults``): the mnist layout at
    width 16, the R1 penalty on D with gamma 1, a learning rate halving every 10,000 iterations and
    an EMA (0.999) of the weights for sampling, the zoo's recipes for bigan, infogan and softmax-gan
    (docs/benchmarks.md, "Class mix of the zoo's models"). On the toy 2-D sets the model keeps its
    plain defaults, which the 2-D learning tests measure.
    """

    layout_widths: ClassVar[dict[str, int]] = {"mnist": 16, "allconv": 64}
    image_train_defaults: ClassVar[dict] = {"ema": 0.999, "lr_halflife": 10_000}

