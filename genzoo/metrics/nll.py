"""Likelihood metrics: exact NLL, the ELBO and the importance-weighted bound (Burda et al. 2016).

Models are duck-typed:
- ``model.log_prob(x) -> (B,)``: an exact log-likelihood in nats (autoregressive models, GMM);
- ``model.log_importance_weights(x, k) -> (B, k)``: log p(x, z_i) - log q(z_i | x) for
  z_i ~ q(z | x) (VAE family). log p(x) >= IWAE_k = log mean_i exp(w_i), tightening as k grows;
  k = 5000 is the number used for reported NLL. ``model.elbo(x) -> (B,)`` is used when present.
All values are in nats per example; ``bits_per_dim`` converts. The standard benchmark is the
dynamically binarized MNIST test set: pixels drawn as Bernoulli(x) once, with a fixed seed.
"""
from __future__ import annotations

import math

import torch

from ..errors import GenzooError


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
    """``exact`` if the model has ``log_prob``, ``iwae`` if it has ``log_importance_weights``."""
    if hasattr(model, "log_prob"):
        return "exact"
    if hasattr(model, "log_importance_weights"):
        return "iwae"
    raise GenzooError(f"{type(model).__name__} has neither log_prob nor log_importance_weights: no NLL")


def _extra(labels: torch.Tensor | None) -> tuple:
    # Class-conditional models take the labels as the next positional argument.
    return () if labels is None else (labels,)


@torch.no_grad()
def iwae_log_likelihood(model, x: torch.Tensor, k: int, k_chunk: int = 500,
                        labels: torch.Tensor | None = None) -> torch.Tensor:
    """IWAE_k estimate of log p(x), (B,), drawing the k samples ``k_chunk`` at a time.

    Chunks are combined with a running logsumexp, so k = 5000 needs only k_chunk samples in memory.
    """
    lse = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    done = 0
    while done < k:
        kc = min(k_chunk, k - done)
        w = model.log_importance_weights(x, kc, *_extra(labels)).double()  # (B, kc)
        lse = torch.logaddexp(lse, torch.logsumexp(w, dim=1))
        done += kc
    return lse - math.log(k)


@torch.no_grad()
def elbo(model, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The ELBO per example, (B,): ``model.elbo`` when present, else one importance weight."""
    if hasattr(model, "elbo"):
        return model.elbo(x, *_extra(labels)).double()
    return model.log_importance_weights(x, 1, *_extra(labels))[:, 0].double()


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
) -> dict:
    """NLL of ``model`` on the images ``x`` (N, C, H, W) in [0, 1], in nats and bits/dim.

    Exact when the model has ``log_prob``; otherwise the IWAE bound with ``k`` samples (an upper
    bound on the NLL) and the negative ELBO. The binarization applied to ``x`` is recorded.
    ``labels`` (N,) are passed on to class-conditional models.
    """
    from tqdm.auto import tqdm

    kind = likelihood_kind(model)
    if hasattr(model, "eval"):
        model.eval()
    xb = binarize(x, binarization, seed)
    dims = int(x[0].numel())
    k_chunk = k_chunk or max(1, 50_000 // batch_size)  # bounds memory at ~50k decoder passes
    torch.manual_seed(seed)  # the encoder's noise: a fixed seed makes the estimate reproducible
    total_ll, total_sq, total_elbo = 0.0, 0.0, 0.0
    for i in tqdm(range(0, len(xb), batch_size), desc=f"nll ({kind})", disable=not progress, leave=False):
        batch = xb[i : i + batch_size]
        y = None if labels is None else labels[i : i + batch_size]
        if kind == "exact":
            ll = model.log_prob(batch, *_extra(y)).double()
        else:
            ll = iwae_log_likelihood(model, batch, k, k_chunk, y).double()
            total_elbo += float(elbo(model, batch, y).sum())
        total_ll, total_sq = total_ll + float(ll.sum()), total_sq + float(ll.pow(2).sum())
    n = len(xb)
    nll = -total_ll / n
    var = max(total_sq / n - (total_ll / n) ** 2, 0.0) * n / max(n - 1, 1)
    out = {
        "nll": nll,
        "nll_se": math.sqrt(var / n),  # standard error of the mean over the test images
        "nll_bits_per_dim": bits_per_dim(nll, dims),
        "nll_method": "exact" if kind == "exact" else f"iwae_k{k}",
        "binarization": f"{binarization} (seed {seed})" if binarization == "dynamic" else binarization,
        "n": n,
        "dims": dims,
    }
    if kind == "iwae":
        out["neg_elbo"] = -total_elbo / n
        out["k"] = k
    return out
