"""Latent-space pictures: interpolation between latent points (linear or spherical), and for models
with an encoder the 2-D manifold grid, interpolation between two images, single-dimension
traversals and a scatter of encoded data coloured by label."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import GenzooError
from ..models.base import GenerativeModel

DECODE_BATCH = 500  # latent points decoded at once: memory stays bounded however many a picture has
TRAVERSE_DIMS = 8  # latent dimensions a traversal shows (one row each)


def decode_in_batches(model: GenerativeModel, z: torch.Tensor, labels: torch.Tensor | None = None,
                      batch: int = DECODE_BATCH) -> torch.Tensor:
    """``model.sample(len(z), z=z, labels=labels)`` computed ``batch`` points at a time, on the CPU."""
    parts = labels.split(batch) if labels is not None else [None] * len(z.split(batch))
    return torch.cat([model.sample(len(p), z=p, labels=y).cpu() for p, y in zip(z.split(batch), parts)])


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
    """Decode ``rows`` paths of ``steps`` points between random prior draws: (rows * steps, C, H, W).
    A class-conditional model draws row r for class r (modulo the number of classes)."""
    a = model.latent(rows, generator)
    if a is None:
        raise GenzooError(f"{model.registry_name} has no latent space to interpolate in")
    b = model.latent(rows, generator)
    t = torch.linspace(0, 1, steps, device=a.device)
    if method == "linear":
        z = a.unsqueeze(1) + t.view(1, -1, 1) * (b - a).unsqueeze(1)
    else:
        z = slerp(a, b, t)
    # A class-conditional model draws each row for one class (0, 1, 2, ...), never a random one.
    labels = (torch.arange(rows, device=z.device) % model.num_classes).repeat_interleave(steps) \
        if model.conditional and model.num_classes else None
    return decode_in_batches(model, z.reshape(rows * steps, -1), labels)


@torch.no_grad()
def code_traversal(
    model: GenerativeModel, code: int = 0, steps: int = 10, span: float = 2.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """InfoGAN's traversal grid: one row per categorical value, one column per value of continuous ``code``.

    The noise z is one draw shared by the whole grid and the other continuous codes are 0, so a
    row shows what the categorical code selects and a column what the continuous code changes.
    The code runs over ``steps`` values in [-span, span] (training draws U(-1, 1); the paper
    shows [-2, 2]). Returns (rows * steps, ...) in row-major order.
    """
    cfg = model.config
    if not model.code_traversal:
        raise GenzooError(f"{model.registry_name or type(model).__name__} has no structured codes to traverse "
                          "(infogan has)")
    if cfg.continuous and not 0 <= code < cfg.continuous:
        raise GenzooError(f"--code must be in 0..{cfg.continuous - 1}, not {code}")
    if steps < 1:
        raise GenzooError(f"--steps must be positive, not {steps}")
    rows = max(cfg.categorical, 1)
    n = rows * steps
    z = model.latent(1, generator)[:, : cfg.z_dim].expand(n, -1)  # (n, z_dim), one noise for the grid
    categorical = torch.arange(rows, device=z.device).repeat_interleave(steps) if cfg.categorical else None
    continuous = None
    if cfg.continuous:
        continuous = torch.zeros(n, cfg.continuous, device=z.device)
        continuous[:, code] = torch.linspace(-span, span, steps, device=z.device).repeat(rows)
    return decode_in_batches(model, model.compose(z, categorical, continuous))


# -- pictures of a learned encoder's latent space (VAE family) ---------------------------
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _needs_encoder(model: GenerativeModel) -> None:
    if not model.has_encoder:
        raise GenzooError(f"{model.registry_name} has no encoder and decoder (a VAE-family model has)")


@torch.no_grad()
def encode_mean(model: GenerativeModel, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The code of each image: the posterior mean mu (VAEs) or E(x) (the AAE), (N, z_dim)."""
    _needs_encoder(model)
    x = x.to(model.device)
    if model.conditional and labels is None:
        raise GenzooError(f"{model.registry_name} is class-conditional: it encodes an image with its label")
    out = model.encode(x, labels.to(model.device)) if model.conditional else model.encode(x)
    return out[0] if isinstance(out, tuple) else out


def _decode(model: GenerativeModel, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The decoder's images of codes z, DECODE_BATCH at a time (labels: one, or one per code)."""
    if model.conditional:
        labels = labels if labels is not None else torch.zeros(1, dtype=torch.long, device=z.device)
        labels = labels.expand(z.shape[0])
        return torch.cat([model.decode(part, y) for part, y in zip(z.split(DECODE_BATCH), labels.split(DECODE_BATCH))])
    return torch.cat([model.decode(part) for part in z.split(DECODE_BATCH)])


@torch.no_grad()
def manifold(model: GenerativeModel, n: int = 15, label: int | None = None) -> torch.Tensor:
    """Decode an n x n grid of a 2-D latent at Gaussian quantiles (as Kingma & Welling, fig. 4): (n*n, C, H, W).

    Points sit at norm.ppf of evenly spaced probabilities, so each cell covers equal prior mass.
    """
    from scipy.stats import norm

    _needs_encoder(model)
    if model.latent(1) is None or model.latent(1).shape[1] != 2:
        raise GenzooError(f"the manifold needs a 2-D latent; train with --set model.z_dim=2")
    q = torch.tensor(norm.ppf(np.linspace(0.05, 0.95, n)), dtype=torch.float32, device=model.device)
    z = torch.stack([q.repeat(n), q.flip(0).repeat_interleave(n)], 1)  # (n*n, 2): z2 grows upward
    y = torch.tensor([label], device=model.device) if label is not None else None
    return _decode(model, z, y)


@torch.no_grad()
def interpolate_images(model: GenerativeModel, a: torch.Tensor, b: torch.Tensor, steps: int = 10,
                       label_a: torch.Tensor | None = None, label_b: torch.Tensor | None = None) -> torch.Tensor:
    """Decode ``steps`` codes on the line between the codes of images a and b (1, C, H, W): (steps, C, H, W).

    A class-conditional model encodes each image with its label (1,) and decodes the path with a's."""
    za, zb = encode_mean(model, a, label_a), encode_mean(model, b, label_b)
    t = torch.linspace(0, 1, steps, device=za.device).unsqueeze(1)
    return _decode(model, za + t * (zb - za), label_a)


@torch.no_grad()
def traverse(model: GenerativeModel, x: torch.Tensor, dims: int = TRAVERSE_DIMS, steps: int = 10,
             span: float = 3.0, label: torch.Tensor | None = None) -> torch.Tensor:
    """Vary one latent dimension at a time from the code of image x (1, C, H, W) over [-span, span]:
    one row per dimension, (min(dims, z_dim) * steps, C, H, W). ``label`` (1,): x's class, for
    class-conditional models."""
    z0 = encode_mean(model, x, label)[0]
    rows = min(dims, z0.shape[0])
    z = z0.repeat(rows * steps, 1)
    values = torch.linspace(-span, span, steps, device=z.device)
    for d in range(rows):
        z[d * steps : (d + 1) * steps, d] = values
    return _decode(model, z, label)


def save_code_scatter(model: GenerativeModel, x: torch.Tensor, labels: torch.Tensor | None, path: str | Path,
                      size: int = 480, batch: int = 500) -> Path:
    """Scatter of the codes of images x coloured by label (the first two dimensions; PCA when z_dim > 2)."""
    from PIL import Image, ImageDraw

    z = torch.cat([encode_mean(model, x[i : i + batch], None if labels is None else labels[i : i + batch]).cpu()
                   for i in range(0, len(x), batch)])
    if z.shape[1] > 2:  # project onto the two leading principal axes
        zc = z - z.mean(0)
        z = zc @ torch.linalg.svd(zc, full_matrices=False).Vh[:2].T
    extent = float(z.abs().quantile(0.995)) * 1.1 + 1e-6
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    px = ((z / extent + 1) * 0.5 * (size - 1)).round().numpy()
    for k, (u, v) in enumerate(px):
        c = PALETTE[int(labels[k]) % len(PALETTE)] if labels is not None else PALETTE[0]
        draw.rectangle([u - 1, size - 2 - v, u, size - 1 - v], fill=c)
    if labels is not None:
        for k in range(int(labels.max()) + 1):
            draw.rectangle([6, 6 + 14 * k, 16, 16 + 14 * k], fill=PALETTE[k % len(PALETTE)])
            draw.text((20, 5 + 14 * k), str(k), fill=(0, 0, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
