"""VAE and explicit-likelihood family: test NLL on dynamically binarized MNIST, and naive vs cached sampling speed.

    python benchmarks/likelihood_family.py speed                      # images/s at batch 16, 28x28
    python benchmarks/likelihood_family.py nll --models vae,pixelcnn --minutes 5 --n-test 1000 --k 5000

``nll`` trains each model for ``--minutes`` of training time on MNIST (data.binarize=dynamic) into
``--out``/NAME, then reports the test NLL in nats (± its standard error over the images) on the
first ``--n-test`` test images binarized once with seed 0: exact for autoregressive models and
mixtures, the IWAE bound with ``--k`` samples for the VAE family; and the sample quality (LeNet
FID, KID, precision, recall, density, coverage) of ``--fid-n`` samples against the MNIST test set,
next to two floors: real training images, grey and binarized. Prints a Markdown table.
``speed`` timings on a shared CPU are noisy: medians of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from genzoo.config import RunConfig, TrainConfig, from_dict
from genzoo.data import load_dataset
from genzoo.data.base import DataConfig
from genzoo.metrics.nll import evaluate_nll
from genzoo.registry import get_model_class

AR_MODELS = ("pixelcnn", "gated-pixelcnn", "pixelrnn", "pixelrnn-diagonal")
DEFAULT_MODELS = "vae,conv-vae,cvae,aae,pixelcnn,gated-pixelcnn,pixelrnn,pixelrnn-diagonal,gmm"
PUBLISHED = {"vae": "86.76 (Burda et al., k=5000)", "pixelcnn": "81.30 (van den Oord et al.)",
             "pixelrnn": "Row LSTM: - (the paper's MNIST figure is the Diagonal BiLSTM's)",
             "pixelrnn-diagonal": "79.20 (van den Oord et al., 7 layers)", "gated-pixelcnn": "-",
             "conv-vae": "-", "cvae": "-", "gmm": "-"}
# A benchmark name -> (registered model, its config). Names not listed are the model's defaults.
VARIANTS = {"gmm": ("gmm", {"covariance": "bernoulli", "components": 100}),
            "pixelrnn-diagonal": ("pixelrnn", {"layer": "diagonal"})}


def variant(name: str) -> tuple[str, dict]:
    return VARIANTS.get(name, (name, {}))
NLL_N = {"conv-vae": 30}  # k=5000 passes of its conv decoder take ~10 s per image on this CPU
NO_LIKELIHOOD = {"aae": "none: the adversarial autoencoder has no likelihood or ELBO"}


def _median_seconds(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


@torch.no_grad()
def speed(repeats: int, batch: int, models: list[str], full_naive: set[str]) -> None:
    """Images/s of naive and cached sampling at ``batch``, 1x28x28, default configs, one thread.

    Naive sampling runs the whole network once per pixel on the whole (partly drawn) image, so
    its time is 784 full forward passes at a cost that does not depend on the pixel: for models
    not in ``full_naive`` it is measured as 784 x the median time of one forward pass (the full
    run would take many minutes per batch); for those in it, by sampling a whole batch, which
    also checks that estimate.
    """
    torch.set_num_threads(1)
    print(f"| model | naive img/s (how) | cached img/s | speed-up | identical samples |  (batch {batch}, 1x28x28)")
    print("|---|---|---|---|---|")
    for name in models:
        model_name, settings = variant(name)
        cls = get_model_class(model_name)
        torch.manual_seed(0)
        model = cls(from_dict(cls.Config, settings), (1, 28, 28)).eval()
        pixels = model.C * model.H * model.W
        x = (torch.rand(batch, 1, 28, 28) < 0.5).float() * 2 - 1
        forward = _median_seconds(lambda: model.net(x, None), max(repeats, 5))
        naive = {"per-forward x 784": pixels * forward}
        if name in full_naive:
            naive["full batch"] = _median_seconds(lambda: model.sample(batch, torch.Generator().manual_seed(0),
                                                                       cached=False), repeats)
        cached = _median_seconds(lambda: model.sample(batch, torch.Generator().manual_seed(0), cached=True), repeats)
        g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
        few = min(batch, 2)  # the identity check on a small batch (naive sampling is slow)
        same = torch.equal(model.sample(few, g(), cached=False), model.sample(few, g(), cached=True))
        best = naive.get("full batch", naive["per-forward x 784"])
        print(f"| {name} | " + ", ".join(f"{batch / t:.3g} ({k})" for k, t in naive.items())
              + f" | {batch / cached:.3g} | {best / cached:.0f}x | {same} |", flush=True)


def train_or_reuse(name: str, minutes: float, out: str, reuse: bool):
    """Train ``name`` for ``minutes`` on dynamically binarized MNIST into OUT/NAME (or load it)."""
    from pathlib import Path

    import genzoo
    from genzoo.train import Trainer

    run = Path(out) / name
    if reuse and (run / "model" / "config.json").exists():
        return genzoo.load(run / "model"), None
    model_name, settings = variant(name)
    cls = get_model_class(model_name)
    cfg = RunConfig(model_name, from_dict(cls.Config, settings),
                    DataConfig(name="mnist", binarize="dynamic"),
                    TrainConfig(steps=10**7, minutes=minutes, batch_size=64, log_every=200,
                                sample_every=10**7, checkpoint_every=500, tensorboard=False))
    trainer = Trainer(cfg, run, progress=False)
    trainer.fit()
    return trainer.model, trainer.step


def nll(models: list[str], minutes: float, n_test: int, k: int, fid_n: int, out: str, reuse: bool) -> None:
    """Train each model, then its test NLL and (``fid_n`` > 0) its sample quality; one table row each."""
    from genzoo.metrics.evaluate import evaluate_samples, sample_model

    test = load_dataset(DataConfig(name="mnist"), "test")
    cols = ["fid", "kid", "precision", "recall", "density", "coverage"]
    print("| model | train budget | steps | test NLL (nats) ± s.e. | method | " + " | ".join(cols) + " | published NLL |")
    print("|---|---|---|---|---|" + "---|" * len(cols) + "---|")
    if fid_n:
        from genzoo.metrics.nll import binarize

        train = load_dataset(DataConfig(name="mnist"), "train").x
        real = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:fid_n]]
        for label, x in (("real MNIST (floor)", real), ("real MNIST binarized (floor)", binarize(real, "dynamic", 0))):
            m = evaluate_samples(x, "mnist", ["fid", "kid", "prdc"], 0, progress=False)["metrics"]
            print(f"| {label} | | | | | " + " | ".join(f"{m[c]:.4g}" for c in cols) + " |", flush=True)
    for name in models:
        t0 = time.time()
        model, steps = train_or_reuse(name, minutes, out, reuse)
        n = NLL_N.get(name, n_test)
        labels = test.y[:n] if model.conditional else None
        if name in NO_LIKELIHOOD:
            nll_cell, method = "-", NO_LIKELIHOOD[name]
        else:
            res = evaluate_nll(model, test.x[:n], k=k, batch_size=50 if name in AR_MODELS else 5, progress=False,
                               labels=labels)
            nll_cell = f"{res['nll']:.2f} ± {res['nll_se']:.2f}"
            method = f"{res['nll_method']}, {res['n']} test images" + (", given the label" if labels is not None else "")
        q = ""
        if fid_n:
            lab = torch.arange(fid_n) % model.num_classes if model.conditional else None
            fake = sample_model(model, fid_n, 0, batch_size=250, labels=lab, progress=False)
            m = evaluate_samples(fake, "mnist", ["fid", "kid", "prdc"], 0, progress=False)["metrics"]
            q = " | ".join(f"{m[c]:.4g}" for c in cols)
        print(f"| {name} | {minutes} min | {steps if steps is not None else 'reused'} | {nll_cell} | {method} | {q} | "
              f"{PUBLISHED.get(name, '-')} |  ({time.time() - t0:.0f} s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "nll"])
    p.add_argument("--models", default=DEFAULT_MODELS)
    p.add_argument("--full-naive", default="pixelcnn", help="speed: models whose naive sampling is timed in full")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--fid-n", type=int, default=2000, help="samples for FID/KID/PRDC (0: skip)")
    p.add_argument("--out", default="runs/likelihood", help="parent folder of the runs")
    p.add_argument("--reuse", action="store_true", help="evaluate finished runs in --out instead of retraining")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.what == "speed":
        models = [m for m in a.models.split(",") if m in AR_MODELS]  # the autoregressive ones, in the order given
        speed(a.repeats, a.batch, models, set(a.full_naive.split(",")) if a.full_naive else set())
    else:
        nll(a.models.split(","), a.minutes, a.n_test, a.k, a.fid_n, a.out, a.reuse)


if __name__ == "__main__":
    main()
