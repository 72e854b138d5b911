"""Mode collapse on the 2-D mixtures of VEEGAN and PacGAN: GAN against PacGAN, and every objective.

The data are ``2d-ring`` (8 Gaussians on the unit circle, std 0.01) and ``2d-grid`` (5x5 Gaussians
at {-4, -2, 0, 2, 4}^2, std 0.05), 100,000 training points each (genzoo/data/toy2d.py). The metric
is the standard one (genzoo/metrics/toy.py): 2,500 samples; a sample is high quality within 3 std
of its nearest mode; a mode is covered when at least one high-quality sample has it as nearest
mode; reverse KL of the high-quality samples' mode histogram against the uniform one. It is
computed by the trainer's periodic evaluation (``train.eval_metrics=modes``, ``eval_n=2500``),
the same code as ``genzoo evaluate``, every ``--eval-every`` iterations, so each run also gives
the curve of modes covered against iterations.

Presets (``--preset``):

- ``paper``: Lin et al. (2018)'s toy networks and optimiser (their code's configs, which follow
  VEEGAN): z 2-D standard normal; G 4 hidden layers of 400 ReLU units with batch norm; D 3 maxout
  layers of 200 units with 5 pieces each, then linear; weights N(0, 0.02^2), biases 0; Adam
  1e-4, betas (0.8, 0.999); batches of 100 packs (100 m samples for PacGAN m); the non-saturating
  loss; their budget is 400 epochs of 100,000 packs = 400,000 iterations.
- ``small``: the learning tests' MLP (z 2-D; G and D 2 hidden layers of 256, leaky ReLU in D), each
  objective with its learning-test settings (tests/test_gan_family.py: optimiser, critic steps,
  an EMA of G's weights with decay 0.995, evaluated), batches of 256 samples (256 / m packs, so
  packing costs about the same): cheap enough to run every objective with and without packing.

Commands::

    python benchmarks/toy_modes.py run --preset paper --data 2d-ring --pack 1 2 3 4 --seeds 0 1 2 \\
        --steps 20000 --eval-every 1000 --out /work/runs/toy_modes/pacgan.jsonl --runs /work/runs/toy_modes/runs
    python benchmarks/toy_modes.py run --preset small --data 2d-grid --loss all --pack 1 2 --seeds 0 1 2 \\
        --steps 3000 --eval-every 500 --out /work/runs/toy_modes/objectives.jsonl
    python benchmarks/toy_modes.py table /work/runs/toy_modes/pacgan.jsonl [--step 20000]
    python benchmarks/toy_modes.py curve /work/runs/toy_modes/pacgan.jsonl

``run`` appends one JSON line per evaluation and skips (setting, seed) pairs whose final line is
already in ``--out``, so an interrupted job is resubmitted as is. ``table`` prints mean +- std
over seeds (population std, as the papers' +-) at the last common step; ``curve`` the mean
modes covered against iterations.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

PAPER = {
    "z_dim": 2, "g_hidden": [400, 400, 400, 400], "g_batch_norm": True, "d_hidden": [200, 200, 200],
    "d_maxout": 5, "init_std": 0.02, "loss": "nonsaturating", "optimizer": "adam", "lr": 1e-4,
    "betas": [0.8, 0.999], "d_steps": 1,
}
PAPER_PACKS_PER_BATCH = 100

SMALL = {"z_dim": 2, "g_hidden": [256, 256], "d_hidden": [256, 256]}
SMALL_BATCH = 256
LOSSES = ("nonsaturating", "minimax", "lsgan", "wgan", "wgan-gp", "hinge", "softmax")

# Published (Lin et al. 2018, Table 1, read from the authors' Table1.png): modes, high-quality %,
# reverse KL as (mean, standard error over 10 trials) -- standard errors, not standard deviations
# (std = se * sqrt(10)).
PUBLISHED = {
    ("2d-ring", 1): ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
    ("2d-ring", 2): ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
    ("2d-ring", 3): ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
    ("2d-ring", 4): ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    ("2d-grid", 1): ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
    ("2d-grid", 2): ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
    ("2d-grid", 3): ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
    ("2d-grid", 4): ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
}


def small_settings(loss: str) -> tuple[dict, int, dict]:
    """The learning tests' per-objective settings (one source: tests/test_gan_family.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_gan_family import ring_recipe

    return ring_recipe(loss)


def setting(preset: str, loss: str, pack: int) -> tuple[dict, dict]:
    """(model config, train settings: batch size in samples, EMA) of one setting."""
    if preset == "paper":
        return {**PAPER, "loss": loss, "pack": pack}, {"batch_size": PAPER_PACKS_PER_BATCH * pack}
    if preset == "small":
        cfg, _steps, train = small_settings(loss)
        return {**SMALL, **cfg, "loss": loss, "pack": pack}, dict(train)
    raise SystemExit(f"unknown preset {preset!r} (paper or small)")


def cpu_name() -> str:
    from genzoo.sysinfo import cpu_model

    return cpu_model()


def key(row: dict) -> tuple:
    return (row["preset"], row["data"], row["loss"], row["pack"])


def done_runs(path: Path) -> set[tuple]:
    """(setting..., seed) of runs whose last evaluation is in ``path``."""
    out = set()
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("final"):
                out.add((*key(row), row["seed"]))
    return out


def run_one(preset: str, data: str, loss: str, pack: int, seed: int, steps: int, eval_every: int,
            out: Path, runs: Path | None) -> None:
    from genzoo.config import RunConfig, TrainConfig, from_dict
    from genzoo.data.base import DataConfig
    from genzoo.registry import get_model_class
    from genzoo.train import Trainer

    model_cfg, train_cfg = setting(preset, loss, pack)
    batch = train_cfg["batch_size"]
    cls = get_model_class("gan")
    train = TrainConfig(steps=steps, seed=seed, log_every=min(1000, eval_every), sample_every=10**9,
                        checkpoint_every=10**9, eval_every=eval_every, eval_metrics="modes", eval_n=2500,
                        tensorboard=False, **train_cfg)
    config = RunConfig("gan", from_dict(cls.Config, model_cfg), DataConfig(name=data), train)
    tmp = None
    if runs is None:
        tmp = tempfile.TemporaryDirectory()
        run_dir = Path(tmp.name)
    else:
        run_dir = runs / f"{preset}-{data}-{loss}-pack{pack}-seed{seed}"
        if run_dir.exists():
            raise SystemExit(f"{run_dir} exists: remove it or its line-less remains first")
    torch.set_num_threads(1)
    t0 = time.time()
    Trainer(config, run_dir, progress=False).fit()
    seconds = time.time() - t0
    rows = [json.loads(s) for s in (run_dir / "log.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/modes_covered" in r]
    d_logs = {r["step"]: r for r in rows if "discriminator" in r}  # D's loss over the window ending there
    with out.open("a") as f:
        for i, r in enumerate(evals):
            f.write(json.dumps({
                "preset": preset, "data": data, "loss": loss, "pack": pack, "seed": seed, "step": r["step"],
                "modes": r["eval/modes_covered"], "modes_total": r["eval/modes_total"],
                "hq": r["eval/high_quality_fraction"], "kl": r["eval/mode_kl"],
                "d_loss": d_logs.get(r["step"], {}).get("discriminator"),
                "train_time_s": r.get("train_time"), "final": i == len(evals) - 1,
                "run_s": round(seconds, 1) if i == len(evals) - 1 else None, "batch": batch,
                "torch": torch.__version__, "cpu": cpu_name(),
            }) + "\n")
    if tmp is not None:
        tmp.cleanup()
    last = evals[-1]
    print(f"{preset} {data} {loss} pack={pack} seed={seed}: modes {last['eval/modes_covered']}, "
          f"hq {last['eval/high_quality_fraction']:.3f}, kl {last['eval/mode_kl']:.3f} ({seconds:.0f} s)", flush=True)


def cmd_run(args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs) if args.runs else None
    if runs:
        runs.mkdir(parents=True, exist_ok=True)
    losses = LOSSES if args.loss == ["all"] else args.loss
    done = done_runs(out)
    for data in args.data:
        for loss in losses:
            for pack in args.pack:
                for seed in args.seeds:
                    if (args.preset, data, loss, pack, seed) in done:
                        print(f"skip {args.preset} {data} {loss} pack={pack} seed={seed}: in {out}", flush=True)
                        continue
                    run_one(args.preset, data, loss, pack, seed, args.steps, args.eval_every, out, runs)


def load(path: str) -> list[dict]:
    return [json.loads(s) for s in Path(path).read_text().splitlines() if s.strip()]


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def cmd_table(args) -> None:
    rows = [r for p in args.files for r in load(p)]
    groups: dict[tuple, dict[int, dict[int, dict]]] = {}
    for r in rows:
        groups.setdefault(key(r), {}).setdefault(r["seed"], {})[r["step"]] = r
    print("| preset | data | loss | pack | seeds | iterations | modes | high-quality % | reverse KL | published (Lin et al. 2018, Table 1) |")
    print("|---|---|---|---:|---:|---:|---|---|---|---|")
    for k in sorted(groups, key=lambda k: (k[0], k[1], LOSSES.index(k[2]) if k[2] in LOSSES else 99, k[3])):
        seeds = groups[k]
        common = set.intersection(*(set(v) for v in seeds.values()))
        if args.step is not None:
            common = {s for s in common if s == args.step}
        if not common:
            continue
        step = max(common)
        picked = [seeds[s][step] for s in sorted(seeds)]
        m, h, kl = (mean_std([r[f] for r in picked]) for f in ("modes", "hq", "kl"))
        pub = PUBLISHED.get((k[1], k[3])) if k[0] == "paper" and k[2] == "nonsaturating" else None
        pub_s = (f"{pub[0][0]} ± {pub[0][1]}, {pub[1][0]} ± {pub[1][1]} %, {pub[2][0]} ± {pub[2][1]} (± s.e.)"
                 if pub else "")
        per_seed = ", ".join(f"{int(r['modes'])}" for r in picked)
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {len(picked)} | {step} | {m[0]:.1f} ± {m[1]:.1f} ({per_seed}) | "
              f"{100 * h[0]:.1f} ± {100 * h[1]:.1f} | {kl[0]:.2f} ± {kl[1]:.2f} | {pub_s} |")


def cmd_curve(args) -> None:
    rows = [r for p in args.files for r in load(p)]
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for r in rows:
        groups.setdefault(key(r), {}).setdefault(r["step"], []).append(r)
    for k in sorted(groups):
        steps = sorted(groups[k])
        cells = []
        for s in steps:
            rs = groups[k][s]
            m = statistics.fmean(r["modes"] for r in rs)
            h = statistics.fmean(r["hq"] for r in rs)
            kl = statistics.fmean(r["kl"] for r in rs)
            cells.append(f"{s}: {m:.1f} / {100 * h:.0f}% / {kl:.2f} (n={len(rs)})")
        print(f"{' '.join(map(str, k))}  [modes / high-quality / reverse KL, mean over seeds]")
        for c in cells:
            print("   ", c)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train settings x seeds, append the evaluations to --out")
    r.add_argument("--preset", choices=("paper", "small"), default="paper")
    r.add_argument("--data", nargs="+", default=["2d-ring"], choices=("2d-ring", "2d-grid"))
    r.add_argument("--loss", nargs="+", default=["nonsaturating"], help=f"objectives, or all ({', '.join(LOSSES)})")
    r.add_argument("--pack", nargs="+", type=int, default=[1])
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--steps", type=int, default=20_000)
    r.add_argument("--eval-every", type=int, default=1000)
    r.add_argument("--out", required=True, help="JSON lines file (appended)")
    r.add_argument("--runs", help="keep the run folders here (default: temporary)")
    t = sub.add_parser("table", help="mean +- std over seeds at the last common step")
    t.add_argument("files", nargs="+")
    t.add_argument("--step", type=int)
    c = sub.add_parser("curve", help="mean modes covered against iterations")
    c.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "run":
        bad = [x for x in args.loss if x not in LOSSES and x != "all"]
        if bad or min(args.pack) < 1 or args.steps < 1 or args.eval_every < 1:
            raise SystemExit(f"bad --loss {bad} or --pack/--steps/--eval-every below 1")
        cmd_run(args)
    elif args.cmd == "table":
        cmd_table(args)
    else:
        cmd_curve(args)


if __name__ == "__main__":
    main()
