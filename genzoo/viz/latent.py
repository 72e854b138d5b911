"""Latent-space pictures: interpolation between latent points (linear or spherical)."""
from __future__ import annotations

import torch

from ..errors import GenzooError
from ..models.base import GenerativeModel


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` -> (rows, len(t), D)."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7)).unsqueeze(1)  # (rows, 1)
    so = torch.sin(omega)
    t = t.view(1, -1, 1)
    return (torch.sin((1 - t) * omega.unsqueeze(2)) * a.unsqueeze(1) + torch.sin(t * omega.unsqueeze(2)) * b.unsqueeze(1)) / so.unsqueeze(2)


def interpolate(
    model: GenerativeModel, rows: int, steps: int, method: str = "slerp", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Decode ``rows`` paths of ``steps`` points between random prior draws: (rows * steps, C, H, W)."""
    a = model.latent(rows, generator)
    if a is None:
        raise GenzooError(f"{model.registry_name} has no latent space to interpolate in")
    b = model.latent(rows, generator)
    t = torch.linspace(0, 1, steps, device=a.device)
    if method == "linear":
        z = a.unsqueeze(1) + t.view(1, -1, 1) * (b - a).unsqueeze(1)
    else:
        z = slerp(a, b, t)
    return model.sample(rows * steps, z=z.reshape(rows * steps, -1))
