"""Likelihood metrics: exact NLL, dequantised densities and the importance-weighted bound (Burda et al. 2016).

What a model offers is declared by ``model.likelihood`` (see :class:`genzoo.models.base.GenerativeModel`),
never guessed from its methods:

- ``"discrete"``: ``log_prob(x) -> (B,)`` is log P(x) of discrete data in nats, reported as is
  (``nll_method: exact``);
- ``"density"``: ``log_prob(x)`` is a continuous density p(x) on R^D. A density is not a
  probability: on data that take a few values per pixel it can grow without bound (a Gaussian
  component with vanishing variance on a pixel that is always 0), so -log p(x) can be negative and
  is no code length. It is reported dequantised (below) wherever the data's levels are known;
- ``"bound"``: ``log_importance_weights(x, k, [labels,] generator=) -> (B, k)`` gives
  w_i = log p(x, z_i) - log q(z_i | x), z_i ~ q(z | x), and log P(x) >= IWAE_k = log mean_i exp(w_i),
  tightening as k grows (k = 5000 for reported numbers); the mean weight is a k-sample ELBO estimate;
- ``"density-bound"``: the same weights for a continuous density, reported dequantised like a density.

Uniform dequantisation (Uria, Murray & Larochelle 2013; Theis, van den Oord & Bethge 2016). Data
with L levels per dimension take the values x = k / (L - 1), k = 0..L-1 -- L = 256 for 8-bit images
(genzoo scales pixels by 1/255), 17 for the scikit-learn digits (pixel counts 0..16 scaled by 1/16),
2 once binarized -- a grid of spacing Delta = 1 / (L - 1). Give each grid point the cell
x + [-Delta/2, Delta/2)^D. A density p then defines a discrete distribution on the grid,
P(x) = integral over the cell of p (mass outside the cells is lost, so sum_x P(x) <= 1), and by
Jensen's inequality, with u uniform on [-Delta/2, Delta/2)^D,

    -log P(x) = -log E_u[p(x + u)] - D log Delta  <=  E_u[-log p(x + u)] + D log(L - 1).

genzoo reports this upper bound on a discrete NLL in nats per example, estimated with one u per
test example from a seeded generator, and nll_bits_per_dim = nll / (D log 2). The bin term
D log(L - 1) is D log 255 for 8-bit data in genzoo's k/255 scaling (the usual "+ D log 256" is the
same construction for data scaled (k + u) / 256, whose cells have width 1/256). For a
``density-bound`` model -IWAE_k(x + u) >= -log p(x + u), so the figure stays an upper bound. The
continuous figure E_u[-log p(x + u)] is kept as ``nll_density``. Where the levels are unknown (2-D
points, resized images) the density is reported as a density: no bin term, no bits/dim, and
``nll_method`` says so. The binarization applied to the test images is recorded.
"""
from __future__ import annotations

import math

import torch

from ..errors import GenzooError
from .base import eval_mode

LIKELIHOODS = ("discrete", "density", "bound", "density-bound")


def bits_per_dim(nll_nats: float | torch.Tensor, dims: int) -> float | torch.Tensor:
    """Convert a per-example NLL in nats to bits per dimension."""
    return nll_nats / (dims * math.log(2))


def binarize(x: torch.Tensor, mode: str = "dynamic", seed: int = 0) -> torch.Tensor:
    """Binarize images in [0, 1]: ``dynamic`` draws Bernoulli(x) with a seeded generator,
    ``threshold`` rounds at 0.5, ``none`` returns x unchanged."""
    if mode == "none":
        return x
    if mode == "threshold":
        return (x > 0.5).to(x.dtype)
    if mode == "dynamic":
        g = torch.Generator().manual_seed(seed)
        return torch.bernoulli(x.clamp(0, 1), generator=g)
    raise GenzooError(f"binarization must be dynamic, threshold or none, not {mode!r}")


def likelihood_kind(model) -> str:
    """The likelihood ``model`` declares (``model.likelihood``); a GenzooError when it has none."""
    kind = getattr(model, "likelihood", None)
    if kind is None:
        name = getattr(model, "registry_name", "") or type(model).__name__
        raise GenzooError(f"{name} has no likelihood to evaluate (it declares likelihood=None); "
                          "the nll metric needs an exact, density or bound model")
    if kind not in LIKELIHOODS:
        raise GenzooError(f"{type(model).__name__} declares likelihood={kind!r}; known: {', '.join(LIKELIHOODS)}")
    return kind


def dequantization_term(dims: int, levels: int) -> float:
    """D log(L - 1): the nats per example a density pays for cells of width 1 / (L - 1) (see above)."""
    if levels < 2:
        raise GenzooError(f"data with {levels} level(s) per pixel have no bin width")
    return dims * math.log(levels - 1)


def _extra(labels: torch.Tensor | None) -> tuple:
    # Class-conditional models take the labels as the next positional argument.
    return () if labels is None else (labels,)


@torch.no_grad()
def iwae_log_likelihood(model, x: torch.Tensor, k: int, k_chunk: int = 500,
                        labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
                        weight_sum: list | None = None) -> torch.Tensor:
    """IWAE_k estimate of log p(x), (B,), drawing the k samples ``k_chunk`` at a time from ``generator``.

    Chunks are combined with a running logsumexp, so k = 5000 needs only k_chunk samples in memory.
    ``weight_sum``, a list, receives the sum of every weight and their count (for the ELBO estimate).
    """
    if k < 1:
        raise GenzooError(f"the importance-weighted bound needs k >= 1 samples, not {k}")
    lse = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    done = 0
    while done < k:
        kc = min(k_chunk, k - done)
        w = model.log_importance_weights(x, kc, *_extra(labels), generator=generator).double().cpu()  # (B, kc)
        lse = torch.logaddexp(lse, torch.logsumexp(w, dim=1))
        if weight_sum is not None:
            weight_sum.append((float(w.sum()), w.numel()))
        done += kc
    return lse - math.log(k)


@torch.no_grad()
def evaluate_nll(
    model,
    x: torch.Tensor,
    k: int = 5000,
    batch_size: int = 100,
    binarization: str = "dynamic",
    seed: int = 0,
    k_chunk: int | None = None,
    progress: bool = True,
    labels: torch.Tensor | None = None,
    levels: int | None = None,
) -> dict:
    """NLL of ``model`` on the data ``x`` (N, ...) in nats per example and bits per dimension.

    ``levels``: how many evenly spaced values each dimension of ``x`` takes in [0, 1] (the
    Dataset's ``levels``; 2 after binarization); a density is dequantised with it (module
    docstring). ``labels`` (N,) go to class-conditional models. Every random draw (binarization,
    dequantisation, the encoder's noise) comes from generators seeded with ``seed``; the global
    RNG and the model's train/eval mode are left as they were.
    """
    from tqdm.auto import tqdm

    kind = likelihood_kind(model)
    if binarization != "none":
        levels = 2
    xb = binarize(x, binarization, seed)
    n, dims = len(xb), int(xb[0].numel())
    if n == 0:
        raise GenzooError("no examples to evaluate the likelihood on")
    density = kind in ("density", "density-bound")
    dequantize = density and levels is not None
    k_chunk = k_chunk or max(1, 50_000 // batch_size)  # bounds memory at ~50k decoder passes
    device = next(iter(model.parameters())).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
    noise = torch.Generator(device=device).manual_seed(seed)  # the encoder's noise
    cells = torch.Generator().manual_seed(seed + 1)  # the dequantisation offsets
    delta = 1.0 / (levels - 1) if dequantize else 0.0
    total_ll, total_sq, weights = 0.0, 0.0, []
    with eval_mode(model):
        for i in tqdm(range(0, n, batch_size), desc=f"nll ({kind})", disable=not progress, leave=False):
            batch = xb[i : i + batch_size]
            if dequantize:
                batch = batch + (torch.rand(batch.shape, generator=cells) - 0.5) * delta
            y = None if labels is None else labels[i : i + batch_size]
            if kind in ("discrete", "density"):
                ll = model.log_prob(batch.to(device), *_extra(None if y is None else y.to(device))).double().cpu()
            else:
                ll = iwae_log_likelihood(model, batch.to(device), k, k_chunk, None if y is None else y.to(device),
                                         noise, weights)
            total_ll, total_sq = total_ll + float(ll.sum()), total_sq + float(ll.pow(2).sum())
    mean_nll = -total_ll / n
    var = max(total_sq / n - (total_ll / n) ** 2, 0.0) * n / max(n - 1, 1)
    nll = mean_nll + (dequantization_term(dims, levels) if dequantize else 0.0)
    out = {
        "nll": nll,
        "nll_se": math.sqrt(var / n),  # standard error of the mean over the test examples
        "nll_bits_per_dim": bits_per_dim(nll, dims) if (not density or dequantize) else None,
        "nll_method": _method(kind, k, levels if dequantize else None),
        "likelihood": kind,
        "levels": levels,
        "binarization": f"{binarization} (seed {seed})" if binarization == "dynamic" else binarization,
        "n": n,
        "dims": dims,
    }
    if dequantize:
        out["nll_density"] = mean_nll  # E[-log p(x + u)], nats per example of the continuous density
        out["bin_width"] = delta
    if kind in ("bound", "density-bound"):
        out["k"] = k
        if labels is not None or not getattr(model, "conditional", False):
            # Each weight is a one-sample ELBO; their mean estimates it (dequantised like the NLL).
            total_w = sum(s for s, _ in weights) / sum(c for _, c in weights) if weights else math.nan
            out["neg_elbo"] = -total_w + (dequantization_term(dims, levels) if dequantize else 0.0)
    return out


def _method(kind: str, k: int, levels: int | None) -> str:
    if kind == "discrete":
        return "exact"
    if kind == "bound":
        return f"iwae_k{k}"
    how = "density" if kind == "density" else f"iwae_k{k} bound on a density"
    if levels is None:
        return f"{how} (continuous data: nats of a density, not a discrete NLL)"
    return (f"{how}, dequantised: an upper bound on a discrete NLL (uniform cells of width 1/{levels - 1}, "
            f"+ D log {levels - 1})")
