"""VAE and explicit-likelihood family: test NLL on dynamically binarized MNIST, and naive vs cached sampling speed.

    python benchmarks/likelihood_family.py speed                      # images/s at batch 16, 28x28
    python benchmarks/likelihood_family.py nll --models vae,pixelcnn --minutes 5 --n-test 1000 --k 5000
    python benchmarks/likelihood_family.py seeds --seeds 0,1,2,3,4    # the learning tests' figures per seed
    python benchmarks/likelihood_family.py repro --variant nade --seed 0 --out /work/runs/repro --hours 2
    python benchmarks/likelihood_family.py repro-table --variant nade --out /work/runs/repro --png curve.png
    python benchmarks/likelihood_family.py repro-best --variant nade --seed 0 --out /work/runs/repro --to /work/runs/zoo

``nll`` trains each model for ``--minutes`` of training time on MNIST (data.binarize=dynamic) into
``--out``/NAME, then reports the test NLL in nats (± its standard error over the images) on the
first ``--n-test`` test images binarized once with seed 0: exact for autoregressive models and
mixtures, the IWAE bound with ``--k`` samples for the VAE family; and the sample quality (LeNet
FID, KID, precision, recall, density, coverage) of ``--fid-n`` samples against the MNIST test set,
next to two floors: real training images, grey and binarized. Prints a Markdown table.
``speed`` timings on a shared CPU are noisy: medians of ``--repeats`` runs.
``repro`` trains a NADE or MADE row of the binarized-MNIST tables with the papers' protocol: the
first 50,000 training images binarized once (``data.binarize=static``), the last 10,000 of the
same draw for validation, early stopping on the validation NLL (stop after ``--look-ahead`` epochs
without improvement; the best model goes to RUN/model), then the exact test NLL. It is resumable:
each call trains epochs (``genzoo train --resume``) until ``--hours`` would be exceeded, keeping its
state in OUT/VARIANT-sSEED/repro.json; call it again to continue, or with ``--stop`` to end a run
whose budget ran out before early stopping (its best epoch so far is tested, and the row says so).
``repro-table`` reads every seed's repro.json of a variant: one row per seed, the mean ± standard
deviation (n - 1) over the seeds that finished, and, with ``--png``, the validation NLL against
epochs of every seed beside the published figure. ``repro-best`` writes a finished run as it stood at
its best epoch (the weights early stopping kept, the log and ``train.steps`` cut there) under ``--to``,
for ``scripts/build_zoo_entry.py --run``.
``seeds`` runs the recipe of every learning test of the family (the functions the tests call, from
tests/) for each seed and prints the figures next to the bound each test asserts for seed 0.
"""
from __future__ import annotations

import argparse
import math
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
            "pixelrnn-diagonal": ("pixelrnn", {"layer": "diagonal"}),
            # The binarized-MNIST rows of the NADE and MADE papers (docs/reproductions.md).
            "nade": ("nade", {"hidden": 500}),
            "made-1hl-1mask": ("made", {"hidden": [8000], "masks": 1}),
            "made-1hl-32masks": ("made", {"hidden": [8000], "masks": 32}),
            "made-2hl-32masks": ("made", {"hidden": [8000, 8000], "masks": 32}),
            # The paper's figure 2 setting: one layer of 500 units, 1 or 32 masks.
            "made-500-1mask": ("made", {"hidden": [500], "masks": 1}),
            "made-500-32masks": ("made", {"hidden": [500], "masks": 32})}


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


def learning_figures() -> dict:
    """name -> (figure(tmp_dir, seed), what the test asserts): the learning tests' own recipes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import test_learning as tl
    import test_likelihood_family as tlf
    import test_nade_made as tnm

    return {
        "gmm, 8gaussians: NLL": (tlf.gmm_eight_gaussians_nll, f"< {tlf.GMM_BOUND}"),
        "vae, grey digits: -ELBO": (tlf.vae_digits_neg_elbo, f"< {tlf.VAE_DIGITS_BOUND}"),
        "pixelcnn, binarized digits: NLL": (tlf.pixelcnn_digits_nll, f"< {tlf.PIXELCNN_DIGITS_BOUND}"),
        "vae, binarized digits: -ELBO before, after": (
            tl.vae_binarized_digits_neg_elbo, f"> {tl.VAE_BEFORE_BOUND}, < {tl.VAE_AFTER_BOUND}"),
        **{f"{name}, binarized digits: NLL": (lambda d, s, name=name: tnm.digits_nll(name, d, s),
                                              f"< {tnm.LEARNING[name][2]}") for name in sorted(tnm.LEARNING)},
    }


def seeds(seed_list: list[int], only: str) -> None:
    """The learning tests' figures for each seed: one Markdown row per test."""
    import tempfile

    figures = learning_figures()
    print("| learning test | " + " | ".join(f"seed {s}" for s in seed_list) + " | test asserts (seed 0) |")
    print("|---|" + "---|" * len(seed_list) + "---|")
    for name, (figure, bound) in figures.items():
        if only and not any(word in name for word in only.split(",")):
            continue
        t0, cells = time.time(), []
        for s in seed_list:
            with tempfile.TemporaryDirectory() as d:
                value = figure(d, s)
            cells.append(", ".join(f"{v:.3f}" for v in value) if isinstance(value, tuple) else f"{value:.3f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {bound} |  ({time.time() - t0:.0f} s)", flush=True)


def _valid_nll(model, x: torch.Tensor, batch: int = 500) -> float:
    """Mean exact NLL (nats) of ``model`` on the binary images ``x``."""
    model.eval()
    with torch.no_grad():
        return -sum(float(model.log_prob(x[i : i + batch]).double().sum()) for i in range(0, len(x), batch)) / len(x)


def repro(name: str, seed: int, out: str, hours: float, look_ahead: int, max_epochs: int, batch: int,
          valid_n: int, valid_every: int, test_draws: int, sets: list[str], stop: bool = False) -> None:
    """Train VARIANT with early stopping on the validation NLL, resumably; the test NLL once it stops.

    ``stop`` ends a run that has not early-stopped where it is (a budget ran out): its best weights
    so far get the test NLL, and the state records that the stop was the budget's.
    """
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import genzoo
    from genzoo.metrics.nll import binarize

    folder = Path(out) / f"{name}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "repro.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {
        "variant": name, "seed": seed, "run": None, "epochs": 0, "history": [], "best_epoch": 0,
        "best_valid": None, "done": False}
    if stop and not state["done"]:
        if not state["epochs"]:
            raise SystemExit(f"{folder}: nothing trained yet, nothing to stop")
        state["done"], state["stopped"] = True, "budget"
    model_name, settings = variant(name)
    train_x = load_dataset(DataConfig(name="mnist", binarize="static"), "train").x
    valid = train_x[50_000 : 50_000 + valid_n]  # the same draw as the training images, held out
    per_epoch = -(-50_000 // batch)
    t0 = time.time()
    chunk = None
    genzoo_cli = [sys.executable, "-m", "genzoo"]
    while not state["done"]:
        if chunk is not None and time.time() - t0 + chunk > hours * 3600:
            print(f"{folder}: budget reached after epoch {state['epochs']}; run the same command to continue", flush=True)
            return
        t1 = time.time()
        steps = (state["epochs"] + valid_every) * per_epoch
        if state["run"] is None:
            cmd = genzoo_cli + ["train", model_name, "--data", "mnist", "--steps", str(steps), "--out", str(folder),
                                "--set", "data.binarize=static", "--set", "data.limit=50000",
                                "--set", f"train.batch_size={batch}", "--set", f"train.seed={seed}",
                                "--set", f"train.checkpoint_every={per_epoch}", "--set", "train.log_every=100",
                                "--set", "train.sample_every=100000000", "--set", "train.tensorboard=false",
                                "--set", "train.grid_size=16"]
            cmd += [a for k, v in settings.items() for a in ("--set", f"model.{k}={json.dumps(v)}")]
            cmd += [a for kv in sets for a in ("--set", kv)]
        else:
            cmd = genzoo_cli + ["train", "--resume", state["run"], "--steps", str(steps)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        state["run"] = state["run"] or done.stdout.strip().splitlines()[-1]
        run = Path(state["run"])
        state["epochs"] += valid_every
        t2 = time.time()
        model = genzoo.load(run / "model")
        v = _valid_nll(model, valid)
        state["history"].append([state["epochs"], round(v, 4), round(t2 - t1, 1), round(time.time() - t2, 1)])
        if state["best_valid"] is None or v < state["best_valid"]:
            state["best_valid"], state["best_epoch"] = v, state["epochs"]
            shutil.copytree(run / "model", folder / "best", dirs_exist_ok=True)
        stale = state["epochs"] - state["best_epoch"]
        state["done"] = stale >= look_ahead or state["epochs"] >= max_epochs
        if state["done"] and stale < look_ahead:
            state["stopped"] = "max-epochs"
        state_file.write_text(json.dumps(state, indent=1))
        print(f"epoch {state['epochs']}: valid NLL {v:.3f} (best {state['best_valid']:.3f} at {state['best_epoch']}), "
              f"{t2 - t1:.0f} s training, {time.time() - t2:.0f} s validation", flush=True)
        chunk = time.time() - t1
    run = Path(state["run"])
    if "test" not in state:
        # Early stopping: the run's model becomes the best one, so `genzoo evaluate RUN` reports it.
        shutil.copytree(folder / "best", run / "model", dirs_exist_ok=True)
        model = genzoo.load(run / "model")
        test = load_dataset(DataConfig(name="mnist"), "test").x
        state["test"] = {str(d): evaluate_nll(model, test, binarization="dynamic", seed=d, batch_size=500,
                                              progress=False)["nll"] for d in range(test_draws)}
        state_file.write_text(json.dumps(state, indent=1))
    t = state["test"]
    print(f"| {name} | {seed} | {state['best_epoch']} of {state['epochs']} | {state['best_valid']:.2f} | "
          f"{t['0']:.2f} | " + ", ".join(f"{t[k]:.2f}" for k in sorted(t)) + " |", flush=True)


def repro_best(name: str, seed: int, out: str, to: str) -> None:
    """A run folder of a finished repro run as it stood at its best epoch, for a zoo entry.

    Early stopping keeps the weights of the best epoch while the run trains on for ``--look-ahead``
    epochs; this writes TO/RUN with those weights as ``model/``, the log cut at the best epoch's
    iteration and ``train.steps`` set to it, so ``scripts/build_zoo_entry.py --run TO/RUN`` records
    the iterations that trained the weights (the same ``genzoo train`` for that many steps repeats
    them: resuming is bit-for-bit). Checkpoints and grids are not copied.
    """
    import json
    import shutil
    from pathlib import Path

    import yaml

    state_file = Path(out) / f"{name}-s{seed}" / "repro.json"
    if not state_file.is_file():
        raise SystemExit(f"{state_file}: no such file (run `repro --variant {name} --seed {seed}` first)")
    state = json.loads(state_file.read_text())
    if not state["done"] or "test" not in state:
        raise SystemExit(f"{state_file}: the run has not ended (finish it, or end it with `repro --stop`)")
    run = Path(state["run"])
    config = yaml.safe_load((run / "config.yaml").read_text())
    steps = state["best_epoch"] * -(-50_000 // config["train"]["batch_size"])
    dest = Path(to) / run.name
    if dest.exists():
        raise SystemExit(f"{dest}: already exists")
    dest.mkdir(parents=True)
    shutil.copytree(state_file.parent / "best", dest / "model")
    rows = [line for line in (run / "log.jsonl").read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= steps]
    (dest / "log.jsonl").write_text("\n".join(rows) + "\n")
    config["train"]["steps"] = steps
    config["resumed"] = [r for r in config.get("resumed") or [] if r["step"] < steps]
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (dest / "repro.json").write_text(state_file.read_text())
    print(dest)


# The published test NLL (nats) of each repro variant as docs/reproductions.md quotes it (None: no figure quoted).
REPRO_PUBLISHED = {"nade": 88.86, "made-1hl-1mask": 88.40, "made-1hl-32masks": None, "made-2hl-32masks": 86.64}
# How a run that did not early-stop ended (repro.json "stopped"), as repro-table says it.
STOPPED = {"budget": "stopped by the budget", "max-epochs": "stopped at --max-epochs"}


def repro_table(name: str, out: str, png: str | None) -> None:
    """Every seed's row of VARIANT from OUT/VARIANT-s*/repro.json, their mean ± std, and the curve."""
    import json
    from pathlib import Path

    states = [json.loads(f.read_text()) for f in sorted(Path(out).glob(f"{name}-s*/repro.json"))]
    if not states:
        raise SystemExit(f"{out}: no {name}-s*/repro.json (run `repro --variant {name}` first)")
    print("| seed | best epoch of run | best valid NLL | test NLL (mean of draws) | per draw | status |")
    print("|---|---|---|---|---|---|")
    finished = []
    for st in states:
        test = st.get("test", {})
        mean = statistics.fmean(test.values()) if test else None
        if mean is not None:
            finished.append(mean)
        status = (STOPPED.get(st.get("stopped"), "early-stopped") if st["done"] and test
                  else f"running ({st['epochs']} epochs)")
        cells = (f"{mean:.2f}", ", ".join(f"{test[k]:.2f}" for k in sorted(test))) if test else ("-", "-")
        print(f"| {st['seed']} | {st['best_epoch']} of {st['epochs']} | {st['best_valid']:.2f} | {cells[0]} | "
              f"{cells[1]} | {status} |")
    if finished:
        sd = f" ± {statistics.stdev(finished):.2f}" if len(finished) > 1 else ""
        print(f"\ntest NLL over {len(finished)} finished seed(s): {statistics.fmean(finished):.2f}{sd} nats "
              f"(published: {REPRO_PUBLISHED.get(name) or 'not verified'})")
    if png:
        _repro_png(name, states, png)


def _repro_png(name: str, states: list[dict], png: str) -> None:
    from pathlib import Path

    from PIL import Image, ImageDraw

    W, H, left, right, top, bottom = 720, 420, 60, 150, 30, 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    pw, ph = W - left - right, H - top - bottom
    curves = [(st["seed"], [(e, v) for e, v, *_ in st["history"]]) for st in states]
    published = REPRO_PUBLISHED.get(name)
    values = [v for _, c in curves for _, v in c] + ([published] if published else [])
    y0 = math.floor(min(values)) - 1
    y1 = min(max(values), y0 + 20)  # the first epochs are far above: clip them to keep the end readable
    x1 = max(max(e for e, _ in c) for _, c in curves if c)

    def X(e: float) -> float:
        return left + pw * e / x1

    def Y(v: float) -> float:
        return top + ph - ph * (min(max(v, y0), y1) - y0) / (y1 - y0)

    d.rectangle([left, top, left + pw, top + ph], outline="black")
    d.text((left, 10), f"{name}: validation NLL (nats) against epochs, binarized MNIST", fill="black")
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        d.text((6, Y(v) - 6), f"{v:.1f}", fill="black")
        d.line([left - 4, Y(v), left, Y(v)], fill="black")
    for i in range(5):
        e = x1 * i / 4
        d.text((X(e) - 8, top + ph + 6), f"{e:.0f}", fill="black")
    d.text((left + pw // 2 - 20, H - 18), "epoch", fill="black")
    if published:
        for x in range(left, left + pw, 8):
            d.line([x, Y(published), x + 4, Y(published)], fill="#d62728")
        d.text((left + pw + 6, Y(published) - 6), f"published test {published}", fill="#d62728")
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    for k, (seed, c) in enumerate(curves):
        if len(c) > 1:
            d.line([(X(e), Y(v)) for e, v in c], fill=colours[k % 5], width=2)
        d.text((left + pw + 6, top + 14 * k), f"seed {seed}", fill=colours[k % 5])
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    img.save(png)
    print(png)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["speed", "nll", "seeds", "repro", "repro-table", "repro-best"])
    p.add_argument("--variant", default="nade", help="repro: " + ", ".join(v for v in VARIANTS if "ade" in v))
    p.add_argument("--seed", type=int, default=0, help="repro: train.seed")
    p.add_argument("--hours", type=float, default=2.0, help="repro: stop before an epoch would pass this")
    p.add_argument("--look-ahead", type=int, default=30, help="repro: epochs without a better validation NLL")
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--valid-n", type=int, default=10_000, help="repro: validation images (of the held-out 10,000)")
    p.add_argument("--valid-every", type=int, default=1, help="repro: epochs between validations")
    p.add_argument("--test-draws", type=int, default=5, help="repro: binarizations of the test set (seeds 0..N-1)")
    p.add_argument("--png", default=None, help="repro-table: draw the validation curves here")
    p.add_argument("--to", default=None, help="repro-best: parent folder of the best epoch's run folder")
    p.add_argument("--stop", action="store_true",
                   help="repro: end the run where it is (its budget ran out) and measure the test NLL of its best epoch")
    p.add_argument("--set", action="append", default=[], help="repro: extra genzoo --set for the first call")
    p.add_argument("--seeds", default="0,1,2,3,4", help="seeds: the seeds to run")
    p.add_argument("--only", default="", help="seeds: comma-separated words; run the tests whose name has one")
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
    if a.what in ("repro", "repro-table", "repro-best"):
        out = a.out if a.out != "runs/likelihood" else "runs/repro"
        if a.what == "repro-table":
            return repro_table(a.variant, out, a.png)
        if a.what == "repro-best":
            if not a.to:
                raise SystemExit("repro-best needs --to FOLDER")
            return repro_best(a.variant, a.seed, out, a.to)
        repro(a.variant, a.seed, out, a.hours, a.look_ahead, a.max_epochs, a.batch_size, a.valid_n, a.valid_every,
              a.test_draws, a.set, a.stop)
    elif a.what == "seeds":
        seeds([int(v) for v in a.seeds.split(",")], a.only)
    elif a.what == "speed":
        models = [m for m in a.models.split(",") if m in AR_MODELS]  # the autoregressive ones, in the order given
        speed(a.repeats, a.batch, models, set(a.full_naive.split(",")) if a.full_naive else set())
    else:
        nll(a.models.split(","), a.minutes, a.n_test, a.k, a.fid_n, a.out, a.reuse)


if __name__ == "__main__":
    main()
