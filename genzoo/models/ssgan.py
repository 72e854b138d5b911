"""Semi-supervised GAN: a K+1-class discriminator trained with few labels, and feature matching.

Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (arXiv:1606.03498),
sections 3.1 (feature matching) and 5 (semi-supervised learning).

D outputs K class logits l(x); the (K+1)-th class "generated" has its logit fixed at 0, so
p(real | x) = Z / (Z + 1) with Z = sum_k exp(l_k(x)): D's realness logit is logsumexp_k l_k(x).

    L_D = E_{(x,y) labelled} CE(l(x), y)                                  (supervised, ``labelled_batch`` per step)
        + E_x softplus(-lse l(x)) + E_z softplus(lse l(G(z)))           (unsupervised: the GAN loss on lse)
    L_G = || E_x f(x) - E_z f(G(z)) ||^2                                  (feature matching on D's body features f)

The unsupervised term is the chosen objective applied to the realness logit (``loss``: minimax
or nonsaturating; they give the same D loss). The labelled subset is ``labelled_per_class``
examples of each class chosen from the training set by a fixed seed (``labelled_seed``),
independent of the training seed; it is stored with the model. All other training labels are
never read. ``classify(x)`` is the resulting classifier; the paper reports 99.07% MNIST test
accuracy with 100 labels, with an MLP D (1000-500-250-250-250) regularised by Gaussian noise of
std 0.3 on its input and 0.5 after each hidden layer (``d_noise``, MLP bodies only). Samples are
unconditional (labels passed to ``sample`` are ignored).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import Dataset
from ..errors import ConfigError
from ..registry import register
from ._gan_common import AdversarialModel, FamilyConfig
from .base import Batch


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

    # Salimans et al. train MNIST with Adam 3e-3, beta1 0.5; 1e-3 learned faster than 2e-4 here.
    default_optim = {"optimizer": "adam", "lr": 1e-3, "betas": (0.5, 0.999), "d_steps": 1}

    @dataclass(frozen=True)
    class Config(FamilyConfig):
        z_dim: int = 100
        labelled_per_class: int = 10
        labelled_seed: int = 0
        labelled_batch: int = 100  # labelled examples per D step, drawn with replacement
        supervised_weight: float = 1.0
        generator_loss: str = "feature_matching"  # feature_matching | objective
        d_noise: tuple[float, float] = (0.3, 0.5)  # Gaussian noise on D's input and hidden layers (MLP body)

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if num_classes < 2:
            raise ConfigError("ssgan needs labelled data (a dataset with classes); it keeps only "
                              "model.labelled_per_class labels of each class")
        if config.loss not in ("minimax", "nonsaturating"):
            raise ConfigError(f"ssgan's K+1-class discriminator takes loss=minimax or nonsaturating, not {config.loss!r}")
        if config.generator_loss not in ("feature_matching", "objective"):
            raise ConfigError(f"model.generator_loss must be feature_matching or objective, not {config.generator_loss!r}")
        if config.labelled_per_class < 1 or config.labelled_batch < 1:
            raise ConfigError("model.labelled_per_class and model.labelled_batch must be >= 1")
        arch = self.resolve_arch()
        self.G = self.build_generator(arch, config.z_dim)
        body = self.build_body(arch, noise=tuple(config.d_noise))
        self.D = nn.ModuleDict({"body": body, "head": nn.Linear(body.out_dim, num_classes)})
        n = config.labelled_per_class * num_classes
        self.register_buffer("labelled_x", torch.zeros(n, *self.data_shape))
        self.register_buffer("labelled_y", torch.zeros(n, dtype=torch.long))

    def prepare_data(self, data: Dataset) -> None:
        """Keep the labelled subset of the training set (the only labels this model reads)."""
        if data.y is None:
            raise ConfigError(f"ssgan needs labels, and {data.name} has none")
        idx = labelled_subset(data.y, self.config.labelled_per_class, self.num_classes, self.config.labelled_seed)
        self.labelled_x.copy_(data.x[idx])
        self.labelled_y.copy_(data.y[idx])

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z)

    def class_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's K class logits (B, K) and body features (B, F)."""
        f = self.D["body"](x)
        return self.D["head"](f), f

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None):
        logits, f = self.class_logits(x)
        return torch.logsumexp(logits, dim=1), f  # the realness logit of the K+1-class D

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted classes (N,) of data x, in batches (call in eval mode)."""
        return torch.cat([self.class_logits(x[i : i + batch_size])[0].argmax(1) for i in range(0, len(x), batch_size)])

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x = batch.x
        B = x.shape[0]
        z = self.randn(B, self.config.z_dim)
        if group == "discriminator":
            with torch.no_grad():
                x_fake = self.generate(z)
            # labelled_batch is global: each of the data-parallel shards draws its slice of it.
            shards = self.noise_slice[1]
            if self.config.labelled_batch % shards:
                raise ConfigError(f"model.labelled_batch={self.config.labelled_batch} must divide into the "
                                  f"{shards} data-parallel shards (ranks x micro-batches)")
            idx = self.randint(len(self.labelled_y), self.config.labelled_batch // shards)
            x_lab, y_lab = self.labelled_x[idx], self.labelled_y[idx]
            real, fake = self.perturb(x), self.perturb(x_fake)
            # One D forward over unlabelled, generated and labelled examples together.
            logits, _ = self.class_logits(torch.cat([real, fake, self.perturb(x_lab)]))
            lse = torch.logsumexp(logits[: 2 * B], dim=1)
            out = self.discriminator_terms(lse[:B], lse[B:], lambda v: self.discriminate(v)[0], real, fake)
            supervised = F.cross_entropy(logits[2 * B :], y_lab)
            out["discriminator"] = out["discriminator"] + self.config.supervised_weight * supervised
            out["supervised_loss"] = supervised.detach()
            out["labelled_accuracy"] = (logits[2 * B :].argmax(1) == y_lab).float().mean().detach()
            return out
        if group == "generator":
            fake = self.perturb(self.generate(z))
            # Real and fake in one forward, as in D's step (batch norm sees the same mixture).
            logits, f = self.class_logits(torch.cat([self.perturb(x), fake]))
            if self.config.generator_loss == "objective":
                return {"generator": self.objective.generator(torch.logsumexp(logits[B:], dim=1))}
            return {"generator": (f[:B].mean(0) - f[B:].mean(0)).pow(2).sum()}
        raise KeyError(group)
