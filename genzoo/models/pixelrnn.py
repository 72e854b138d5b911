"""PixelRNN with Row LSTM or Diagonal BiLSTM layers.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016
(arXiv:1601.06759), sections 3.1 and 3.2. A 7x7 mask-A convolution, then LSTM layers of one kind
(``config.layer``), each adding its output back to its input through a masked 1x1 convolution
(residual). Gates [o, f, i, g]: c = f * c_prev + i * g, h = o * tanh(c).

Row LSTM (``layer="row"``): the image is processed one row at a time; the input-to-state part is a
1x3 convolution masked to the columns <= j (mask B), the state-to-state part a 1-D convolution of
width 3 over the previous row's hidden state (c_prev: the cell state just above), giving a
triangular receptive field above the pixel.

Diagonal BiLSTM (``layer="diagonal"``): the map is skewed (row r shifted right by r) so that each
diagonal becomes a column, and an LSTM runs over the columns: input-to-state a mask-B 1x1
convolution, state-to-state a 2x1 convolution over the previous column, which in image
coordinates reads the pixel above and the pixel to the left (c_prev: the cell state on the left).
This left-to-right direction sees every pixel above-left; a second one, run on the horizontally
flipped map, sees every pixel above-right, and its output is shifted down one row so that a pixel
only sees rows above through it. Their sum covers the causal context after one layer, with one
exception at any depth: the last sub-pixel of the row above, which (mask A) enters the features only
on the row below, reaches only the pixels within first_kernel // 2 columns of the right edge.

Cached sampling computes one pixel per ``step`` for both layer kinds. The Diagonal BiLSTM's
left-to-right direction is stepped pixel by pixel; its right-to-left direction runs once over each
row when that row is complete, since only the next rows use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import OddKernel, PositiveFloat, PositiveInt, Range, Width
from ..errors import ConfigError
from ..registry import register
from .autoregressive import AutoregressiveModel, MaskedConv2d, causal_mask, channel_groups


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, c) from pre-activations [o, f, i, g] stacked on dimension 1 and the previous cell state."""
    o, f, i, g = gates.chunk(4, 1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        i2s = F.conv2d(x, self.i2s.weight * self.mask, self.i2s.bias, padding=(0, 1))  # (B, 4h, H, W), all rows at once
        h_row, c_row = x.new_zeros(B, self.h, W), x.new_zeros(B, self.h, W)
        rows = []
        for r in range(H):
            h_row, c_row = lstm_cell(i2s[:, :, r] + self.s2s(h_row), c_row)
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
        h, c = lstm_cell(gates, self._c_above[:, :, j])
        self._h_cur[:, :, j + 1], self._c_cur[:, :, j] = h, c
        return v + self.res.step(h, i, j)


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1), row r shifted right by r (zeros elsewhere): diagonals become columns.

    Each row is padded to width W + H and the rows are read back at width W + H - 1, one less, so
    row r starts r places further right."""
    B, C, H, W = x.shape
    return F.pad(x, (0, H)).flatten(2)[:, :, : H * (W + H - 1)].view(B, C, H, W + H - 1)


def unskew(s: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`skew`: (B, C, H, W + H - 1) -> (B, C, H, W)."""
    B, C, H, K = s.shape
    return F.pad(s.flatten(2), (0, H)).view(B, C, H, K + 1)[:, :, :, : K + 1 - H]


class DiagonalBiLSTM(nn.Module):
    """One Diagonal BiLSTM layer with a residual connection; ``step`` computes one pixel for cached sampling.

    Direction 0 runs left to right, direction 1 right to left (on the flipped map); each has its own
    input-to-state and state-to-state weights. The state-to-state kernel (4h, h, 2) applies index 0
    to the pixel above and index 1 to the pixel on the left (on the right for direction 1).
    Hidden and cell states outside the image are zero, as in the Row LSTM."""

    def __init__(self, h: int, groups: int) -> None:
        super().__init__()
        self.h = h
        self.i2s = nn.ModuleList(nn.Conv2d(h, 4 * h, 1) for _ in range(2))
        mask = causal_mask(4 * h, h, 1, 1, "B", groups, out_groups=channel_groups(4 * h, groups, chunks=4))
        self.register_buffer("mask", mask, persistent=False)
        self.s2s = nn.ModuleList(nn.Conv1d(h, 4 * h, 2) for _ in range(2))  # earlier pixels: nothing to mask
        self.res = MaskedConv2d(h, h, 1, "B", groups)

    def _input_to_state(self, x: torch.Tensor, direction: int) -> torch.Tensor:
        return F.conv2d(x, self.i2s[direction].weight * self.mask, self.i2s[direction].bias)

    def _scan(self, x: torch.Tensor, direction: int) -> torch.Tensor:
        """One direction's hidden states (B, h, H, W) from the LSTM run left to right over x (B, h, H, W),
        one skewed column (one diagonal of the image) at a time."""
        B, _, H, W = x.shape
        gates = skew(self._input_to_state(x, direction))  # (B, 4h, H, W + H - 1)
        inside = skew(x.new_ones(1, 1, H, W))[:, 0]  # (1, H, W + H - 1): 1 where a skewed position is a pixel
        h_col, c_col = x.new_zeros(B, self.h, H), x.new_zeros(B, self.h, H)
        cols = []
        for k in range(W + H - 1):
            # Row r of column k - 1, padded by one row on top: rows r - 1 (above) and r (left).
            above_left = F.pad(h_col, (1, 0))
            h_col, c_col = lstm_cell(gates[:, :, :, k] + self.s2s[direction](above_left), c_col)
            h_col, c_col = h_col * inside[:, :, k], c_col * inside[:, :, k]
            cols.append(h_col)
        return unskew(torch.stack(cols, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l2r = self._scan(x, 0)
        r2l = self._scan(x.flip(3), 1).flip(3)
        down = F.pad(r2l, (0, 0, 1, 0))[:, :, :-1]  # row r gets row r - 1's: no pixel sees its own row's right
        return x + self.res(l2r + down)

    def start_cache(self, B: int, H: int, W: int) -> None:
        self._in = self.mask.new_zeros(B, self.h, W)  # the current row's input, for its right-to-left pass
        self._h_above = self.mask.new_zeros(B, self.h, W)  # left to right, the row above
        self._h = self.mask.new_zeros(B, self.h, W + 1)  # left to right, the current row; one zero column on the left
        self._c = torch.zeros_like(self._h)
        self._down = self.mask.new_zeros(B, self.h, W)  # right to left, the row above (what the current row adds)
        self._wi = [(conv.weight * self.mask).flatten(1) for conv in self.i2s]  # (4h, h) each
        self._row = 0
        self.res.start_cache(B, H, W)

    def step(self, v: torch.Tensor, i: int, j: int) -> torch.Tensor:
        if i != self._row:
            self._next_row()
            self._row = i
        self._in[:, :, j] = v
        ws = self.s2s[0].weight
        gates = (F.linear(v, self._wi[0], self.i2s[0].bias) + F.linear(self._h_above[:, :, j], ws[:, :, 0])
                 + F.linear(self._h[:, :, j], ws[:, :, 1], self.s2s[0].bias))
        h, c = lstm_cell(gates, self._c[:, :, j])
        self._h[:, :, j + 1], self._c[:, :, j + 1] = h, c
        return v + self.res.step(h + self._down[:, :, j], i, j)

    def _next_row(self) -> None:
        """The current row is complete: run the right-to-left direction over it, and move the left-to-right state up."""
        self._down = self._right_to_left(self._in, self._down)
        self._h_above = self._h[:, :, 1:]
        self._h, self._c = torch.zeros_like(self._h), torch.zeros_like(self._c)

    def _right_to_left(self, row: torch.Tensor, h_above: torch.Tensor) -> torch.Tensor:
        """Direction 1's hidden states (B, h, W) on a complete row of input (B, h, W), given them on the row above."""
        ws = self.s2s[1].weight
        gates = (F.conv1d(row, self._wi[1].unsqueeze(2), self.i2s[1].bias)
                 + F.conv1d(h_above, ws[:, :, :1], self.s2s[1].bias))  # (B, 4h, W): all but the right neighbour
        h, c = torch.zeros_like(row[:, :, 0]), torch.zeros_like(row[:, :, 0])
        out = torch.zeros_like(row)
        for j in reversed(range(row.shape[2])):
            h, c = lstm_cell(gates[:, :, j] + F.linear(h, ws[:, :, 1]), c)
            out[:, :, j] = h
        return out


LAYERS: dict[str, type[nn.Module]] = {"row": RowLSTM, "diagonal": DiagonalBiLSTM}


@register("pixelrnn")
class PixelRNN(AutoregressiveModel):
    """PixelRNN: a mask-A 7x7 convolution, Row LSTM or Diagonal BiLSTM layers, exact log-likelihood."""

    @dataclass(frozen=True)
    class Config:
        channels: Width = 32  # h, the LSTM state size
        layers: PositiveInt = 2
        layer: str = "row"  # row: Row LSTM (section 3.1); diagonal: Diagonal BiLSTM (section 3.2)
        first_kernel: OddKernel = 7
        out_hidden: Width = 64
        levels: Annotated[int, Range(2, 256)] = 2  # 2: Bernoulli per channel; 256: softmax per 8-bit channel
        lr: PositiveFloat = 1e-3

        def __post_init__(self) -> None:
            if self.layer not in LAYERS:
                raise ConfigError(f"model.layer must be {' or '.join(LAYERS)}, not {self.layer!r}")

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        C, h = self.C, config.channels
        self.first = MaskedConv2d(C, h, config.first_kernel, "A", C)
        # The LSTM layers of either kind; the name ``rows`` is kept so that saved Row LSTM checkpoints load.
        self.rows = nn.ModuleList(LAYERS[config.layer](h, C) for _ in range(config.layers))
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
