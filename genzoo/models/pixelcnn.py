"""PixelCNN: masked convolutions with an exact likelihood.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016
(arXiv:1601.06759), section 3.4 and figure 5: a 7x7 convolution with mask A, then residual
blocks (1x1 down to h, 3x3 mask B, 1x1 up to 2h), then two 1x1 mask-B layers to the logits.
log p(x) = sum_i log p(x_i | x_<i) is exact; training minimises it directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NonNegativeInt, OddKernel, PositiveFloat, Range, Width
from ..registry import register
from .autoregressive import AutoregressiveModel, MaskedConv2d


class ResidualBlock(nn.Module):
    """ReLU-1x1(2h->h)-ReLU-3x3B(h->h)-ReLU-1x1(h->2h), added to its input (figure 5 of the paper)."""

    def __init__(self, h2: int, k: int, groups: int) -> None:
        super().__init__()
        h = h2 // 2
        self.down = MaskedConv2d(h2, h, 1, "B", groups)
        self.conv = MaskedConv2d(h, h, k, "B", groups)
        self.up = MaskedConv2d(h, h2, 1, "B", groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.relu(self.conv(F.relu(self.down(F.relu(x))))))

    def start_cache(self, B: int, H: int, W: int) -> None:
        for layer in (self.down, self.conv, self.up):
            layer.start_cache(B, H, W)

    def step(self, v: torch.Tensor, i: int, j: int) -> torch.Tensor:
        return v + self.up.step(F.relu(self.conv.step(F.relu(self.down.step(F.relu(v), i, j)), i, j)), i, j)


@register("pixelcnn")
class PixelCNN(AutoregressiveModel):
    """PixelCNN with mask-A 7x7 input layer and mask-B residual blocks; exact log-likelihood."""

    @dataclass(frozen=True)
    class Config:
        channels: Width = 64  # 2h in the paper
        blocks: NonNegativeInt = 5
        kernel: OddKernel = 3  # of the residual blocks' masked convolution
        first_kernel: OddKernel = 7
        out_hidden: Width = 64
        levels: Annotated[int, Range(2, 256)] = 2  # 2: Bernoulli per channel (binarized data); 256: softmax per 8-bit channel
        lr: PositiveFloat = 1e-3

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        c, C = config.channels, self.C
        self.first = MaskedConv2d(C, c, config.first_kernel, "A", C)
        self.blocks = nn.ModuleList(ResidualBlock(c, config.kernel, C) for _ in range(config.blocks))
        self.out1 = MaskedConv2d(c, config.out_hidden, 1, "B", C)
        # Output channel o predicts data channel o // L, so its group is that channel.
        out_groups = torch.arange(C * self.L) // self.L
        self.out2 = MaskedConv2d(config.out_hidden, C * self.L, 1, "B", C, out_groups=out_groups)

    def net(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h)
        return self.out2(F.relu(self.out1(F.relu(h))))  # (B, C*L, H, W)

    def start_cache(self, B: int, y: torch.Tensor | None) -> None:
        for layer in (self.first, *self.blocks, self.out1, self.out2):
            layer.start_cache(B, self.H, self.W)

    def step(self, x: torch.Tensor, i: int, j: int) -> torch.Tensor:
        h = self.first.step_image(x, i, j)
        for block in self.blocks:
            h = block.step(h, i, j)
        return self.out2.step(F.relu(self.out1.step(F.relu(h), i, j)), i, j)  # (B, C*L)
