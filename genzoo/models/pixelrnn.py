"""PixelRNN with Row LSTM layers.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016
(arXiv:1601.06759), section 3.1. A 7x7 mask-A convolution, then Row LSTM layers that process the
image one row at a time: the input-to-state part is a 1x3 convolution masked to the columns
<= j (mask B), the state-to-state part a 1-D convolution of width 3 over the previous row's
hidden state, giving a triangular receptive field above the pixel. Gates [o, f, i, g]:
c = f * c_above + i * g, h = o * tanh(c); a masked 1x1 convolution adds h back to the input
(residual). The Diagonal BiLSTM of the paper is not implemented.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register
from .autoregressive import AutoregressiveModel, MaskedConv2d, causal_mask, channel_groups


class RowLSTM(nn.Module):
    """One Row LSTM layer with a residual connection; ``step`` computes one pixel for cached sampling."""

    def __init__(self, h: int, groups: int) -> None:
        super().__init__()
        self.h = h
        self.i2s = nn.Conv2d(h, 4 * h, (1, 3), padding=(0, 1))
        mask = causal_mask(4 * h, h, 1, 3, "B", groups, out_groups=channel_groups(4 * h, groups, chunks=4))
        self.register_buffer("mask", mask, persistent=False)
        self.s2s = nn.Conv1d(h, 4 * h, 3, padding=1)  # the row above: nothing to mask
        self.res = MaskedConv2d(h, h, 1, "B", groups)

    def _cell(self, gates: torch.Tensor, c_above: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o, f, i, g = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c_above + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        i2s = F.conv2d(x, self.i2s.weight * self.mask, self.i2s.bias, padding=(0, 1))  # (B, 4h, H, W), all rows at once
        h_row, c_row = x.new_zeros(B, self.h, W), x.new_zeros(B, self.h, W)
        rows = []
        for r in range(H):
            h_row, c_row = self._cell(i2s[:, :, r] + self.s2s(h_row), c_row)
            rows.append(h_row)
        return x + self.res(torch.stack(rows, 2))

    def start_cache(self, B: int, H: int, W: int) -> None:
        self._in = self.mask.new_zeros(B, self.h, W + 1)  # current row's input, one zero column on the left
        self._h_above = self.mask.new_zeros(B, self.h, W + 2)
        self._c_above = self.mask.new_zeros(B, self.h, W)
        self._h_cur, self._c_cur = torch.zeros_like(self._h_above), torch.zeros_like(self._c_above)
        self._wi = (self.i2s.weight * self.mask)[:, :, 0, :2].reshape(4 * self.h, -1)
        self._ws = self.s2s.weight.reshape(4 * self.h, -1)
        self._row = 0
        self.res.start_cache(B, H, W)

    def step(self, v: torch.Tensor, i: int, j: int) -> torch.Tensor:
        if i != self._row:
            self._h_above, self._c_above = self._h_cur, self._c_cur
            self._h_cur, self._c_cur = torch.zeros_like(self._h_above), torch.zeros_like(self._c_above)
            self._row = i
        B = v.shape[0]
        self._in[:, :, j + 1] = v
        gates = F.linear(self._in[:, :, j : j + 2].reshape(B, -1), self._wi, self.i2s.bias)
        gates = gates + F.linear(self._h_above[:, :, j : j + 3].reshape(B, -1), self._ws, self.s2s.bias)
        h, c = self._cell(gates, self._c_above[:, :, j])
        self._h_cur[:, :, j + 1], self._c_cur[:, :, j] = h, c
        return v + self.res.step(h, i, j)


@register("pixelrnn")
class PixelRNN(AutoregressiveModel):
    """PixelRNN (Row LSTM): a mask-A 7x7 convolution, Row LSTM layers, exact log-likelihood."""

    @dataclass(frozen=True)
    class Config:
        channels: int = 32  # h, the LSTM state size
        layers: int = 2
        first_kernel: int = 7
        out_hidden: int = 64
        levels: int = 2  # 2: Bernoulli per channel; 256: softmax per 8-bit channel
        lr: float = 1e-3

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        C, h = self.C, config.channels
        self.first = MaskedConv2d(C, h, config.first_kernel, "A", C)
        self.rows = nn.ModuleList(RowLSTM(h, C) for _ in range(config.layers))
        self.out1 = MaskedConv2d(h, config.out_hidden, 1, "B", C)
        self.out2 = MaskedConv2d(config.out_hidden, C * self.L, 1, "B", C, out_groups=torch.arange(C * self.L) // self.L)

    def net(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.first(x)
        for layer in self.rows:
            h = layer(h)
        return self.out2(F.relu(self.out1(F.relu(h))))  # (B, C*L, H, W)

    def start_cache(self, B: int, y: torch.Tensor | None) -> None:
        for layer in (self.first, *self.rows, self.out1, self.out2):
            layer.start_cache(B, self.H, self.W)

    def step(self, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
        h = self.first.step_image(x, i, j)
        for layer in self.rows:
            h = layer.step(h, i, j)
        return self.out2.step(F.relu(self.out1.step(F.relu(h), i, j)), i, j)  # (B, C*L)
