"""Image completion: fill the hidden part of an image with a trained likelihood model.

Autoregressive models draw each hidden pixel from p(x_i | x_<i) with the visible pixels clamped
(genzoo.models.autoregressive). That is the exact conditional p(hidden | visible) when every
hidden pixel comes after every visible one in raster order (``--mask bottom``); for other masks
the pixels below/right of a hidden pixel cannot inform it, which the tool says. Latent-variable
models complete by iterated encode/decode (Rezende et al. 2014, appendix F): repeatedly encode
the current image, draw z ~ q(z|x), decode, and copy the decoded hidden pixels back.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ..errors import GenzooError
from ..models.base import GenerativeModel

MASKS = ("top", "bottom", "left", "right", "centre")
MAX_COMPLETIONS = 100  # completions in one inpainting row (inpaint --n)


def region_mask(name_or_file: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """True where the pixel is *visible*, (C, H, W): the named half/centre is hidden, or a PNG whose dark pixels are hidden."""
    C, H, W = shape
    known = torch.ones(H, W, dtype=torch.bool)
    if name_or_file == "top":
        known[: H // 2] = False
    elif name_or_file == "bottom":
        known[H // 2 :] = False
    elif name_or_file == "left":
        known[:, : W // 2] = False
    elif name_or_file == "right":
        known[:, W // 2 :] = False
    elif name_or_file in ("centre", "center"):
        known[H // 4 : H - H // 4, W // 4 : W - W // 4] = False
    else:
        known = load_image(name_or_file, (1, H, W))[0] > 0.5
    return known.expand(C, H, W)


def load_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """A PNG/JPEG as (C, H, W) in [0, 1], converted to the model's channels and size."""
    from PIL import Image

    try:
        img = Image.open(path)
        img = img.convert("L" if shape[0] == 1 else "RGB").resize((shape[2], shape[1]), Image.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise GenzooError(f"cannot read image {path}: {e}") from None
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.reshape(shape[1], shape[2], -1)).permute(2, 0, 1).contiguous()


@torch.no_grad()
def complete(model: GenerativeModel, x: torch.Tensor, known: torch.Tensor, n: int = 8,
             generator: torch.Generator | None = None, iterations: int = 50,
             label: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` completions of image x (C, H, W) whose pixels are visible where ``known`` (C, H, W): (n, C, H, W).

    How depends on what the model declares (``model.inpaint``): "autoregressive" draws the hidden
    pixels with the sampler, "latent" iterates encode/decode.
    """
    xs, ks = x.unsqueeze(0).expand(n, -1, -1, -1), known.unsqueeze(0).expand(n, -1, -1, -1)
    labels = label.expand(n) if label is not None else None
    if model.inpaint == "autoregressive":
        return model.sample(n, generator, labels=labels, x=xs, known=ks)
    if model.inpaint != "latent":
        raise GenzooError(f"{model.registry_name} cannot complete images (autoregressive and VAE-family models can)")
    dev = model.device
    xs, ks = xs.to(dev), ks.to(dev)
    cur = torch.where(ks, xs, torch.full_like(xs, 0.5))
    cond = model.conditional
    if cond and labels is None:
        raise GenzooError(f"{model.registry_name} is conditional: give the image's label")
    for _ in range(iterations):
        out = model.encode(cur, labels) if cond else model.encode(cur)
        if isinstance(out, tuple):  # (mu, logvar): draw z ~ q(z | x)
            mu, logvar = out
            z = mu + torch.exp(0.5 * logvar) * model.randn_from(generator, *mu.shape)
        else:
            z = out
        x_hat = model.decode(z, labels) if cond else model.decode(z)
        cur = torch.where(ks, xs, x_hat)
    return cur


def inpaint_grid(model: GenerativeModel, x: torch.Tensor, mask: str, n: int = 8, seed: int = 0,
                 label: int | None = None) -> torch.Tensor:
    """One row: the original, the masked input (hidden pixels grey) and ``n`` completions, (n + 2, C, H, W)."""
    known = region_mask(mask, tuple(x.shape))
    if mask in ("top", "left", "right", "centre", "center") and model.inpaint == "autoregressive":
        print(f"note: with --mask {mask} the hidden pixels are drawn from p(x_i | x_<i); visible pixels after them "
              "in raster order do not inform them (exact only for --mask bottom)", file=sys.stderr)
    y = torch.tensor([label], device=model.device) if label is not None else None
    completions = complete(model, x, known, n, torch.Generator().manual_seed(seed), label=y)
    masked = torch.where(known, x, torch.full_like(x, 0.5))
    return torch.cat([x.unsqueeze(0).cpu(), masked.unsqueeze(0).cpu(), completions.float().cpu()])
