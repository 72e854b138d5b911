"""What the autoregressive image models share: masked convolutions, the output head, exact
log-likelihood and sampling, naive or with cached activations.

Pixels are ordered in raster order and, within a pixel, channel by channel (R before G before B),
as in van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016 (arXiv:1601.06759).
Hidden channels are split into ``C`` contiguous groups; group ``g`` may see data channels
``< g`` (mask type A, the first layer) or ``<= g`` (type B, every later layer) at the current pixel.

Fast sampling follows Ramachandran et al., "Fast Generation for Convolutional Autoregressive
Models", ICLR 2017 workshop (arXiv:1704.06001): each layer keeps a cache of its input, and
generating one pixel computes every layer at that one position only, instead of re-running the
whole network on the whole image. Both samplers draw from the same pre-drawn uniforms, so the
same seed gives the same image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GenzooError
from .base import Batch, GenerativeModel, OptimGroup


def channel_groups(n: int, groups: int, chunks: int = 1) -> torch.Tensor:
    """The data-channel group of each of ``n`` channels, (n,); ``chunks`` repeats the split (LSTM/gate halves)."""
    per = n // chunks
    return (torch.arange(n) % per) * groups // per


def causal_mask(c_out: int, c_in: int, kh: int, kw: int, mask_type: str, groups: int,
                out_groups: torch.Tensor | None = None, in_groups: torch.Tensor | None = None) -> torch.Tensor:
    """A (c_out, c_in, kh, kw) 0/1 mask: rows above the centre, columns left of it, and at the centre
    only the channel groups that come before (A) or up to (B) the output's group."""
    cy, cx = kh // 2, kw // 2
    mask = torch.zeros(c_out, c_in, kh, kw)
    mask[:, :, :cy, :] = 1
    mask[:, :, cy, :cx] = 1
    g_out = (out_groups if out_groups is not None else channel_groups(c_out, groups)).view(-1, 1)
    g_in = (in_groups if in_groups is not None else channel_groups(c_in, groups)).view(1, -1)
    centre = g_in < g_out if mask_type == "A" else g_in <= g_out
    mask[:, :, cy, cx] = centre.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A square same-padded convolution with a causal mask, and a one-position ``step`` for cached sampling."""

    def __init__(self, c_in: int, c_out: int, k: int, mask_type: str, groups: int,
                 out_groups: torch.Tensor | None = None, in_groups: torch.Tensor | None = None) -> None:
        super().__init__(c_in, c_out, k, padding=k // 2)
        self.register_buffer("mask", causal_mask(c_out, c_in, k, k, mask_type, groups, out_groups, in_groups),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def start_cache(self, B: int, H: int, W: int) -> None:
        """Allocate the input cache and fold the mask into a flat weight (weights are fixed while sampling)."""
        p = self.kernel_size[0] // 2
        self._cache = self.weight.new_zeros(B, self.in_channels, H + p, W + 2 * p)  # no rows below are ever read
        self._w = (self.weight * self.mask)[:, :, : p + 1, :].reshape(self.out_channels, -1)

    def step_image(self, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """The first layer's output at (i, j) from the whole partly drawn image x: (B, C, H, W).

        Its input changes after each draw, so the rows it reads are refreshed from x each call."""
        p = self.kernel_size[0] // 2
        lo = max(i - p, 0)
        self._cache[:, :, lo + p : i + p + 1, p : p + x.shape[3]] = x[:, :, lo : i + 1]
        return self.step(x[:, :, i, j], i, j)

    def step(self, v: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """Output at pixel (i, j), (B, c_out), given this layer's input there, v: (B, c_in)."""
        k = self.kernel_size[0]
        p = k // 2
        if k == 1:
            return F.linear(v, self._w, self.bias)
        self._cache[:, :, i + p, j + p] = v
        patch = self._cache[:, :, i : i + p + 1, j : j + k]  # (B, c_in, p + 1, k): rows below are masked anyway
        return F.linear(patch.reshape(v.shape[0], -1), self._w, self.bias)


class AutoregressiveModel(GenerativeModel):
    """Base of the pixel models: subclasses give ``net(x, y) -> (B, C*L, H, W)`` logits and a
    ``start_cache``/``step`` pair computing the same logits at one pixel.

    ``config.levels`` == 2: one Bernoulli logit per channel (binarized data); otherwise a
    ``levels``-way softmax per channel (256 for 8-bit images), data quantised to k / (levels - 1).
    """

    conditional: bool = False  # whether labels enter the network (set by class-conditional subclasses)
    likelihood = "discrete"
    inpaint = "autoregressive"

    def __init__(self, config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if len(self.data_shape) != 3:
            raise GenzooError(f"{type(self).__name__} models images (C, H, W), not data of shape {self.data_shape}")
        self.C, self.H, self.W = self.data_shape
        self.levels = int(config.levels)
        self.L = 1 if self.levels == 2 else self.levels  # logits per channel

    # -- subclasses -------------------------------------------------------------------
    def net(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def start_cache(self, B: int, y: torch.Tensor | None) -> None:
        raise NotImplementedError

    def step(self, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """Logits (B, C*L) at pixel (i, j), given the partly generated image ``x``."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimGroup]:
        return [OptimGroup("loss", list(self.parameters()), lr=self.config.lr)]

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        # Centre the input; quantisation makes it identical to what sampling feeds back.
        return self.quantise(x) * 2 - 1

    def quantise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x.clamp(0, 1) * (self.levels - 1)) / (self.levels - 1)

    def logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Per-pixel logits, (B, C, L, H, W)."""
        out = self.net(self._input(x), y if self.conditional else None)
        return out.view(x.shape[0], self.C, self.L, self.H, self.W)

    def _log_prob_given(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logits = self.logits(x, y)
        if self.L == 1:  # Bernoulli; exact for binary x, a cross-entropy for grey values
            return -F.binary_cross_entropy_with_logits(logits[:, :, 0], x, reduction="none").flatten(1).sum(1)
        target = torch.round(x.clamp(0, 1) * (self.levels - 1)).long()  # (B, C, H, W)
        return torch.log_softmax(logits, 2).gather(2, target.unsqueeze(2)).flatten(1).sum(1)

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats, (B,). A class-conditional model without labels gives the
        marginal log (1/K) sum_y p(x | y) under a uniform class prior."""
        if self.conditional and labels is None:
            ys = [torch.full((x.shape[0],), k, dtype=torch.long, device=x.device) for k in range(self.num_classes)]
            lp = torch.stack([self._log_prob_given(x, y) for y in ys], 1)  # (B, K)
            return torch.logsumexp(lp, 1) - torch.log(torch.tensor(float(self.num_classes)))
        return self._log_prob_given(x, labels)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        nll = -self._log_prob_given(batch.x, batch.y if self.conditional else None).mean()
        return {"loss": nll, "bits_per_dim": nll.detach() / (self.data_dim * 0.6931471805599453)}

    def _draw(self, logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """A value in [0, 1] from logits (B, L) by inverting the CDF at uniforms u (B,)."""
        if self.L == 1:
            return (u < torch.sigmoid(logits[:, 0])).float()
        cdf = torch.softmax(logits, 1).cumsum(1)
        k = (cdf < u.unsqueeze(1)).sum(1).clamp(max=self.levels - 1)
        return k.float() / (self.levels - 1)

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None, cached: bool = True,
               x: torch.Tensor | None = None, known: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images drawn pixel by pixel. ``cached`` picks the fast sampler (same result).

        Inpainting: pixels where the bool mask ``known`` (n, C, H, W) is True are copied from ``x``;
        the others are drawn exactly from p(pixel | all earlier pixels).
        """
        dev = self.device
        if self.conditional and labels is None:
            # From ``generator`` like the pixels' uniforms; without one, both come from the global
            # RNG as torch.randint would (never reseeded here).
            dev_g = generator.device if generator is not None else dev
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=dev_g)
        if labels is not None:
            labels = labels.to(dev)
        shape = (n, self.C, self.H, self.W)
        if generator is None:
            u = torch.rand(shape, device=dev)
        else:
            u = torch.rand(shape, generator=generator, device=generator.device).to(dev)
        img = torch.zeros(shape, device=dev)
        if known is not None:
            known = known.to(dev).bool().expand(shape)
            img = torch.where(known, self.quantise(x.to(dev)), img)
        y = labels if self.conditional else None
        if cached:
            self.start_cache(n, y)
        for i in range(self.H):
            for j in range(self.W):
                for c in range(self.C):
                    if cached:
                        # Always step, known pixel or not: the layers' caches must see every pixel.
                        lg = self.step(img * 2 - 1, i, j).view(n, self.C, self.L)[:, c]
                        if known is not None and bool(known[:, c, i, j].all()):
                            continue
                    elif known is not None and bool(known[:, c, i, j].all()):
                        continue  # naive sampling recomputes everything from the image: nothing to do
                    else:
                        lg = self.net(img * 2 - 1, y).view(n, self.C, self.L, self.H, self.W)[:, c, :, i, j]
                    new = self._draw(lg, u[:, c, i, j])
                    img[:, c, i, j] = new if known is None else torch.where(known[:, c, i, j], img[:, c, i, j], new)
        return img
