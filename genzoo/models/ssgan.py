"""Semi-supervised GAN: a K+1-class discriminator trained with few labels, and feature matching.

Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (arXiv:1606.03498),
sections 3.1 (feature matching) and 5 (semi-supervised learning).

D outputs K class logits l(x); the (K+1)-th class "generated" has its logit fixed at 0, so
p(real | x) = Z / (Z + 1) with Z = sum_k exp(l_k(x)): D's realness logit is logsumexp_k l_k(x).

    L_D = w E_{(x,y) labelled} CE(l(x), y)                                (supervised, w = ``supervised_weight``)
        + E_x softplus(-lse l(x)) + E_z softplus(lse l(G(z)))           (unsupervised: the GAN loss on lse)
    L_G = || E_x f(x) - E_z f(G(z)) ||^2                                  (feature matching on D's last hidden features f)

The unsupervised term is the chosen objective applied to the realness logit (``loss``: minimax
or nonsaturating; they give the same D loss). The labelled subset is ``labelled_per_class``
examples of each class chosen from the training set by a fixed seed (``labelled_seed``),
independent of the training seed; it is stored with the model. All other training labels are
never read. ``classify(x)`` is the resulting classifier.

With MLP networks (``arch=mlp``) the options of the paper's MNIST model are available:
Gaussian noise on D's input and on every hidden layer's output (``d_noise``; feature matching
reads the last hidden layer before its noise, the head after it), weight normalisation with
data-dependent initialisation (``weight_norm``), ReLU in D and softplus in G (``d_activation``,
``g_activation``), a uniform prior (``z_prior``), the whole labelled subset in every D step
(``labelled_draw=all``) and a separate unlabelled batch for G (``generator_fresh_batch``). The
recipe recipes/ssgan-salimans2016.yaml sets them all. Samples are unconditional.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import Dataset
from ..config import NonNegativeFloat, PositiveFloat, PositiveInt, Range, Seed, Width
from ..errors import ConfigError
from ..registry import register
from ._gan_common import AdversarialModel, FamilyConfig
from .base import Batch, OptimGroup
from .nets import G_INITS, GaussianNoise, MLPBody, MLPGenerator, WeightNormLinear, activation

DATA_INIT_EXAMPLES = 500  # training images for the data-dependent initialisation (Salimans et al.'s code)


def labelled_subset(y: torch.Tensor, per_class: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, chosen by a seeded permutation (sorted by class)."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    picked = []
    for k in range(num_classes):
        idx = order[y[order] == k][:per_class]
        if len(idx) < per_class:
            raise ConfigError(f"class {k} has only {len(idx)} training examples; model.labelled_per_class={per_class}")
        picked.append(idx)
    return torch.cat(picked)


@register("ssgan")
class SemiSupervisedGAN(AdversarialModel):
    """Semi-supervised GAN (Salimans et al. 2016): K+1-class D, feature matching, 10 labels per class."""

    packing = False  # D classifies single examples into K+1 classes

    # Salimans et al. train MNIST with Adam 3e-3, beta1 0.5 (the recipe); 1e-3 learned faster than 2e-4 here.
    default_optim = {"optimizer": "adam", "lr": 1e-3, "betas": (0.5, 0.999), "d_steps": 1}

    @dataclass(frozen=True)
    class Config(FamilyConfig):
        z_dim: Width = 100
        labelled_per_class: PositiveInt = 10
        labelled_seed: Seed = 0
        labelled_batch: PositiveInt = 100  # labelled examples per D step, drawn with replacement (labelled_draw=replacement)
        labelled_draw: str = "replacement"  # replacement | all (the whole labelled subset in every D step)
        supervised_weight: NonNegativeFloat = 1.0
        unsupervised_weight: NonNegativeFloat = 1.0  # of D's real/fake (GAN) term; Salimans et al.'s code: 0.5
        generator_loss: str = "feature_matching"  # feature_matching | objective
        generator_fresh_batch: bool = False  # G's step reads its own unlabelled batch instead of D's last one
        z_prior: str = "normal"  # normal | uniform (U[0, 1) per coordinate)
        d_noise: Annotated[tuple[float, float], Range(0)] = (0.3, 0.5)  # Gaussian noise on D's input and hidden layers (MLP nets)
        weight_norm: bool = False  # MLP nets: weight-normalised D layers (data-dependent init) and G output layer
        d_activation: str = "leaky_relu"  # MLP D: leaky_relu | relu | softplus
        g_activation: str = "relu"  # MLP G: relu | leaky_relu | softplus
        d_init_std: PositiveFloat = 0.05  # weight_norm: std of the entries of D's directions v (their length sets the step's turn)
        feature_matching: str = "sum"  # sum | mean of the squared feature differences (a scale, which Adam's eps sees)
        adam_eps: PositiveFloat = 1e-8  # the optimizers' eps
        g_bn_scale: bool = True  # MLP G: its batch norm learns a scale (Salimans et al.'s code: none, g=None)
        g_init: str = "default"  # MLP G: default (PyTorch's) | glorot (Glorot-uniform, Lasagne's, their code's)

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        c = config
        if num_classes < 2:
            raise ConfigError("ssgan needs labelled data (a dataset with classes); it keeps only "
                              "model.labelled_per_class labels of each class")
        if c.loss not in ("minimax", "nonsaturating"):
            raise ConfigError(f"ssgan's K+1-class discriminator takes loss=minimax or nonsaturating, not {c.loss!r}")
        for field, allowed in (("generator_loss", ("feature_matching", "objective")), ("z_prior", ("normal", "uniform")),
                               ("labelled_draw", ("replacement", "all")), ("feature_matching", ("sum", "mean")),
                               ("g_init", G_INITS)):
            if getattr(c, field) not in allowed:
                raise ConfigError(f"model.{field} must be {' or '.join(allowed)}, not {getattr(c, field)!r}")
        if c.labelled_per_class < 1 or c.labelled_batch < 1:
            raise ConfigError("model.labelled_per_class and model.labelled_batch must be >= 1")
        if len(c.d_noise) != 2 or min(c.d_noise) < 0:
            raise ConfigError(f"model.d_noise is two standard deviations >= 0 (input, hidden), not {list(c.d_noise)}")
        activation(c.d_activation), activation(c.g_activation)  # unknown names fail here, with the choices
        arch = self.resolve_arch()
        self.mlp = arch == "mlp"
        if self.mlp:
            self.G = MLPGenerator(c.z_dim, self.data_shape, tuple(c.g_hidden), batch_norm=self.is_image,
                                  act=c.g_activation, weight_norm=c.weight_norm, bn_scale=c.g_bn_scale, init=c.g_init)
            body = MLPBody(self.data_dim, tuple(c.d_hidden), noise=tuple(c.d_noise), act=c.d_activation,
                           weight_norm=c.weight_norm, init_std=c.d_init_std)
        else:
            for field, default in (("weight_norm", False), ("d_activation", "leaky_relu"), ("g_activation", "relu"),
                                   ("g_bn_scale", True), ("g_init", "default")):
                if getattr(c, field) != default:
                    raise ConfigError(f"model.{field} applies to the MLP networks: set model.arch=mlp")
            self.G = self.build_generator(arch, c.z_dim)
            body = self.build_body(arch)
        head = WeightNormLinear(body.out_dim, num_classes, init_std=c.d_init_std) if c.weight_norm else nn.Linear(body.out_dim, num_classes)
        self.D = nn.ModuleDict({"body": body, "head": head})
        self.head_noise = GaussianNoise(c.d_noise[1] if self.mlp else 0.0)  # on the features the head classifies
        n = c.labelled_per_class * num_classes
        self.register_buffer("labelled_x", torch.zeros(n, *self.data_shape))
        self.register_buffer("labelled_y", torch.zeros(n, dtype=torch.long))

    def optimizer_groups(self) -> list[OptimGroup]:
        groups = super().optimizer_groups()
        for g in groups:
            g.eps = self.config.adam_eps
            if g.name == "generator":
                g.fresh_batch = self.config.generator_fresh_batch
        return groups

    def prepare_data(self, data: Dataset) -> None:
        """Keep the labelled subset of the training set (the only labels this model reads); with
        ``weight_norm``, initialise D's layers from the data."""
        if data.y is None:
            raise ConfigError(f"ssgan needs labels, and {data.name} has none")
        idx = labelled_subset(data.y, self.config.labelled_per_class, self.num_classes, self.config.labelled_seed)
        self.labelled_x.copy_(data.x[idx])
        self.labelled_y.copy_(data.y[idx])
        if self.config.weight_norm:
            self.data_init(data.x)

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> None:
        """Salimans & Kingma's data-dependent initialisation of D on 500 random images of ``x``, noise on
        (the paper's code does the same). Draws through the model's source, like a training step."""
        pick = self.rand(len(x)).argsort()[:DATA_INIT_EXAMPLES].to(x.device)
        f = self.D["body"].data_init(x[pick].to(self.device), self.randn)
        self.D["head"].data_init(self.head_noise(f, self.randn))

    @property
    def couples_batch(self) -> bool:
        """Feature matching compares batch means (and G's batch norm normalises over the batch)."""
        return self.config.generator_loss == "feature_matching" or super().couples_batch

    # -- noise ------------------------------------------------------------------------------
    def training_latent(self, n: int) -> torch.Tensor:
        return self.rand(n, self.config.z_dim) if self.config.z_prior == "uniform" else self.randn(n, self.config.z_dim)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.config.z_prior == "normal":
            return super().latent(n, generator)
        if generator is None:
            return self.rand(n, self.config.z_dim)
        return torch.rand(n, self.config.z_dim, generator=generator, device=generator.device).to(self.device)

    def part_noise(self, sizes: list[int]) -> Callable[..., torch.Tensor]:
        """D's noise source for one forward over parts of ``sizes`` examples concatenated along dim 0.

        Each part draws its own rank-sliced noise, so an example gets the same noise whether its
        batch is whole or split over ranks and micro-batches.
        """
        return lambda *shape: torch.cat([self.randn(n, *shape[1:]) for n in sizes])

    # -- networks --------------------------------------------------------------------------
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z)

    def class_logits(self, x: torch.Tensor, randn: Callable[..., torch.Tensor] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's K class logits (B, K) and last hidden features (B, F); ``randn`` draws D's training noise."""
        f = self.D["body"](x, randn=randn) if self.mlp else self.D["body"](x)
        return self.D["head"](self.head_noise(f, randn)), f

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        logits, f = self.class_logits(x, self.part_noise([x.shape[0]]))
        return torch.logsumexp(logits, dim=1), f  # the realness logit of the K+1-class D

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted classes (N,) of data x, in batches (call in eval mode)."""
        return torch.cat([self.class_logits(x[i : i + batch_size])[0].argmax(1) for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """The classifier's accuracy on labelled data (x, y), in eval mode (no noise); the mode is restored."""
        was_training = self.training
        self.eval()
        try:
            return float((self.classify(x.to(self.device)).cpu() == y.cpu()).float().mean())
        finally:
            self.train(was_training)

    # -- the game --------------------------------------------------------------------------
    def labelled_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This shard's labelled examples for one D step (``labelled_draw``)."""
        rank, shards = self.noise_slice
        if self.config.labelled_draw == "all":
            n = len(self.labelled_y)
            if n % shards:
                raise ConfigError(f"the {n} labelled examples (model.labelled_draw=all) must divide into the "
                                  f"{shards} data-parallel shards (ranks x micro-batches)")
            part = slice(rank * n // shards, (rank + 1) * n // shards)
            return self.labelled_x[part], self.labelled_y[part]
        # labelled_batch is global: each of the data-parallel shards draws its slice of it.
        if self.config.labelled_batch % shards:
            raise ConfigError(f"model.labelled_batch={self.config.labelled_batch} must divide into the "
                              f"{shards} data-parallel shards (ranks x micro-batches)")
        idx = self.randint(len(self.labelled_y), self.config.labelled_batch // shards)
        return self.labelled_x[idx], self.labelled_y[idx]

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x
        B = x.shape[0]
        z = self.training_latent(B)
        if group == "discriminator":
            with torch.no_grad():
                x_fake = self.generate(z)
            x_lab, y_lab = self.labelled_batch()
            real, fake = self.perturb(x), self.perturb(x_fake)
            # One D forward over unlabelled, generated and labelled examples together.
            logits, _ = self.class_logits(torch.cat([real, fake, self.perturb(x_lab)]), self.part_noise([B, B, len(y_lab)]))
            lse = torch.logsumexp(logits[: 2 * B], dim=1)
            out = self.discriminator_terms(lse[:B], lse[B:], lambda v: self.discriminate(v)[0], real, fake)
            supervised = F.cross_entropy(logits[2 * B :], y_lab)
            out["discriminator"] = (self.config.unsupervised_weight * out["discriminator"]
                                    + self.config.supervised_weight * supervised)
            out["supervised_loss"] = supervised.detach()
            out["labelled_accuracy"] = (logits[2 * B :].argmax(1) == y_lab).float().mean().detach()
            return out
        if group == "generator":
            fake = self.perturb(self.generate(z))
            # Real and fake in one forward, as in D's step (batch norm sees the same mixture).
            logits, f = self.class_logits(torch.cat([self.perturb(x), fake]), self.part_noise([B, B]))
            if self.config.generator_loss == "objective":
                return {"generator": self.objective.generator(torch.logsumexp(logits[B:], dim=1))}
            gap = (f[:B].mean(0) - f[B:].mean(0)).pow(2)
            return {"generator": gap.mean() if self.config.feature_matching == "mean" else gap.sum()}
        raise KeyError(group)
