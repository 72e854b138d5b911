"""Pictures with Pillow alone: image grids, and scatter plots of 2-D samples."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

# The most images one picture holds (sample --n, interpolate --rows x --steps, latent grids): a
# 10,000-tile grid of 28x28 images is ~40 MB of canvas; beyond that a grid is no longer a picture.
MAX_IMAGES = 10_000


def grid_array(images: torch.Tensor, nrow: int | None = None, padding: int = 2, scale: int = 1) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into one uint8 array (H', W', C) with ``nrow`` per row."""
    x = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = x.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    ncol = int(math.ceil(n / nrow))
    canvas = torch.ones(c, ncol * (h + padding) + padding, nrow * (w + padding) + padding)
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        canvas[:, top : top + h, left : left + w] = x[i]
    arr = (canvas.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    return arr


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int | None = None) -> Path:
    """Save images (N, C, H, W) in [0, 1] as one PNG grid; small images are enlarged to be visible."""
    h = images.shape[-1]
    scale = scale or max(1, 56 // h)
    arr = grid_array(images, nrow=nrow, scale=scale)
    mode = "L" if arr.shape[2] == 1 else "RGB"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode).save(path)
    return path


def save_scatter(
    points: torch.Tensor,
    path: str | Path,
    reference: torch.Tensor | None = None,
    modes: torch.Tensor | None = None,
    size: int = 480,
    extent: float | None = None,
) -> Path:
    """Plot 2-D samples (blue) over reference data (grey) and mode centres (red crosses)."""
    pts = points.detach().float().cpu()
    every = [pts] + [t.float().cpu() for t in (reference, modes) if t is not None]
    if extent is None:
        extent = float(torch.cat(every).abs().quantile(0.995)) * 1.15 + 1e-6
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def to_px(p: torch.Tensor) -> np.ndarray:
        return ((p.numpy() / extent + 1) * 0.5 * (size - 1)).round()

    draw.line([(size // 2, 0), (size // 2, size)], fill=(230, 230, 230))
    draw.line([(0, size // 2), (size, size // 2)], fill=(230, 230, 230))
    if reference is not None:
        for x, y in to_px(reference.float().cpu()[:5000]):
            draw.point((x, size - 1 - y), fill=(190, 190, 190))
    for x, y in to_px(pts):
        draw.rectangle([x - 1, size - 2 - y, x, size - 1 - y], fill=(31, 90, 180))
    if modes is not None:
        for x, y in to_px(modes.float().cpu()):
            y = size - 1 - y
            draw.line([(x - 5, y - 5), (x + 5, y + 5)], fill=(210, 30, 30), width=2)
            draw.line([(x - 5, y + 5), (x + 5, y - 5)], fill=(210, 30, 30), width=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def save_samples(samples: torch.Tensor, path: str | Path, **kwargs) -> Path:
    """A grid for images, a scatter plot for 2-D points."""
    if samples.dim() == 4:
        return save_grid(samples, path, nrow=kwargs.get("nrow"))
    return save_scatter(samples, path, reference=kwargs.get("reference"), modes=kwargs.get("modes"))


def save_montage(panels: list[tuple[str, str | Path]], path: str | Path, ncol: int = 4, width: int = 240) -> Path:
    """Tile existing pictures ``(caption, png)`` into one PNG, each resized to ``width`` pixels with
    its caption above it (e.g. one sample grid per model, side by side)."""
    tiles = []
    for caption, png in panels:
        with Image.open(png) as im:
            im = im.convert("RGB")
            tiles.append((caption, im.resize((width, round(im.height * width / im.width)), Image.NEAREST)))
    cap, pad = 18, 6
    cell_h = max(t.height for _, t in tiles) + cap + pad
    nrow = math.ceil(len(tiles) / ncol)
    canvas = Image.new("RGB", (ncol * (width + pad) + pad, nrow * cell_h + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (caption, tile) in enumerate(tiles):
        r, q = divmod(i, ncol)
        left, top = pad + q * (width + pad), pad + r * cell_h
        draw.text((left, top + 2), caption, fill="black")
        canvas.paste(tile, (left, top + cap))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
