"""MADE: the masked autoencoder for distribution estimation, for binary images.

Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for Distribution Estimation",
ICML 2015 (arXiv:1502.03509). An MLP whose weights are masked so that output d sees only the
inputs before d in an ordering: input d gets the number m(d) = its position (1..D), hidden unit
k of layer l a number m^l(k) drawn uniformly from [min m^{l-1}, D - 1], and

    M^l[k, k'] = [m^l(k) >= m^{l-1}(k')],    M^V[d, k] = [m(d) > m^L(k)],    M^A[d, j] = [m(d) > m(j)],

for the hidden layers, the output layer and the direct input-to-output layer (the authors' code
for MNIST uses one). Then sigm(output d) = p(x_d = 1 | x_<d) and, for one mask,
log p(x) = sum_d log p(x_d | x_<d) exactly, in one forward pass.

Order- and connectivity-agnostic training (section 4 of the paper): ``masks`` sets of numbers
(each with its own ordering unless ``order=raster``) are drawn when the model is built and
saved with it; training step t uses set t mod ``masks``, cycling through them one minibatch at a
time as the authors' code does, so the choice is a function of the step (no random draw). At test
time the model is the uniform ensemble over the masks,

    p(x) = (1/K) sum_k p_k(x),     log p(x) = logsumexp_k log p_k(x) - log K,

an exact mixture: sampling draws the mask first, then the pixels in its order (D passes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import OneOf, PositiveFloat, Range, Widths
from ..errors import ConfigError
from ..registry import register
from .base import Batch, GenerativeModel
from .nade import ACTIVATIONS, LN2, Activation, Group, OptimizerName, binary, check_images, raster_order, uniforms


@register("made")
class MADE(GenerativeModel):
    """Masked MLP autoencoder; several masks trained in turn, their ensemble at test time."""

    likelihood = "discrete"
    inpaint = "autoregressive"

    @dataclass(frozen=True)
    class Config:
        hidden: Widths = (500,)
        masks: Annotated[int, Range(1, 4096)] = 1  # K: cycled over minibatches, averaged at test (the paper: 1 or 32)
        order: Annotated[str, OneOf("random", "raster")] = "random"  # raster: connectivity-agnostic only
        direct: bool = True  # a masked direct input-to-output layer
        activation: Activation = "relu"
        lr: PositiveFloat = 0.01
        optimizer: OptimizerName = "adagrad"  # the authors' code for MNIST: Adagrad 0.01, batch 100

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        check_images(self)
        D, K = self.data_dim, config.masks
        if D < 2:
            raise ConfigError(f"made needs at least 2 dimensions, not {D}")
        sizes = [D, *config.hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], D)
        self.direct = nn.Linear(D, D, bias=False) if config.direct else None
        for layer in self.linears():
            nn.init.orthogonal_(layer.weight)  # the authors' initialisation
        # The numbers m of every mask, drawn once (under the trainer's seed) and saved with the
        # weights: m_0 (K, D) is each input's position in that mask's ordering, 1..D.
        if config.order == "raster":
            pos = torch.empty(D, dtype=torch.long)
            pos[raster_order(self.data_shape)] = torch.arange(1, D + 1)
            m0 = pos.expand(K, D).clone()
        else:
            m0 = torch.stack([torch.randperm(D) + 1 for _ in range(K)])
        self.register_buffer("m0", m0)
        low = m0.min(1).values  # (K,)
        for l, h in enumerate(config.hidden, start=1):
            # Uniform in [min of the layer below, D - 1]: no unit is cut off from the inputs or the outputs.
            m = low.unsqueeze(1) + (torch.rand(K, h) * (D - low).unsqueeze(1)).long()
            self.register_buffer(f"m{l}", m)
            low = m.min(1).values
        self.act = ACTIVATIONS[config.activation]
        self._cached: tuple[int, list[torch.Tensor]] | None = None  # the last mask set built
        # Loaded numbers replace the drawn ones: forget masks built from the old ones.
        self.register_load_state_dict_post_hook(lambda module, keys: setattr(module, "_cached", None))

    def linears(self) -> list[nn.Linear]:
        return [*self.hidden_layers, self.out] + ([self.direct] if self.direct is not None else [])

    def optimizer_groups(self) -> list[Group]:
        return [Group("loss", list(self.parameters()), lr=self.config.lr, optimizer=self.config.optimizer)]

    # -- masks and likelihood -------------------------------------------------------------
    def numbers(self, k: int) -> list[torch.Tensor]:
        """The numbers m of mask ``k``: inputs (D,), then each hidden layer."""
        return [getattr(self, f"m{l}")[k] for l in range(len(self.config.hidden) + 1)]

    def masks(self, k: int) -> list[torch.Tensor]:
        """0/1 masks of mask set ``k``, shaped as the weights: hidden layers, output, then direct."""
        if self._cached is not None and self._cached[0] == k and self._cached[1][0].device == self.m0.device:
            return self._cached[1]
        m = self.numbers(k)
        out = [(m[l + 1].unsqueeze(1) >= m[l].unsqueeze(0)).float() for l in range(len(m) - 1)]
        out.append((m[0].unsqueeze(1) > m[-1].unsqueeze(0)).float())
        if self.direct is not None:
            out.append((m[0].unsqueeze(1) > m[0].unsqueeze(0)).float())
        self._cached = (k, out)
        return out

    def logits(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Logits of p(x_d = 1 | x_<d) under mask ``k`` for every pixel d, (B, D) in image order."""
        return self.net(binary(x.reshape(x.shape[0], -1)), k)

    def net(self, v: torch.Tensor, k: int) -> torch.Tensor:
        """The masked MLP under mask ``k`` on flat inputs ``v`` (B, D): output d sees inputs before d."""
        masks = self.masks(k)
        h = v
        for layer, mask in zip(self.hidden_layers, masks):
            h = self.act(F.linear(h, layer.weight * mask, layer.bias))
        out = F.linear(h, self.out.weight * masks[len(self.hidden_layers)], self.out.bias)
        if self.direct is not None:
            out = out + F.linear(v, self.direct.weight * masks[-1])
        return out

    def log_prob_mask(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Exact log p_k(x) under mask ``k`` in nats, (B,)."""
        target = x.reshape(x.shape[0], -1).clamp(0, 1)
        return -F.binary_cross_entropy_with_logits(self.logits(x, k), target, reduction="none").sum(1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) of the ensemble, log (1/K) sum_k p_k(x), in nats, (B,)."""
        K = self.config.masks
        if K == 1:
            return self.log_prob_mask(x, 0)
        lp = torch.stack([self.log_prob_mask(x, k) for k in range(K)], 1)  # (B, K)
        return torch.logsumexp(lp, 1) - math.log(K)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        # The mask is a function of the step, so every micro-batch and rank of a step uses the same one.
        nll = -self.log_prob_mask(batch.x, self.global_step % self.config.masks).mean()
        return {"loss": nll, "bits_per_dim": nll.detach() / (self.data_dim * LN2)}

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *, z=None, labels=None,
               x: torch.Tensor | None = None, known: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` binary images: a mask k per image, then D passes drawing the pixels in its order.

        Inpainting: pixels where the bool mask ``known`` (n, C, H, W) is True are copied from ``x``.
        Each image's mask is drawn with probability proportional to what it gives the visible
        pixels that precede its first hidden pixel, and hidden pixels are drawn from p_k(x_d | x_<d):
        the exact conditional of the ensemble when the visible pixels come first in every ordering
        (``order=raster`` with the top of the image visible).
        """
        dev, D, K = self.device, self.data_dim, self.config.masks
        u = uniforms(generator, (n, D + 1), dev)  # one per pixel, and one to pick the mask
        img = torch.zeros(n, D, device=dev, dtype=self.out.weight.dtype)
        kn = None
        log_w = torch.zeros(n, K, device=dev)
        if known is not None:
            kn = known.to(dev).bool().expand(n, *self.data_shape).reshape(n, D)
            img = torch.where(kn, binary(x.to(dev).expand(n, *self.data_shape).reshape(n, D)), img)
            target = img
            for k in range(K):
                pos = self.m0[k].expand(n, D)
                first_hidden = torch.where(kn, D + 1, pos).min(1, keepdim=True).values  # (n, 1)
                lp = -F.binary_cross_entropy_with_logits(self.logits(img, k), target, reduction="none")
                log_w[:, k] = (lp * (pos < first_hidden)).sum(1)
        cdf = torch.softmax(log_w, 1).cumsum(1)
        comp = (cdf < u[:, D:]).sum(1).clamp(max=K - 1)  # (n,): inverse CDF of the mask weights
        for k in comp.unique().tolist():
            rows = (comp == k).nonzero().squeeze(1)
            cur = img[rows]
            for d in torch.argsort(self.m0[k]).tolist():  # the pixels in mask k's order
                if kn is not None and bool(kn[rows, d].all()):
                    continue
                p = torch.sigmoid(self.logits(cur, k)[:, d])
                new = (u[rows, d] < p).float()
                cur[:, d] = new if kn is None else torch.where(kn[rows, d], cur[:, d], new)
            img[rows] = cur
        return img.view(n, *self.data_shape)
