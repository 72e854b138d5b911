"""Do a model's samples read as digits? The pinned LeNet's verdict on samples and on real digits.

For each model (a zoo name, a run folder or a model folder) it draws ``--n`` samples (seed
``--seed``) and reports, from the pinned LeNet's class probabilities:

- *confident*: the fraction of samples whose most likely digit has probability >= 0.9 (a sample
  the classifier reads as one digit, not a scribble between several);
- *classifier score*: exp(E KL(p(y|x) || p(y))), 1 (no digit information) to 10 (confident and
  balanced), the LeNet form of the Inception score;
- the digit mix: the smallest and largest fraction of samples labelled as one digit.

The same figures for ``--n`` real MNIST test digits, grey and binarized (one Bernoulli draw of
each pixel, seed ``--seed``) are the reference rows: the autoregressive models and NADE/MADE
model binarized digits, so theirs is the row to compare with.

    python benchmarks/recognisable.py zoo:pixelcnn-mnist zoo:gated-pixelcnn-mnist zoo:pixelrnn-mnist \\
        zoo:nade-mnist zoo:made-mnist --n 1000
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import torch

CONFIDENT = 0.9


def verdict(logits: torch.Tensor) -> dict:
    """Confident fraction, classifier score and digit mix from LeNet logits (n, 10)."""
    p = logits.double().softmax(1)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1).mean()
    fractions = torch.bincount(p.argmax(1), minlength=10).double() / len(p)
    return {"confident": float((p.max(1).values >= CONFIDENT).double().mean()), "score": math.exp(float(kl)),
            "min": float(fractions.min()), "max": float(fractions.max())}


def real_logits(extractor, n: int, seed: int, binarize: bool) -> torch.Tensor:
    from genzoo.data import load_dataset
    from genzoo.data.base import DataConfig

    x = load_dataset(DataConfig(name="mnist"), "test").x[:n].float()
    x = x / 255 if x.max() > 1 else x
    if binarize:
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(seed))
    return torch.cat([extractor.extract(x[i:i + 500])[1] for i in range(0, len(x), 500)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="zoo:NAME, run folders or model folders")
    p.add_argument("--n", type=int, default=1000, help="samples (and real digits) per row (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if not 10 <= args.n <= 10_000:
        sys.exit(f"--n must be between 10 and 10000, not {args.n}")
    torch.set_num_threads(args.threads)
    import genzoo
    from genzoo.errors import GenzooError
    from genzoo.metrics.evaluate import sample_features
    from genzoo.metrics.features import feature_extractor

    extractor = feature_extractor("lenet")
    print(f"| samples of | confident (p >= {CONFIDENT}) | classifier score | digit % min-max | seconds |")
    print("|---|---|---|---|---|")

    def row(name: str, logits: torch.Tensor, seconds: float) -> None:
        v = verdict(logits)
        print(f"| {name} | {100 * v['confident']:.1f} % | {v['score']:.2f} | {100 * v['min']:.1f}-{100 * v['max']:.1f} "
              f"| {seconds:.0f} |", flush=True)

    for binarize in (False, True):
        t0 = time.perf_counter()
        row(f"real test digits{', binarized' if binarize else ''}", real_logits(extractor, args.n, args.seed, binarize),
            time.perf_counter() - t0)
    for name in args.models:
        try:
            model = genzoo.load(name)
        except GenzooError as e:
            sys.exit(f"{name}: {e}")
        t0 = time.perf_counter()
        _, logits = sample_features(model, args.n, extractor, args.seed, progress=False)
        row(f"`{name}`", logits, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
