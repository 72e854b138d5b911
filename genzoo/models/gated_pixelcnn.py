"""Gated PixelCNN: vertical and horizontal stacks with gated activations, no blind spot.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, "Conditional Image
Generation with PixelCNN Decoders", NeurIPS 2016 (arXiv:1606.05328). A masked 3x3 kernel never
sees the pixels up and to the right (the blind spot). Here a vertical stack sees every row above
(a (k//2+1) x k kernel, shifted down one row before it feeds the horizontal stack) and a
horizontal stack sees the current row to the left (a 1 x (k//2+1) kernel); each layer computes
y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h), with h a class embedding when conditional.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NonNegativeInt, OddKernel, PositiveFloat, Range, Width
from ..errors import ConfigError
from ..registry import register
from .autoregressive import AutoregressiveModel, MaskedConv2d, causal_mask, channel_groups


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half) along dim 1."""
    f, g = a.chunk(2, 1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One vertical + horizontal layer; ``first`` uses mask A at the current pixel and no residual."""

    def __init__(self, c_in: int, h: int, k: int, groups: int, first: bool, num_classes: int) -> None:
        super().__init__()
        self.p, self.first = k // 2, first
        p = self.p
        self.v = nn.Conv2d(c_in, 2 * h, (p + 1, k))
        self.h = nn.Conv2d(c_in, 2 * h, (1, p + 1))
        in_groups = torch.arange(c_in) if first else channel_groups(c_in, groups)
        mask = causal_mask(2 * h, c_in, 1, 2 * p + 1, "A" if first else "B", groups,
                           out_groups=channel_groups(2 * h, groups, chunks=2), in_groups=in_groups)
        self.register_buffer("h_mask", mask[:, :, :, : p + 1], persistent=False)
        self.v2h = nn.Conv2d(2 * h, 2 * h, 1)  # reads rows above only: no mask needed
        self.res = MaskedConv2d(h, h, 1, "B", groups)
        self.cond = nn.Embedding(num_classes, 4 * h) if num_classes else None

    def _bias(self, y: torch.Tensor | None) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self.cond is None or y is None:
            return 0.0, 0.0
        b = self.cond(y)  # (B, 4h)
        return b[:, : b.shape[1] // 2], b[:, b.shape[1] // 2 :]

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.p
        bv, bh = self._bias(y)
        bv = bv[:, :, None, None] if torch.is_tensor(bv) else bv
        bh = bh[:, :, None, None] if torch.is_tensor(bh) else bh
        v_pre = self.v(F.pad(v, (p, p, p, 0))) + bv  # output row i sees input rows i-p..i
        shifted = F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1]  # row i now holds row i-1: strictly above
        h_pre = F.conv2d(F.pad(h, (p, 0, 0, 0)), self.h.weight * self.h_mask, self.h.bias) + self.v2h(shifted) + bh
        h_out = self.res(gate(h_pre))
        return gate(v_pre), h_out if self.first else h + h_out

    # -- cached sampling ----------------------------------------------------------------
    def start_cache(self, B: int, H: int, W: int, y: torch.Tensor | None) -> None:
        p, c_in = self.p, self.v.in_channels
        self._vcache = self.v.weight.new_zeros(B, c_in, H + p, W + 2 * p)
        self._hcache = self.v.weight.new_zeros(B, c_in, W + p)
        self._hw = (self.h.weight * self.h_mask).reshape(self.h.out_channels, -1)
        self._bv, self._bh = self._bias(y)
        self._v_above = self.v2h(self.v.weight.new_zeros(B, self.v.out_channels, 1, W))[:, :, 0]  # row 0
        self.res.start_cache(B, H, W)

    def step_row(self, v_row: torch.Tensor, r: int) -> torch.Tensor:
        """Vertical stack at the finished row r, given its input row (B, c_in, W); returns the gated row."""
        p, W = self.p, v_row.shape[2]
        self._vcache[:, :, r + p, p : p + W] = v_row
        bv = self._bv[:, :, None, None] if torch.is_tensor(self._bv) else self._bv
        v_pre = self.v(self._vcache[:, :, r : r + p + 1]) + bv  # (B, 2h, 1, W)
        self._v_above = self.v2h(v_pre)[:, :, 0]  # what the horizontal stack of row r + 1 reads
        return gate(v_pre)[:, :, 0]

    def step(self, h_vec: torch.Tensor, j: int, row: torch.Tensor | None = None) -> torch.Tensor:
        """Horizontal stack at column j of the current row; the first layer reads the image ``row``."""
        p = self.p
        if row is not None:
            self._hcache[:, :, p:] = row
        else:
            self._hcache[:, :, j + p] = h_vec
        patch = self._hcache[:, :, j : j + p + 1].reshape(h_vec.shape[0], -1)
        h_pre = F.linear(patch, self._hw, self.h.bias) + self._v_above[:, :, j] + self._bh
        h_out = self.res.step(gate(h_pre), 0, j)
        return h_out if self.first else h_vec + h_out


@register("gated-pixelcnn")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN (vertical + horizontal stacks, no blind spot), optionally class-conditional."""

    @dataclass(frozen=True)
    class Config:
        channels: Width = 64  # h
        layers: NonNegativeInt = 6
        kernel: OddKernel = 3
        first_kernel: OddKernel = 7
        out_hidden: Width = 64
        levels: Annotated[int, Range(2, 256)] = 2  # 2: Bernoulli per channel; 256: softmax per 8-bit channel
        conditional: bool = False  # a class embedding in every gate (needs labelled data)
        lr: PositiveFloat = 1e-3

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        if config.conditional and not num_classes:
            raise ConfigError("model.conditional=true needs labelled data (a dataset with classes)")
        self.conditional = bool(config.conditional)
        C, h, k_cond = self.C, config.channels, num_classes if self.conditional else 0
        self.layers = nn.ModuleList(
            GatedLayer(C if l == 0 else h, h, config.first_kernel if l == 0 else config.kernel, C, l == 0, k_cond)
            for l in range(config.layers)
        )
        self.out1 = MaskedConv2d(h, config.out_hidden, 1, "B", C)
        self.out2 = MaskedConv2d(config.out_hidden, C * self.L, 1, "B", C, out_groups=torch.arange(C * self.L) // self.L)

    def net(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.out2(F.relu(self.out1(F.relu(h))))  # (B, C*L, H, W)

    def start_cache(self, B: int, y: torch.Tensor | None) -> None:
        for layer in self.layers:
            layer.start_cache(B, self.H, self.W, y)
        self.out1.start_cache(B, self.H, self.W)
        self.out2.start_cache(B, self.H, self.W)
        self._row = 0

    def step(self, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
        if i != self._row:  # row i - 1 is finished: run the vertical stack over it once
            v = x[:, :, i - 1]  # (B, C, W)
            for layer in self.layers:
                v = layer.step_row(v, i - 1)
            self._row = i
        h = self.layers[0].step(x[:, :, i, j], j, row=x[:, :, i])
        for layer in self.layers[1:]:
            h = layer.step(h, j)
        return self.out2.step(F.relu(self.out1.step(F.relu(h), i, j)), i, j)  # (B, C*L)
