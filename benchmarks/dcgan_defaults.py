"""Choosing the default DCGAN by measurement: FID and class mix of candidate recipes against training time.

    python benchmarks/dcgan_defaults.py speed --candidates tutorial,w32-ema --seconds 60
    python benchmarks/dcgan_defaults.py run --candidates tutorial,w32-ema --seeds 0 --cpu-minutes 10 \\
        --eval-every 250 --out /work/runs/dcgan-defaults
    python benchmarks/dcgan_defaults.py table --out /work/runs/dcgan-defaults --at-steps 3000
    python benchmarks/dcgan_defaults.py mix zoo:dcgan-mnist zoo:infogan-mnist zoo:bigan-mnist
    python benchmarks/dcgan_defaults.py plot --run /work/runs/dcgan-defaults/default/seed0 \\
        --png docs/models/img/dcgan-curve.png

``run`` trains each candidate (a named recipe below) on MNIST with one torch thread into
OUT/CANDIDATE/seedS, in chunks of ``--eval-every`` iterations (each chunk a ``genzoo train
--resume`` of the one before, which continues bit-for-bit), and after every chunk scores the
run's exported model (its EMA weights where the recipe has an EMA; then the raw weights too, under
``raw``): LeNet-FID of ``--n`` samples against the MNIST test set, and the class mix of those
samples (the pinned LeNet's label histogram). Each point goes to OUT/CANDIDATE/seedS/curve.jsonl with the iteration, the training
process's CPU seconds (``time.process_time`` around training only: "minutes of one core",
steadier than wall time on a shared machine) and genzoo's wall-clock training time. A run stops
at ``--steps`` iterations or once ``--cpu-minutes`` of CPU are spent, whichever comes first;
calling ``run`` again with a larger budget continues it. ``mix`` scores trained models the same
way (a zoo entry, a run or a model folder): FID and the fraction of samples the LeNet reads as each digit.

``table`` reads every curve under OUT and prints, per candidate, the FID and class mix at
``--at-steps`` (mean ± std over seeds), the best point, the last point and how far the FID rose
from its best. ``plot`` draws one run's curve: FID and the fraction of each digit against CPU
minutes (Pillow only). ``speed`` measures CPU milliseconds per iteration of each candidate, in
alternating blocks so that the load of a shared machine falls on all of them alike.

A class mix "within 10 ± 2 %" means every digit's fraction of the samples lies in [0.08, 0.12].
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

# The tutorials' MNIST DCGAN, written out in full so that the candidates stay what they say whatever
# genzoo's defaults become: layout mnist (G: z -> fc 1024 -> fc 7x7x2w -> two k4 s2 transposed
# convs; D: two k5 convs with max-pools -> fc 1024), width 64, z 96, non-saturating loss, Adam 1e-3
# with betas (0.5, 0.999), one D step, no packing, no R1, no instance noise, batch 64, no EMA.
TUTORIAL_MODEL = {"layout": "mnist", "width": 64, "z_dim": 96, "loss": "nonsaturating", "optimizer": "adam",
                  "lr": 1e-3, "betas": [0.5, 0.999], "d_steps": 1, "pack": 1, "r1": 0.0, "instance_noise": 0.0}
TUTORIAL_TRAIN = {"batch_size": 64, "ema": 0.0}


def candidate(model: dict | None = None, train: dict | None = None, registry: str = "dcgan") -> dict:
    """A recipe: the tutorial's with ``model`` and ``train`` fields changed (``registry``: another
    model with the same networks, e.g. ``infogan``, which adds its latent codes and Q head)."""
    return {"model": {**TUTORIAL_MODEL, **(model or {})}, "train": {**TUTORIAL_TRAIN, **(train or {})},
            "registry": registry}


CANDIDATES: dict[str, dict] = {
    "tutorial": candidate(),  # genzoo's default dcgan before this benchmark
    "w32": candidate({"width": 32}),
    "w32-ema": candidate({"width": 32}, {"ema": 0.999}),
    "w32-ema-pack2": candidate({"width": 32, "pack": 2}, {"ema": 0.999}),
    "w32-ema-pack4": candidate({"width": 32, "pack": 4}, {"ema": 0.999}),
    "w32-ema-lr2e-4": candidate({"width": 32, "lr": 2e-4}, {"ema": 0.999}),
    "w32-ema-hinge-pack2": candidate({"width": 32, "loss": "hinge", "pack": 2}, {"ema": 0.999}),
    "w32-ema-noise": candidate({"width": 32, "instance_noise": 0.1, "instance_noise_steps": 10_000}, {"ema": 0.999}),
    "w16-ema-pack2": candidate({"width": 16, "pack": 2}, {"ema": 0.999}),
    # R1 on D (Mescheder et al. 2018), gamma in genzoo's [0, 1] pixels
    "w32-ema-r1": candidate({"width": 32, "r1": 1.0}, {"ema": 0.999}),
    "w32-ema-r10": candidate({"width": 32, "r1": 10.0}, {"ema": 0.999}),
    "w32-ema-r1-lr2e-4": candidate({"width": 32, "r1": 1.0, "lr": 2e-4}, {"ema": 0.999}),
    "w32-ema-r1-pack2": candidate({"width": 32, "r1": 1.0, "pack": 2}, {"ema": 0.999}),
    # a stronger R1 (gamma 10): does it stop the late rise of the EMA's FID after ~50 CPU minutes?
    "w32-ema-r10-pack2": candidate({"width": 32, "r1": 10.0, "pack": 2}, {"ema": 0.999}),
    # the default with learning rates that halve every N iterations: against the late rise that both
    # R1 recipes show after ~17,000 iterations, whatever their speed (docs/benchmarks.md)
    "w32-ema-r1-hl10k": candidate({"width": 32, "r1": 1.0}, {"ema": 0.999, "lr_halflife": 10_000}),
    "w32-ema-r1-pack2-hl10k": candidate({"width": 32, "r1": 1.0, "pack": 2}, {"ema": 0.999, "lr_halflife": 10_000}),
    "w32-ema-r1-pack2-hl20k": candidate({"width": 32, "r1": 1.0, "pack": 2}, {"ema": 0.999, "lr_halflife": 20_000}),
    # the same at width 16: its generator fits the zoo's 5 MiB per entry in fp16 (width 32's does not)
    "w16-ema-r1-pack2": candidate({"width": 16, "r1": 1.0, "pack": 2}, {"ema": 0.999}),
    # InfoGAN's 10-way categorical code and its mutual-information term (Chen et al. 2016) on the
    # same networks: the zoo's width-16 infogan keeps 8 of 10 digits within 10 +- 1 %
    "w32-ema-info": candidate({"width": 32}, {"ema": 0.999}, registry="infogan"),
    "w32-ema-wgangp-d2": candidate({"width": 32, "loss": "wgan-gp", "optimizer": "adam", "lr": 2e-4,
                                    "betas": [0.5, 0.9], "d_steps": 2}, {"ema": 0.999}),
}

BAND = (0.08, 0.12)  # "10 ± 2 % per digit"


def run_config(name: str, seed: int, steps: int):
    from genzoo.config import RunConfig, TrainConfig, from_dict
    from genzoo.data.base import DataConfig
    from genzoo.registry import get_model_class

    spec = CANDIDATES[name]
    train = TrainConfig(steps=steps, seed=seed, log_every=50, sample_every=10**9, checkpoint_every=10**9,
                        keep_checkpoints=1, tensorboard=False, **spec["train"])
    registry = spec.get("registry", "dcgan")
    return RunConfig(registry, from_dict(get_model_class(registry).Config, spec["model"]), DataConfig(name="mnist"), train)


class Scorer:
    """FID and the LeNet class mix of ``n`` samples of a model, the same noise (``seed``) every time."""

    def __init__(self, n: int, seed: int = 0) -> None:
        from genzoo.metrics.cache import reference
        from genzoo.metrics.features import feature_extractor

        self.n, self.seed = n, seed
        self.extractor = feature_extractor("lenet")
        self.ref = reference(self.extractor, "mnist", "test", progress=False)

    def __call__(self, model) -> dict:
        from genzoo.metrics.evaluate import metrics_from_features, sample_features

        feats, logits = sample_features(model, self.n, self.extractor, self.seed, progress=False)
        out = metrics_from_features(feats, logits, self.ref, ["fid"], self.seed)
        counts = torch.bincount(logits.argmax(1), minlength=10).double()
        fractions = (counts / counts.sum()).tolist()
        return {"fid": float(out["fid"]), "fractions": [round(f, 5) for f in fractions],
                "in_band": all(BAND[0] <= f <= BAND[1] for f in fractions)}


def read_curve(run: Path) -> list[dict]:
    path = run / "curve.jsonl"
    return [json.loads(s) for s in path.read_text().splitlines() if s.strip()] if path.is_file() else []


def train_and_score(name: str, seed: int, args, scorer: Scorer) -> list[dict]:
    """Train one candidate in chunks of ``--eval-every`` iterations, scoring after each (resumable)."""
    import genzoo
    from genzoo.train import Trainer

    run = Path(args.out) / name / f"seed{seed}"
    curve = read_curve(run)
    step = curve[-1]["step"] if curve else 0
    cpu = curve[-1]["cpu_s"] if curve else 0.0
    budget = args.cpu_minutes * 60 if args.cpu_minutes else float("inf")
    while step < args.steps and cpu < budget:
        target = min(step + args.eval_every, args.steps)
        trainer = Trainer(run_config(name, seed, target), run, progress=False)
        if step:
            trainer.resume(required=True)
        c0 = time.process_time()
        trainer.fit()
        cpu += time.process_time() - c0
        step = trainer.step
        train_s = trainer.train_seconds()
        point = {"step": step, "cpu_s": round(cpu, 2), "train_s": round(train_s, 2),
                 **scorer(genzoo.load(run / "model"))}
        if trainer.ema:  # the same run without the average: what the EMA is worth
            point["raw"] = scorer(trainer.model)
        stopped_by = trainer.stopped_by
        del trainer
        curve.append(point)
        with open(run / "curve.jsonl", "a") as f:
            f.write(json.dumps(point) + "\n")
        mix = " ".join(f"{100 * v:.1f}" for v in point["fractions"])
        raw = f" (raw weights {point['raw']['fid']:.1f})" if "raw" in point else ""
        print(f"{name} seed {seed}: step {step} cpu {cpu / 60:.1f} min FID {point['fid']:.1f}{raw} "
              f"digits% [{mix}]", file=sys.stderr, flush=True)
        if stopped_by:  # the run is saved and scored where it stopped; `run` again continues it
            sys.exit(f"{name} seed {seed}: stopped by {stopped_by} at step {step}")
    return curve


def cmd_run(args) -> None:
    torch.set_num_threads(1)
    names = _names(args.candidates)
    scorer = Scorer(args.n, args.eval_seed)
    (Path(args.out)).mkdir(parents=True, exist_ok=True)
    for name in names:
        for seed in _ints(args.seeds):
            train_and_score(name, seed, args, scorer)


def cmd_speed(args) -> None:
    """CPU ms per iteration of each candidate: ``--rounds`` rounds of one block per candidate."""
    import tempfile

    from genzoo.train import Trainer

    torch.set_num_threads(1)
    names = _names(args.candidates)
    trainers = {n: Trainer(run_config(n, 0, 10**9), tempfile.mkdtemp(), progress=False) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for t in trainers.values():
        for _ in range(3):
            t.train_step()  # warm-up
    per_round = args.seconds / args.rounds / len(names)
    for _ in range(args.rounds):
        for n, t in trainers.items():
            c0, k = time.process_time(), 0
            while time.process_time() - c0 < per_round or k < 2:
                t.train_step()
                k += 1
            times[n].append((time.process_time() - c0) / k * 1000)
    print("| candidate | CPU ms / iteration: median (min-max) | iterations in 10 / 30 / 60 CPU minutes |")
    print("|---|---|---|")
    for n, v in times.items():
        m = statistics.median(v)
        print(f"| {n} | {m:.0f} ({min(v):.0f}-{max(v):.0f}) | "
              + " / ".join(f"{60_000 * k / m:.0f}" for k in (10, 30, 60)) + " |")


def _at(curve: list[dict], steps: int | None, cpu_minutes: float | None) -> dict | None:
    """The point at ``steps`` iterations, or the last one within ``cpu_minutes``."""
    if steps is not None:
        return next((p for p in curve if p["step"] == steps), None)
    inside = [p for p in curve if p["cpu_s"] <= cpu_minutes * 60 * 1.0001]
    return inside[-1] if inside else None


def _ms(values: list[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def cmd_table(args) -> None:
    root = Path(args.out)
    names = _names(args.candidates) if args.candidates else sorted(p.name for p in root.iterdir() if p.is_dir())
    print("| candidate | seeds | iterations | CPU min | FID | digit % min-max | in 10 ± 2 % | best FID (CPU min) | "
          "last FID (CPU min) | rise from best |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        curves = {p.name: read_curve(p) for p in sorted((root / name).glob("seed*"))}
        curves = {k: c for k, c in curves.items() if c}
        if not curves:
            continue
        points = [_at(c, args.at_steps, args.at_cpu_minutes) for c in curves.values()]
        points = [p for p in points if p is not None]
        fids = [p["fid"] for p in points]
        lo = [100 * min(p["fractions"]) for p in points]
        hi = [100 * max(p["fractions"]) for p in points]
        ok = sum(p["in_band"] for p in points)
        bests = [min(c, key=lambda p: p["fid"]) for c in curves.values()]
        lasts = [c[-1] for c in curves.values()]
        print(f"| {name} | {len(points)} | {_ms([p['step'] for p in points], '{:.0f}')} | "
              f"{_ms([p['cpu_s'] / 60 for p in points])} | {_ms(fids)} | {_ms(lo)} - {_ms(hi)} | {ok}/{len(points)} | "
              + ", ".join(f"{b['fid']:.1f} ({b['cpu_s'] / 60:.0f})" for b in bests) + " | "
              + ", ".join(f"{b['fid']:.1f} ({b['cpu_s'] / 60:.0f})" for b in lasts) + " | "
              + ", ".join(f"{la['fid'] - b['fid']:+.1f}" for la, b in zip(lasts, bests)) + " |")


def cmd_curve(args) -> None:
    """One candidate's seeds point by point (the docs' per-iteration table), then the stability check:
    after ``--budget`` CPU minutes, does any seed's FID rise above its best so far by more than the
    seed spread (standard deviation over seeds) at the budget?"""
    runs = sorted((Path(args.out) / args.candidate).glob("seed*"), key=lambda r: int(r.name[4:]))
    curves = {r.name[4:]: c for r in runs if (c := read_curve(r))}
    if not curves:
        sys.exit(f"no curves under {Path(args.out) / args.candidate}")
    seeds = list(curves)
    first = curves[seeds[0]]
    print(f"| iterations | CPU min (seed {seeds[0]}) | " + " | ".join(f"FID seed {s}" for s in seeds)
          + " | mean ± std | digit % min-max (seeds " + " / ".join(seeds) + ") | in 10 ± 2 % |")
    print("|---|---|" + "---|" * len(seeds) + "---|---|---|")
    for step in sorted({p["step"] for c in curves.values() for p in c}):
        pts = {s: next((p for p in c if p["step"] == step), None) for s, c in curves.items()}
        have = [p for p in pts.values() if p]
        cpu = next((p["cpu_s"] / 60 for p in first if p["step"] == step), None)
        fids = [f"{p['fid']:.1f}" if p else "-" for p in pts.values()]
        mix = [f"{100 * min(p['fractions']):.1f}-{100 * max(p['fractions']):.1f}" if p else "-" for p in pts.values()]
        print(f"| {step:,} | {'-' if cpu is None else f'{cpu:.1f}'} | " + " | ".join(fids)
              + f" | {_ms([p['fid'] for p in have])} | " + " / ".join(mix)
              + f" | {sum(p['in_band'] for p in have)}/{len(have)} |")
    check = stability(curves, None if args.budget_steps else args.budget, args.budget_steps)
    if check is None:
        return
    where = f"{args.budget_steps:,} iterations" if args.budget_steps else f"{args.budget:g} CPU minutes"
    print(f"\nat {where}: FID {_ms(check['fids'])} (iterations "
          + ", ".join(str(v) for v in check["steps"]) + f"); the seed spread is {check['spread']:.1f}")
    for s, r in check["seeds"].items():
        c = curves[s]
        if r is None:
            print(f"seed {s}: no point after the budget")
            continue
        print(f"seed {s}: to {c[-1]['cpu_s'] / 60:.1f} CPU min ({c[-1]['step']} iterations), best {r['best']:.1f}; "
              f"largest rise above the best so far after the budget {r['rise']:+.1f} (at {r['at']}), "
              + ("within" if r["held"] else "beyond") + " the spread")


def stability(curves: dict[str, list[dict]], budget: float | None = None, steps: int | None = None) -> dict | None:
    """The defaults' stability rule, "FID never rises by more than its seed spread when trained longer": the
    spread is the standard deviation over seeds of the FID at the budget, ``budget`` CPU minutes or
    ``steps`` iterations (each seed's last point within it); a seed's rise is the most any later point
    exceeds the best FID before it. A budget in iterations compares machines of different speeds. None
    when a seed has no point within the budget."""
    if (budget is None) == (steps is None):
        raise ValueError("give the budget in CPU minutes or in iterations")
    inside = (lambda p: p["cpu_s"] <= budget * 60 * 1.0001) if steps is None else (lambda p: p["step"] <= steps)
    at = {s: next((p for p in reversed(c) if inside(p)), None) for s, c in curves.items()}
    if any(p is None for p in at.values()):
        return None
    fids = [p["fid"] for p in at.values()]
    spread = statistics.stdev(fids) if len(fids) > 1 else 0.0
    seeds = {}
    for s, c in curves.items():
        later = [(p["fid"] - min(q["fid"] for q in c[:i]), p["step"]) for i, p in enumerate(c) if not inside(p)]
        if not later:
            seeds[s] = None
            continue
        rise, step = max(later)
        rise = max(rise, 0.0)
        seeds[s] = {"rise": rise, "at": step, "best": min(p["fid"] for p in c), "held": rise <= spread}
    return {"fids": fids, "steps": [p["step"] for p in at.values()], "spread": spread, "seeds": seeds}


# ---------------------------------------------------------------- the picture (Pillow only)

DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


def cmd_plot(args) -> None:
    from PIL import Image, ImageDraw

    curves = [(Path(r), read_curve(Path(r))) for r in args.run]
    curves = [(r, c) for r, c in curves if c]
    if not curves:
        sys.exit("no curve.jsonl in " + ", ".join(args.run))
    W, H, left, right, top, gap = 800, 560, 64, 170, 34, 40
    ph = (H - top - gap - 40) // 2  # each panel's height
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    xmax = max(p["cpu_s"] for _, c in curves for p in c) / 60
    xmax = max(10.0, 10 * -(-xmax // 10))
    pw = W - left - right

    def X(m: float) -> float:
        return left + pw * m / xmax

    def panel(y0: int, ymin: float, ymax: float, title: str, yfmt, ticks: int = 4) -> callable:
        d.rectangle([left, y0, left + pw, y0 + ph], outline="black")
        d.text((left, y0 - 16), title, fill="black")
        for i in range(ticks + 1):
            v = ymin + (ymax - ymin) * i / ticks
            y = y0 + ph - ph * i / ticks
            d.line([left - 4, y, left, y], fill="black")
            d.text((4, y - 6), yfmt(v), fill="black")
        for m in range(0, int(xmax) + 1, 10):
            d.line([X(m), y0 + ph, X(m), y0 + ph + 4], fill="black")
            d.text((X(m) - 6, y0 + ph + 6), str(m), fill="black")
        return lambda v: y0 + ph - ph * (min(max(v, ymin), ymax) - ymin) / (ymax - ymin)

    fids = [p["fid"] for _, c in curves for p in c]
    fmax = args.fid_max or max(50.0, 50 * -(-min(max(fids), 1000) // 50))
    Y1 = panel(top, 0.0, fmax, "LeNet-FID of 10,000 samples (EMA weights where the recipe has them)", lambda v: f"{v:.0f}")
    y50 = Y1(50)
    for x in range(left, left + pw, 8):
        d.line([x, y50, x + 4, y50], fill="#999999")
    d.text((left + 4, y50 - 14), "FID 50", fill="#666666")
    styles = ["black", "#555555", "#999999", "#d62728", "#1f77b4", "#2ca02c"]
    for k, (run, c) in enumerate(curves):
        pts = [(X(p["cpu_s"] / 60), Y1(p["fid"])) for p in c]
        style = styles[k % len(styles)]
        d.line(pts, fill=style, width=2)
        for x, y in pts:
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=style)
        label = f"{run.parent.name} {run.name.replace('seed', 's')}"
        d.text((left + pw + 6, top + 14 * (k + 2)), label[:24], fill=style)
    y0 = top + ph + gap
    Y2 = panel(y0, 0.0, 0.25, f"fraction of each digit (LeNet labels) in {curves[0][0].parent.name}/{curves[0][0].name}",
               lambda v: f"{100 * v:.0f}%", ticks=5)
    d.rectangle([left + 1, Y2(BAND[1]), left + pw - 1, Y2(BAND[0])], fill="#eeeeee")
    d.line([left + 1, Y2(0.1), left + pw - 1, Y2(0.1)], fill="#bbbbbb")
    c = curves[0][1]
    for digit in range(10):
        pts = [(X(p["cpu_s"] / 60), Y2(p["fractions"][digit])) for p in c]
        d.line(pts, fill=DIGIT_COLOURS[digit], width=2)
        d.text((left + pw + 6, y0 + 14 * digit), f"digit {digit}", fill=DIGIT_COLOURS[digit])
    d.text((left + pw + 6, y0 + 14 * 10 + 4), "grey: 8-12%", fill="#666666")
    d.text((left + pw // 2 - 100, H - 18), "minutes of training (CPU time of one core)", fill="black")
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    img.save(args.png)
    print(args.png)


def cmd_mix(args) -> None:
    """FID and class mix of trained models (run folders, model folders or zoo names), as a Markdown table."""
    import genzoo

    torch.set_num_threads(1)
    scorer = Scorer(args.n, args.eval_seed)
    print("| model | FID | " + " | ".join(f"{d}" for d in range(10)) + " | min-max | in 10 ± 2 % |")
    print("|---|---|" + "---|" * 10 + "---|---|")
    for name in args.models:
        r = scorer(genzoo.load(name))
        f = [100 * v for v in r["fractions"]]
        print(f"| `{name}` | {r['fid']:.1f} | " + " | ".join(f"{v:.1f}" for v in f)
              + f" | {min(f):.1f}-{max(f):.1f} | {'yes' if r['in_band'] else 'no'} |", flush=True)


def _names(s: str) -> list[str]:
    names = [v.strip() for v in s.split(",") if v.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidate(s) {', '.join(unknown)}; known: {', '.join(CANDIDATES)}")
    return names


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train candidates, scoring FID and class mix every --eval-every iterations")
    r.add_argument("--candidates", required=True, help="comma-separated: " + ", ".join(CANDIDATES))
    r.add_argument("--seeds", default="0")
    r.add_argument("--steps", type=int, default=10**9, help="iterations per run (the cap)")
    r.add_argument("--cpu-minutes", type=float, default=None, help="stop after the chunk that reaches this CPU time")
    r.add_argument("--eval-every", type=int, default=500)
    r.add_argument("--n", type=int, default=10_000, help="samples per evaluation")
    r.add_argument("--eval-seed", type=int, default=0, help="the noise of the evaluation samples")
    r.add_argument("--out", default="runs/dcgan-defaults")
    t = sub.add_parser("table", help="per-candidate figures over seeds")
    t.add_argument("--out", default="runs/dcgan-defaults")
    t.add_argument("--candidates", default="")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--at-steps", type=int)
    g.add_argument("--at-cpu-minutes", type=float)
    cu = sub.add_parser("curve", help="one candidate's seeds point by point, and the rise after a budget")
    cu.add_argument("candidate")
    cu.add_argument("--out", default="runs/dcgan-defaults")
    cu.add_argument("--budget", type=float, default=30.0, help="CPU minutes of the documented budget (default 30)")
    cu.add_argument("--budget-steps", type=int, default=None,
                    help="the budget in iterations instead (machines of different speeds compare by iterations)")
    pl = sub.add_parser("plot", help="FID and per-digit fractions against CPU minutes")
    pl.add_argument("--run", nargs="+", required=True, help="run folders (the first one's class mix is drawn)")
    pl.add_argument("--png", required=True)
    pl.add_argument("--fid-max", type=float, default=None,
                    help="top of the FID axis (higher values are drawn at the top); default: from the data, at most 1000")
    s = sub.add_parser("speed", help="CPU ms per iteration, alternating blocks")
    s.add_argument("--candidates", required=True)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--rounds", type=int, default=5)
    m = sub.add_parser("mix", help="FID and class mix (% of samples per digit) of trained models")
    m.add_argument("models", nargs="+", help="run folders, model folders or zoo names (zoo:NAME)")
    m.add_argument("--n", type=int, default=10_000)
    m.add_argument("--eval-seed", type=int, default=0)
    args = p.parse_args()
    {"run": cmd_run, "table": cmd_table, "curve": cmd_curve, "plot": cmd_plot, "speed": cmd_speed, "mix": cmd_mix}[args.cmd](args)


if __name__ == "__main__":
    main()
