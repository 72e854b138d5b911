"""Does the MADE code's Adagrad epsilon matter? PyTorch's rule against the authors', side by side.

PyTorch's Adagrad divides by sqrt(sum g^2) + 1e-10; the MADE authors' code (``MADE/update_rules.py``)
by sqrt(sum g^2 + 1e-6). This trains one MADE mask (``--hidden`` units) on the first 50,000
statically binarized MNIST training images with each rule, the same seed and batches (batch 100,
learning rate 0.01), and prints the validation NLL (nats, the last 10,000 images) after each epoch.

    python benchmarks/made_adagrad_eps.py --hidden 500 --epochs 8
"""
from __future__ import annotations

import argparse

import torch

from genzoo.data import load_dataset
from genzoo.data.base import DataConfig
from genzoo.registry import get_model_class


def curve(train: torch.Tensor, valid: torch.Tensor, hidden: int, epochs: int, inside: bool) -> list[float]:
    torch.manual_seed(0)
    made = get_model_class("made")
    model = made(made.Config(hidden=(hidden,), masks=1), (1, 28, 28))
    params = list(model.parameters())
    sums = [torch.zeros_like(p) for p in params]
    order = torch.Generator().manual_seed(0)
    out = []
    for _ in range(epochs):
        perm = torch.randperm(len(train), generator=order)
        for i in range(0, len(train), 100):
            loss = -model.log_prob_mask(train[perm[i : i + 100]], 0).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, s in zip(params, sums):
                    s.add_(p.grad * p.grad)
                    p.sub_(0.01 * p.grad / ((s + 1e-6).sqrt() if inside else s.sqrt().add_(1e-10)))
        with torch.no_grad():
            out.append(-sum(float(model.log_prob_mask(valid[i : i + 1000], 0).sum())
                            for i in range(0, len(valid), 1000)) / len(valid))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--epochs", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(1)
    x = load_dataset(DataConfig(name="mnist", binarize="static"), "train").x
    for inside, name in ((False, "PyTorch: sqrt(sum g^2) + 1e-10"), (True, "MADE code: sqrt(sum g^2 + 1e-6)")):
        print(f"{name}: " + ", ".join(f"{v:.3f}" for v in curve(x[:50_000], x[50_000:], a.hidden, a.epochs, inside)),
              flush=True)


if __name__ == "__main__":
    main()
