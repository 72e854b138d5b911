"""Network building blocks shared by the model files: MLPs and the DCGAN convolutional bodies.

Two convolutional layouts (``layout``):

- ``mnist``, the layout of the tutorials (the CS231n DCGAN exercise). G: z -> fc 1024 ->
  fc 7x7x128 -> transposed conv 64 (k4 s2) -> transposed conv C (k4 s2) -> tanh, batch norm and
  ReLU after each hidden layer. D: conv 32 (k5) -> leaky ReLU -> max-pool -> conv 64 (k5) ->
  leaky ReLU -> max-pool -> fc 1024 -> leaky ReLU (-> a head, e.g. fc 1).
- ``allconv``, Radford et al. (2016): G projects z to a (8w, 4, 4) block and doubles the
  resolution with k4 s2 transposed convs while halving the channels, batch norm + ReLU, tanh
  out; D mirrors it with k4 s2 strided convs and leaky ReLU 0.2, batch norm after all but the
  first; no pooling and no hidden fully connected layer. For 32x32 and 64x64 RGB.

``width`` (w) scales every channel count (w=64 gives the numbers above) and ``depth`` is the
number of resolution doublings (0: 2 for ``mnist``, as many as the size allows for ``allconv``).
tanh outputs are mapped to genzoo's [0, 1] images as (tanh + 1) / 2, and the convolutional
discriminators see 2x - 1, so both nets work in [-1, 1] as in the papers.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

LAYOUTS = ("mnist", "allconv")


def mlp(sizes: list[int], activation=nn.ReLU, batch_norm: bool = False, last_activation: bool = False) -> nn.Sequential:
    """Linear layers with ``activation`` (and optional batch norm) between them, none after the last unless asked."""
    layers: list[nn.Module] = []
    n = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < n - 1 or last_activation:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(activation())
    return nn.Sequential(*layers)


def leaky(slope: float = 0.2):
    """A leaky-ReLU factory for :func:`mlp`."""
    return lambda: nn.LeakyReLU(slope)


def norm2d(kind: str, channels: int) -> nn.Module:
    """``batch`` norm, ``layer`` norm (over C, H, W: GroupNorm with one group) or ``none``."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown normalisation {kind!r} (batch, layer or none)")


def resolve_layout(layout: str, data_shape: tuple[int, ...]) -> str:
    """``auto`` picks ``mnist`` for 28x28 images and ``allconv`` otherwise; checks the image is square."""
    if len(data_shape) != 3:
        raise ConfigError(
            f"the convolutional layouts need images, but the data are points of shape {tuple(data_shape)}; "
            "use an MLP model (gan, or model.arch=mlp) for 2-D toy data"
        )
    _, h, w = data_shape
    if h != w:
        raise ConfigError(f"the convolutional layouts need square images, not {h}x{w} (set data.resize)")
    if layout == "auto":
        return "mnist" if h == 28 else "allconv"
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}: auto, {', '.join(LAYOUTS)}")
    return layout


def stages(layout: str, size: int, depth: int) -> tuple[int, int]:
    """(s0, n): the generator starts at s0 x s0 and doubles n times to reach ``size``."""
    if depth <= 0:
        if layout == "mnist":
            depth = 2
        else:  # halve while the result stays an integer of at least 4
            depth = 0
            while size % (2 ** (depth + 1)) == 0 and size // 2 ** (depth + 1) >= 4:
                depth += 1
    if depth < 1 or size % 2**depth:
        raise ConfigError(f"a {size}x{size} image cannot be reached by {depth} doublings; set model.depth or data.resize")
    s0 = size // 2**depth
    if layout == "mnist" and s0 < 4:
        raise ConfigError(f"the mnist layout needs images of at least {4 * 2**depth}x{4 * 2**depth} (its two "
                          f"k5 convolutions), not {size}x{size}; use layout=allconv or data.resize")
    return s0, depth


class ConvGenerator(nn.Module):
    """A vector (B, in_dim) -> images (B, C, S, S) in [0, 1], in the ``mnist`` or ``allconv`` layout."""

    def __init__(self, in_dim: int, data_shape: tuple[int, ...], layout: str = "auto", width: int = 64,
                 depth: int = 0, fc_hidden: int = 1024) -> None:
        super().__init__()
        layout = resolve_layout(layout, data_shape)
        c, size, _ = data_shape
        s0, n = stages(layout, size, depth)
        chans = [width * 2 ** (n - 1 - i) for i in range(n)] + [c]  # e.g. 128, 64, C for mnist
        head: list[nn.Module] = []
        if layout == "mnist":
            head += [nn.Linear(in_dim, fc_hidden), nn.BatchNorm1d(fc_hidden), nn.ReLU()]
            in_dim = fc_hidden
        head += [nn.Linear(in_dim, chans[0] * s0 * s0), nn.BatchNorm1d(chans[0] * s0 * s0), nn.ReLU()]
        self.project = nn.Sequential(*head)
        self.start = (chans[0], s0, s0)
        ups: list[nn.Module] = []
        for i in range(n):
            ups.append(nn.ConvTranspose2d(chans[i], chans[i + 1], 4, 2, 1))
            if i < n - 1:
                ups += [nn.BatchNorm2d(chans[i + 1]), nn.ReLU()]
        self.upsample = nn.Sequential(*ups)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], *self.start)  # (B, C0, s0, s0)
        return 0.5 * (torch.tanh(self.upsample(h)) + 1)


class ConvBody(nn.Module):
    """Images (B, C, S, S) in [0, 1] -> features (B, ``out_dim``): a discriminator (or encoder) without its head.

    ``extra_channels`` widens the input for label planes (a conditional D concatenates them).
    """

    def __init__(self, data_shape: tuple[int, ...], layout: str = "auto", width: int = 64, depth: int = 0,
                 norm: str = "batch", fc_hidden: int = 1024, extra_channels: int = 0) -> None:
        super().__init__()
        layout = resolve_layout(layout, data_shape)
        c, size, _ = data_shape
        s0, n = stages(layout, size, depth)
        layers: list[nn.Module] = []
        if layout == "mnist":
            # k5 'valid' convolutions and 2x2 max-pools: 28 -> 24 -> 12 -> 8 -> 4 for two blocks.
            ch, s = c + extra_channels, size
            for i in range(n):
                out = width // 2 * 2**i
                layers += [nn.Conv2d(ch, out, 5), norm2d(norm, out) if i else nn.Identity(), nn.LeakyReLU(0.01),
                           nn.MaxPool2d(2)]
                ch, s = out, (s - 4) // 2
            if s < 1:
                raise ConfigError(f"the mnist layout's {n} conv blocks do not fit a {size}x{size} image")
            layers += [nn.Flatten(), nn.Linear(ch * s * s, fc_hidden), nn.LeakyReLU(0.01)]
            self.out_dim = fc_hidden
        else:
            ch = c + extra_channels
            for i in range(n):
                out = width * 2**i
                layers += [nn.Conv2d(ch, out, 4, 2, 1), norm2d(norm, out) if i else nn.Identity(), nn.LeakyReLU(0.2)]
                ch = out
            layers.append(nn.Flatten())
            self.out_dim = ch * s0 * s0
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, planes: torch.Tensor | None = None) -> torch.Tensor:
        h = 2 * x - 1
        if planes is not None:  # (B, K) one-hot labels broadcast to (B, K, S, S)
            h = torch.cat([h, planes[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        return self.net(h)


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only (Salimans et al. 2016's regulariser of D)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


class MLPBody(nn.Module):
    """Data (B, ...) -> features (B, hidden[-1]): a leaky-ReLU MLP discriminator body (inputs flattened).

    ``noise`` = (input std, hidden std) adds Gaussian noise to the input and after every hidden
    layer while training (0, 0: none).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], extra_in: int = 0,
                 noise: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        layers: list[nn.Module] = [GaussianNoise(noise[0])] if noise[0] > 0 else []
        for a, b in zip([in_dim + extra_in, *hidden[:-1]], hidden):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)] + ([GaussianNoise(noise[1])] if noise[1] > 0 else [])
        self.net = nn.Sequential(*layers)
        self.out_dim = hidden[-1]

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        if extra is not None:
            h = torch.cat([h, extra], dim=1)
        return self.net(h)


class MLPGenerator(nn.Module):
    """A vector (B, in_dim) -> data (B, *data_shape): sigmoid for images in [0, 1], unbounded for points."""

    def __init__(self, in_dim: int, data_shape: tuple[int, ...], hidden: tuple[int, ...], batch_norm: bool = False):
        super().__init__()
        self.data_shape = tuple(data_shape)
        dim = 1
        for s in data_shape:
            dim *= s
        self.net = mlp([in_dim, *hidden, dim], batch_norm=batch_norm)
        self.is_image = len(data_shape) == 3

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.net(z)
        return (torch.sigmoid(h) if self.is_image else h).view(z.shape[0], *self.data_shape)


def resolve_arch(arch: str, data_shape: tuple[int, ...]) -> str:
    """``auto``: conv for images, mlp for points; conv on points is a ConfigError."""
    if arch == "auto":
        return "conv" if len(data_shape) == 3 else "mlp"
    if arch not in ("conv", "mlp"):
        raise ConfigError(f"model.arch must be auto, conv or mlp, not {arch!r}")
    if arch == "conv":
        resolve_layout("auto", data_shape)  # raises the clear error for point data
    return arch
