"""VAE and explicit-likelihood family: test NLL on dynamically binarized MNIST, and naive vs cached sampling speed.

    python benchmarks/likelihood_family.py speed                      # images/s at batch 16, 28x28
    python benchmarks/likelihood_family.py nll --models vae,pixelcnn --minutes 3 --n-test 1000 --k 5000

``nll`` trains each model for ``--minutes`` on MNIST (data.binarize=dynamic), then reports the
test NLL in nats on the first ``--n-test`` test images binarized once with seed 0: exact for
autoregressive models and mixtures, the IWAE bound with ``--k`` samples for the VAE family.
Prints a Markdown table. Timings on a shared CPU are noisy: medians of ``--repeats`` runs.
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

AR_MODELS = ("pixelcnn", "gated-pixelcnn", "pixelrnn")
PUBLISHED = {"vae": "86.76 (Burda et al., k=5000)", "pixelcnn": "81.30 (van den Oord et al.)",
             "pixelrnn": "79.20 Diagonal BiLSTM (van den Oord et al.)", "gated-pixelcnn": "-",
             "conv-vae": "-", "cvae": "-", "gmm": "-"}
MODEL_SETTINGS = {"gmm": {"covariance": "bernoulli", "components": 100}}


def speed(repeats: int, batch: int) -> None:
    torch.set_num_threads(1)
    print(f"| model | naive img/s | cached img/s | speed-up |  (batch {batch}, 1x28x28, default config, 1 thread)")
    print("|---|---|---|---|")
    for name in AR_MODELS:
        cls = get_model_class(name)
        torch.manual_seed(0)
        model = cls(cls.Config(), (1, 28, 28)).eval()
        times = {}
        for cached in (False, True):
            ts = []
            for r in range(repeats):
                t0 = time.perf_counter()
                model.sample(batch, torch.Generator().manual_seed(r), cached=cached)
                ts.append(time.perf_counter() - t0)
            times[cached] = statistics.median(ts)
        same = torch.equal(model.sample(batch, torch.Generator().manual_seed(0), cached=False),
                           model.sample(batch, torch.Generator().manual_seed(0), cached=True))
        print(f"| {name} | {batch / times[False]:.2f} | {batch / times[True]:.1f} | "
              f"{times[False] / times[True]:.1f}x | identical samples: {same}")


def nll(models: list[str], minutes: float, n_test: int, k: int) -> None:
    from genzoo.train import Trainer

    test = load_dataset(DataConfig(name="mnist"), "test").x[:n_test]
    print(f"| model | train budget | steps | test NLL (nats) | method | published |")
    print("|---|---|---|---|---|---|")
    for name in models:
        cls = get_model_class(name)
        cfg = RunConfig(name, from_dict(cls.Config, MODEL_SETTINGS.get(name, {})),
                        DataConfig(name="mnist", binarize="dynamic"),
                        TrainConfig(steps=10**7, minutes=minutes, batch_size=64, log_every=200,
                                    sample_every=10**7, checkpoint_every=10**7, tensorboard=False))
        trainer = Trainer(cfg, f"/tmp/genzoo-bench/{name}", progress=False)
        trainer.fit()
        res = evaluate_nll(trainer.model, test, k=k, batch_size=50 if name in AR_MODELS else 20, progress=False)
        print(f"| {name} | {minutes} min CPU | {trainer.step} | {res['nll']:.2f} | {res['nll_method']}, "
              f"{res['n']} test images | {PUBLISHED.get(name, '-')} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "nll"])
    p.add_argument("--models", default="vae,conv-vae,pixelcnn,gated-pixelcnn,pixelrnn,gmm")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    a = p.parse_args()
    if a.what == "speed":
        speed(a.repeats, a.batch)
    else:
        nll(a.models.split(","), a.minutes, a.n_test, a.k)


if __name__ == "__main__":
    main()
