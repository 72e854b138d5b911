"""Every GAN variant on MNIST under one budget, side by side; prints a Markdown table.

For each variant: train (``--steps`` generator iterations each, the default, or ``--minutes`` of
wall clock each), draw ``--n`` samples, and compute FID, KID, precision, recall, density and
coverage with the pinned LeNet features against the MNIST test set (genzoo.metrics), next to the
real-data floor (``--n`` training images scored the same way). Then each model's own number:

- cgan: per-label accuracy of its samples under the pinned LeNet classifier;
- infogan: the categorical code as a digit classifier. The code -> digit mapping is the best
  one-to-one (Hungarian) mapping between codes and the LeNet labels of its samples; reported on
  the samples and, through Q, on the MNIST test images against their true labels;
- ssgan: MNIST test accuracy of D's classifier (100 labels: 10 per class);
- bigan: 1-nearest-neighbour test accuracy on encoder features E(x) (train set as the memory)
  and the mean squared reconstruction error per image, ||x - G(E(x))||^2 / 784.

A sample grid per variant goes to ``--grids`` (docs/models/img by default). Results also go to
``--json``. Usage::

    python benchmarks/gan_family.py --steps 400                 # equal steps (default)
    python benchmarks/gan_family.py --minutes 10 --variants dcgan,cgan

``--ema D`` samples every variant from an exponential moving average of its generator (off by
default, as in the trainer: a decay of 0.999 lags far behind a generator that trains for only a
few thousand iterations). ``--minutes`` counts training time only (evaluations excluded).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

# Variant name -> (model, model config, batch size). One shared body layout: the tutorials' MNIST
# DCGAN network (fc 1024 / 7x7x128 generator, two-conv discriminator) for every conv model. The
# dcgan variants pin the tutorials' recipe (width 64, no packing, no R1), which dcgan's measured
# defaults (width 32, R1, packing 2) replaced, so that each objective is compared on the same game.
TUTORIAL_DCGAN = {"width": 64, "pack": 1, "r1": 0.0}
# The same for the family models whose image defaults became dcgan's remedies (width 16, R1): the
# table in docs/benchmarks.md was measured on their earlier defaults, width 64 without R1.
PLAIN_FAMILY = {"width": 64, "r1": 0.0}
VARIANTS: dict[str, tuple[str, dict, int]] = {
    "gan": ("gan", {}, 64),  # the classic MLP GAN of the core issue, tutorial layout
    "dcgan": ("dcgan", TUTORIAL_DCGAN, 64),  # nonsaturating
    "dcgan-minimax": ("dcgan", {**TUTORIAL_DCGAN, "loss": "minimax"}, 64),
    "dcgan-lsgan": ("dcgan", {**TUTORIAL_DCGAN, "loss": "lsgan"}, 64),
    "dcgan-hinge": ("dcgan", {**TUTORIAL_DCGAN, "loss": "hinge"}, 64),
    "dcgan-wgan": ("dcgan", {**TUTORIAL_DCGAN, "loss": "wgan"}, 64),  # RMSprop 5e-5, 5 critic steps, clip 0.01
    "dcgan-wgan-gp": ("dcgan", {**TUTORIAL_DCGAN, "loss": "wgan-gp"}, 64),  # Adam 1e-4 (0.5, 0.9), 5 critic steps, lambda 10
    "softmax-gan": ("softmax-gan", PLAIN_FAMILY, 64),
    "cgan": ("cgan", {}, 64),  # projection discriminator
    "infogan": ("infogan", PLAIN_FAMILY, 64),
    "bigan": ("bigan", PLAIN_FAMILY, 64),
    # Salimans et al.'s MNIST networks: MLP D 1000-500-250-250-250 with Gaussian noise layers.
    "ssgan": ("ssgan", {"arch": "mlp", "g_hidden": [500, 500], "d_hidden": [1000, 500, 250, 250, 250]}, 100),
}


def train_variant(name: str, args) -> Path:
    from genzoo.config import RunConfig, TrainConfig, from_dict
    from genzoo.data.base import DataConfig
    from genzoo.registry import get_model_class
    from genzoo.train import Trainer

    model, cfg, batch = VARIANTS[name]
    run = Path(args.out) / name
    if args.reuse and (run / "model" / "config.json").exists():
        return run
    curve = dict(eval_every=args.eval_every, eval_metrics="fid", eval_n=args.n) if args.eval_every else {}
    train = TrainConfig(steps=args.steps if args.minutes is None else 10**9, minutes=args.minutes, batch_size=batch,
                        seed=args.seed, log_every=100, sample_every=10**9, checkpoint_every=500, tensorboard=False,
                        ema=args.ema, **curve)
    config = RunConfig(model, from_dict(get_model_class(model).Config, cfg), DataConfig(name="mnist"), train)
    trainer = Trainer(config, run, progress=not args.quiet)
    if trainer.resume() and args.minutes is None and trainer.step >= args.steps:
        return run
    trainer.fit()
    return run


def hungarian_accuracy(codes: torch.Tensor, labels: torch.Tensor, k: int) -> tuple[float, list[int]]:
    """Accuracy of ``codes`` as ``labels`` under the best one-to-one mapping; returns (accuracy, mapping)."""
    from scipy.optimize import linear_sum_assignment

    counts = torch.zeros(k, k)
    counts.index_put_((codes.long(), labels.long()), torch.ones(len(codes)), accumulate=True)
    rows, cols = linear_sum_assignment(-counts.numpy())
    mapping = [0] * k
    for r, c in zip(rows, cols):
        mapping[int(r)] = int(c)
    return float(counts[rows, cols].sum() / len(codes)), mapping


@torch.no_grad()
def model_extras(name: str, model, fake: torch.Tensor, latent: torch.Tensor | None, lenet) -> dict:
    """Each model's own measurement (see the module docstring)."""
    from genzoo.data import DataConfig, load_dataset

    kind = model.registry_name
    test = load_dataset(DataConfig(name="mnist"), "test")
    if kind == "infogan":
        code = model.split(latent)[1]
        pred = lenet.extract(fake)[1].argmax(1)
        acc, mapping = hungarian_accuracy(code, pred, model.config.categorical)
        logits, _ = zip(*(model.infer_codes(test.x[i : i + 1000]) for i in range(0, len(test.x), 1000)))
        test_pred = torch.tensor(mapping)[torch.cat(logits).argmax(1)]
        return {"code_accuracy_samples": acc, "code_accuracy_test": float((test_pred == test.y).float().mean()),
                "code_to_digit": mapping}
    if kind == "ssgan":
        return {"test_accuracy": float((model.classify(test.x) == test.y).float().mean())}
    if kind == "bigan":
        train = load_dataset(DataConfig(name="mnist"), "train")
        enc = lambda x: torch.cat([model.encode(x[i : i + 1000]) for i in range(0, len(x), 1000)])  # noqa: E731
        f_train, f_test = enc(train.x), enc(test.x)
        nearest = torch.cat([torch.cdist(f_test[i : i + 500], f_train).argmin(1) for i in range(0, len(f_test), 500)])
        recon = torch.cat([model.reconstruct(test.x[i : i + 1000]) for i in range(0, len(test.x), 1000)])
        return {"knn1_test_accuracy": float((train.y[nearest] == test.y).float().mean()),
                "reconstruction_mse": float((recon - test.x).pow(2).mean()),
                "reconstruction_sq_error_per_image": float((recon - test.x).pow(2).flatten(1).sum(1).mean())}
    return {}


def evaluate_variant(name: str, run: Path, args, lenet) -> dict:
    import genzoo
    from genzoo.metrics.evaluate import evaluate_samples, sample_model
    from genzoo.viz.grid import save_grid

    model = genzoo.load(run / "model").eval()
    g = torch.Generator().manual_seed(args.seed)
    labels = torch.arange(args.n) % model.num_classes if model.registry_name == "cgan" else None
    latent = None
    if model.registry_name == "infogan":
        latent = model.latent(args.n, g)
        fake = torch.cat([model.sample(500, z=latent[i : i + 500]) for i in range(0, args.n, 500)])
    else:
        fake = sample_model(model, args.n, args.seed, labels=labels, progress=False)
    metrics = ["fid", "kid", "prdc"] + (["label_accuracy"] if labels is not None else [])
    result = evaluate_samples(fake, "mnist", metrics, args.seed, labels=labels, progress=False)
    out = dict(result["metrics"])
    out.update(model_extras(name, model, fake, latent, lenet))
    log = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]
    out["steps"] = log[-1]["step"] if log else 0
    out["train_seconds"] = log[-1].get("train_time", log[-1].get("time")) if log else None  # evaluations left out
    if args.grids:
        grid_labels = torch.arange(64) // 8 % model.num_classes if labels is not None else None
        x = model.sample(64, torch.Generator().manual_seed(args.seed), labels=grid_labels)
        save_grid(x, Path(args.grids) / f"gan-family-{name}.png", nrow=8)
    return out


COLUMNS = ["fid", "kid", "precision", "recall", "density", "coverage"]


def table(rows: dict[str, dict], floor: dict) -> str:
    head = "| variant | steps | train s | " + " | ".join(COLUMNS) + " | own measurement |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 4)]

    def fmt(v):
        return "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    for name, r in rows.items():
        own = {k: v for k, v in r.items() if k not in COLUMNS + ["kid_std", "steps", "train_seconds",
                                                                  "label_accuracy_per_label", "code_to_digit"]}
        lines.append(f"| {name} | {r['steps']} | {fmt(r['train_seconds'])} | " + " | ".join(fmt(r.get(c)) for c in COLUMNS)
                     + " | " + ", ".join(f"{k} {fmt(v)}" for k, v in own.items()) + " |")
    lines.append("| real data (floor) | | | " + " | ".join(fmt(floor.get(c)) for c in COLUMNS) + " | |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="generator iterations per variant (equal steps)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget per variant instead of steps")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights sampled from (0: off, the default)")
    p.add_argument("--eval-every", type=int, default=0, help="also log FID on --n samples every N steps (a curve)")
    p.add_argument("--n", type=int, default=10_000, help="samples per variant for the metrics")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of: " + ", ".join(VARIANTS))
    p.add_argument("--out", default="runs/gan-family", help="parent folder of the runs")
    p.add_argument("--grids", default="docs/models/img", help="folder for the sample grids ('' for none)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    p.add_argument("--reuse", action="store_true", help="evaluate finished runs in --out instead of retraining")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--montage", action="store_true",
                   help="only tile the existing grids of --variants into GRIDS/gan-family.png and exit")
    args = p.parse_args()
    if args.montage:
        from genzoo.viz.grid import save_montage

        names = [v.strip() for v in args.variants.split(",") if v.strip()]
        panels = [(n, Path(args.grids) / f"gan-family-{n}.png") for n in names]
        print(save_montage([(n, f) for n, f in panels if f.exists()], Path(args.grids) / "gan-family.png"))
        return
    torch.set_num_threads(args.threads)

    from genzoo.metrics.evaluate import evaluate_real
    from genzoo.metrics.features import feature_extractor

    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    lenet = feature_extractor("lenet")
    floor = evaluate_real("mnist", args.n, ["fid", "kid", "prdc"], args.seed, progress=False)["metrics"]
    rows: dict[str, dict] = {}
    for name in names:
        t0 = time.time()
        run = train_variant(name, args)
        rows[name] = evaluate_variant(name, run, args, lenet)
        print(f"{name}: {json.dumps(rows[name])} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "floor": floor, "rows": rows}, indent=2))
    print(table(rows, floor))


if __name__ == "__main__":
    main()
