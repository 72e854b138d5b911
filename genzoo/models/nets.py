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

from typing import Callable

import torch
import torch.nn.functional as F
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


def activation(name: str) -> nn.Module:
    """A hidden-layer nonlinearity by name: ``relu``, ``leaky_relu`` (slope 0.2) or ``softplus``."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "softplus":
        return nn.Softplus()
    raise ConfigError(f"unknown activation {name!r} (relu, leaky_relu or softplus)")


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only (Salimans et al. 2016's regulariser of D).

    The noise is drawn by ``randn(*shape)``, the model's training-noise source (rank- and
    micro-batch-sliced), never by the global RNG.
    """

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor, randn: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
        if not self.training or self.std <= 0:
            return x
        if randn is None:
            raise RuntimeError("GaussianNoise in training mode needs randn=, the model's training-noise source")
        return x + self.std * randn(*x.shape)


class WeightNormLinear(nn.Module):
    """A linear layer with weight w = g v / ||v|| per output unit (Salimans & Kingma 2016).

    :meth:`data_init` sets g and the bias b from a batch so that the layer's outputs start with
    zero mean and unit variance per unit. ``train_scale=False`` keeps g fixed after that (a
    buffer), as in the hidden layers of Salimans et al. (2016)'s MNIST discriminator.
    """

    def __init__(self, in_features: int, out_features: int, train_scale: bool = True, init_std: float = 0.05) -> None:
        super().__init__()
        # v's direction is all the layer uses, but its length sets how far an optimizer step turns it
        self.v = nn.Parameter(init_std * torch.randn(out_features, in_features))
        if train_scale:
            self.g = nn.Parameter(torch.ones(out_features))
        else:
            self.register_buffer("g", torch.ones(out_features))
        self.b = nn.Parameter(torch.zeros(out_features))

    @property
    def weight(self) -> torch.Tensor:
        return self.v * (self.g / self.v.norm(dim=1)).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (g v / ||v||)^T = (x v^T) g / ||v||: the scale goes on the (B, out) output, not on the
        # (out, in) weight, which saves a pass over the weight forward and two backward
        return torch.addcmul(self.b, F.linear(x, self.v), self.g / self.v.norm(dim=1))

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> torch.Tensor:
        """Set g and b from batch ``x`` (B, in); returns the layer's output on it after the change."""
        t = F.linear(x, self.v / self.v.norm(dim=1, keepdim=True))  # (B, out) with g = 1, b = 0
        mean, std = t.mean(0), t.std(0, unbiased=False).clamp_min(1e-8)
        self.g.copy_(1 / std)
        self.b.copy_(-mean / std)
        return (t - mean) / std


class MLPBody(nn.Module):
    """Data (B, ...) -> features (B, hidden[-1]): an MLP discriminator body (inputs flattened).

    ``noise`` = (input std, hidden std) adds Gaussian noise to the input and to the output of
    every hidden layer that feeds another layer, while training (0, 0: none). The body's output
    itself is clean: a head that wants noisy features adds its own :class:`GaussianNoise` (Salimans
    et al. 2016 match the clean last-layer features and classify noisy ones). ``act``: the hidden
    nonlinearity (:func:`activation`). ``weight_norm``: weight-normalised layers with fixed
    scales, set by :meth:`data_init` before training, their directions v drawn N(0, ``init_std``^2).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], extra_in: int = 0,
                 noise: tuple[float, float] = (0.0, 0.0), act: str = "leaky_relu", weight_norm: bool = False,
                 init_std: float = 0.05) -> None:
        super().__init__()
        layers: list[nn.Module] = [GaussianNoise(noise[0])] if noise[0] > 0 else []
        sizes = [in_dim + extra_in, *hidden]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i and noise[1] > 0:
                layers.append(GaussianNoise(noise[1]))
            layers += [WeightNormLinear(a, b, train_scale=False, init_std=init_std) if weight_norm else nn.Linear(a, b), activation(act)]
        self.net = nn.Sequential(*layers)
        self.out_dim = hidden[-1]

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None,
                randn: Callable[..., torch.Tensor] | None = None, init: bool = False) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        if extra is not None:
            h = torch.cat([h, extra], dim=1)
        for layer in self.net:
            if isinstance(layer, GaussianNoise):
                h = layer(h, randn)
            elif init and isinstance(layer, WeightNormLinear):
                h = layer.data_init(h)
            else:
                h = layer(h)
        return h

    @torch.no_grad()
    def data_init(self, x: torch.Tensor, randn: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
        """Data-dependent initialisation of the weight-normalised layers on batch ``x``, in order; returns the features."""
        return self.forward(x, randn=randn, init=True)


class ShiftOnlyBatchNorm1d(nn.BatchNorm1d):
    """Batch norm that learns a shift but no scale (Lasagne's ``batch_norm(layer, g=None)``).

    The scale stays a buffer of ones under the same name, so the state dict has BatchNorm1d's keys.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features)
        del self.weight
        self.register_buffer("weight", torch.ones(num_features))


G_INITS = ("default", "glorot")


class MLPGenerator(nn.Module):
    """A vector (B, in_dim) -> data (B, *data_shape): sigmoid for images in [0, 1], unbounded for points.

    ``act``: the hidden nonlinearity (:func:`activation`); ``weight_norm``: a weight-normalised
    output layer (trainable scale), as in Salimans et al. (2016)'s MNIST generator.
    ``bn_scale=False``: batch norm with a learned shift only (their code's ``g=None``).
    ``init="glorot"``: Glorot-uniform weights (and zero biases) for every layer, the output
    layer's directions included, as Lasagne's layers start; ``default``: PyTorch's.
    """

    def __init__(self, in_dim: int, data_shape: tuple[int, ...], hidden: tuple[int, ...], batch_norm: bool = False,
                 act: str = "relu", weight_norm: bool = False, bn_scale: bool = True, init: str = "default"):
        super().__init__()
        if init not in G_INITS:
            raise ConfigError(f"unknown generator initialisation {init!r} ({' or '.join(G_INITS)})")
        self.data_shape = tuple(data_shape)
        dim = 1
        for s in data_shape:
            dim *= s
        body = mlp([in_dim, *hidden], activation=lambda: activation(act), batch_norm=batch_norm, last_activation=True)
        if not bn_scale:
            body = [ShiftOnlyBatchNorm1d(m.num_features) if isinstance(m, nn.BatchNorm1d) else m for m in body]
        last = hidden[-1] if hidden else in_dim
        self.net = nn.Sequential(*body, WeightNormLinear(last, dim) if weight_norm else nn.Linear(last, dim))
        self.is_image = len(data_shape) == 3
        if init == "glorot":
            for m in self.net:
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, WeightNormLinear):
                    nn.init.xavier_uniform_(m.v)

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


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): ``pieces`` linear units per output, keep the largest.

    (B, in_features) -> (B, out_features); the discriminators of the VEEGAN/PacGAN toy experiments.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        if pieces < 1:
            raise ConfigError(f"a maxout layer needs at least 1 piece, not {pieces}")
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).amax(dim=2)


def maxout_mlp(sizes: list[int], pieces: int) -> nn.Sequential:
    """Maxout hidden layers of ``sizes[1:-1]`` units, then a linear output layer of ``sizes[-1]``."""
    layers: list[nn.Module] = [Maxout(a, b, pieces) for a, b in zip(sizes[:-2], sizes[1:-1])]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))
