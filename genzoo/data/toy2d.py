"""Toy 2-D distributions for watching mode coverage and mode collapse.

All are generated, deterministic given the seed: the "train" split uses seed 0 and the
"test" split seed 1, ``config.toy_size`` points each (default 100,000: the training-set size of
the PacGAN experiments).

- ``8gaussians``: 8 modes equally spaced on a circle of radius 2 (angles k*pi/4), std 0.02.
- ``25gaussians``: a 5x5 grid at {-4, -2, 0, 2, 4}^2 (spacing 2), std 0.05.
- ``2d-ring``: the literature's ring (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018, as
  the PacGAN authors' experiment configs define it): 8 modes (cos(2 pi k / 8), sin(2 pi k / 8))
  on the unit circle, std 0.01 (variance 1e-4 per coordinate).
- ``2d-grid``: the literature's grid (same sources): 25 modes at {-4, -2, 0, 2, 4}^2, std 0.05
  (variance 0.0025 per coordinate).
- ``swissroll``: t ~ U(1.5pi, 4.5pi), point (t cos t, t sin t) / 5 plus N(0, 0.1^2) noise.
- ``moons``: two interleaved unit half circles, centred, plus N(0, 0.1^2) noise.
- ``checkerboard``: uniform on the 8 dark squares of a 4x4 board covering [-4, 4]^2.

Gaussian mixtures expose ``modes`` and ``mode_std`` (mode-coverage metrics use them) and
label each point with its mode index. The continuous shapes have no finite set of modes, so
``modes`` is None; moons are labelled by moon (0 or 1), swissroll and checkerboard unlabelled.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .base import DataConfig, Dataset, register_dataset

SEEDS = {"train": 0, "test": 1}

# name -> fn(n, generator) -> (points (n, 2), labels (n,) or None, modes (K, 2) or None, std)
Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, float]]


def ring_modes(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    """``k`` points equally spaced on a circle, the first at angle 0."""
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()  # (k, 2)


def grid_modes(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> torch.Tensor:
    """The Cartesian grid ``values x values``, row-major (x varies slowest)."""
    v = torch.tensor(values)
    return torch.cartesian_prod(v, v)  # (len(values)**2, 2)


def mixture(n: int, modes: torch.Tensor, std: float, g: torch.Generator):
    """``n`` points from an equal-weight isotropic Gaussian mixture; labels are mode indices."""
    labels = torch.randint(len(modes), (n,), generator=g)
    points = modes[labels] + std * torch.randn(n, 2, generator=g)
    return points, labels, modes, std


def swissroll(n: int, g: torch.Generator):
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5 + 0.1 * torch.randn(n, 2, generator=g)
    return points, None, None, 0.0


def moons(n: int, g: torch.Generator):
    labels = torch.randint(2, (n,), generator=g)
    theta = math.pi * torch.rand(n, generator=g)
    upper = torch.stack([theta.cos(), theta.sin()], dim=1)
    lower = torch.stack([1 - theta.cos(), 0.5 - theta.sin()], dim=1)
    points = torch.where(labels[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25])
    return points + 0.1 * torch.randn(n, 2, generator=g), labels, None, 0.0


def checkerboard(n: int, g: torch.Generator):
    # column u in [-2, 2); within each unit column pick one of the two dark unit squares
    u = 4 * torch.rand(n, generator=g) - 2
    v = torch.rand(n, generator=g) - 2 * torch.randint(2, (n,), generator=g) + (u.floor() % 2)
    return 2 * torch.stack([u, v], dim=1), None, None, 0.0


SAMPLERS: dict[str, tuple[Sampler, str]] = {
    "8gaussians": (lambda n, g: mixture(n, ring_modes(), 0.02, g), "8 Gaussians on a ring of radius 2, std 0.02"),
    "25gaussians": (lambda n, g: mixture(n, grid_modes(), 0.05, g), "5x5 grid of Gaussians, spacing 2, std 0.05"),
    "2d-ring": (lambda n, g: mixture(n, ring_modes(8, 1.0), 0.01, g),
                "the PacGAN/VEEGAN ring: 8 Gaussians on the unit circle, std 0.01"),
    "2d-grid": (lambda n, g: mixture(n, grid_modes(), 0.05, g),
                "the PacGAN/VEEGAN grid: 5x5 Gaussians at {-4,-2,0,2,4}^2, std 0.05"),
    "swissroll": (swissroll, "2-D swiss roll"),
    "moons": (moons, "two interleaved half moons"),
    "checkerboard": (checkerboard, "uniform on a 4x4 checkerboard's dark squares"),
}


def sample_toy(name: str, n: int, seed: int) -> Dataset:
    """``n`` points of toy distribution ``name`` drawn with ``seed`` (split is left as "")."""
    sampler, _ = SAMPLERS[name]
    points, labels, modes, std = sampler(n, torch.Generator().manual_seed(seed))
    num_classes = len(modes) if modes is not None else (2 if labels is not None else 0)
    return Dataset(x=points.float().contiguous(), y=labels, name=name, split="", source=f"generated (seed {seed})",
                   num_classes=num_classes, modes=modes, mode_std=std, extra={"seed": seed})


def _register(name: str, description: str) -> None:
    @register_dataset(name, description)
    def load(config: DataConfig, split: str) -> Dataset:
        ds = sample_toy(name, config.toy_size, SEEDS[split])
        ds.split = split
        return ds


for _name, (_, _description) in SAMPLERS.items():
    _register(_name, _description)
