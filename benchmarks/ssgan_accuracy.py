"""MNIST test errors of semi-supervised GAN runs (of 10,000), mean ± std over runs; prints a Markdown table.

For each run: D's classifier with the exponential average of the weights (train.ema; Salimans
et al. test such an average of D's weights) and with the raw weights, both from the run's latest
checkpoint, on the 10,000 MNIST test images, in eval mode (no noise). ``--checkpoints`` scores
every checkpoint the run kept (a curve). Then the mean and standard deviation (n - 1) over runs.
Train the runs with the recipe (docs/reproductions.md)::

    genzoo train --config recipes/ssgan-salimans2016.yaml --set train.seed=1 --set model.labelled_seed=1
    python benchmarks/ssgan_accuracy.py runs/ssgan-mnist-001 runs/ssgan-mnist-002 --json out.json

A run keeps only its newest checkpoints (``train.keep_checkpoints``): to score every one of a
long run, watch it while it trains. ``--watch`` scores each checkpoint as it appears, rewrites
``--json`` after each (a watch that is restarted keeps the points already in that file) and ends
with the run; ``--png`` draws the curve::

    python benchmarks/ssgan_accuracy.py RUN --watch --json curve.json --png curve.png

A model without checkpoints (a zoo entry such as ``zoo:ssgan-mnist``, or an exported ``model/``
folder) is scored as stored: ``python benchmarks/ssgan_accuracy.py --stored zoo:ssgan-mnist``.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

import torch


def test_errors(model, x: torch.Tensor, y: torch.Tensor) -> int:
    """Misclassified test images of ``model`` (eval mode)."""
    model.eval()
    return int((model.classify(x) != y).sum())


def score_checkpoint(model, path: Path, test) -> dict:
    """Test errors of the averaged and the raw weights stored in checkpoint ``path``."""
    from genzoo.train.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    raw = copy.deepcopy(model)
    raw.load_state_dict(state["model"])
    row = {"checkpoint": str(path), "step": int(state["step"]), "raw_errors": test_errors(raw, test.x, test.y)}
    if state.get("ema"):
        avg = copy.deepcopy(model)
        avg.load_state_dict({**state["model"], **state["ema"]})
        row["averaged_errors"] = test_errors(avg, test.x, test.y)
    if "elapsed" in state:
        row["hours"] = round((float(state["elapsed"]) - float(state.get("eval_elapsed", 0.0))) / 3600, 3)
    return row


def require_run(run: Path) -> None:
    """One line, not a traceback, when ``run`` is not a training run's folder (a folder of runs, such
    as train's ``--out``, names the runs it holds)."""
    from genzoo.errors import GenzooError
    from genzoo.files import require_run_folder

    try:
        require_run_folder(run)
    except GenzooError as exc:
        raise SystemExit(str(exc)) from None


def score_run(run: Path, test, all_checkpoints: bool) -> dict:
    import genzoo
    from genzoo.config import RunConfig
    from genzoo.train.checkpoint import latest_checkpoint

    model = genzoo.load(run)
    if model.registry_name != "ssgan":
        raise SystemExit(f"{run} holds a {model.registry_name} model, not ssgan")
    cfg = RunConfig.load(run / "config.yaml", record=True)
    latest = latest_checkpoint(run / "checkpoints")
    if latest is None:
        raise SystemExit(f"{run} has no checkpoint")
    out = {"run": str(run), "seed": cfg.train.seed, "labelled_seed": cfg.model_config.labelled_seed,
           "batch_size": cfg.train.batch_size, **score_checkpoint(model, latest, test)}
    if all_checkpoints:
        out["curve"] = [score_checkpoint(model, p, test) for p in sorted((run / "checkpoints").glob("step_*.pt"))]
    return out


def watch(run: Path, test, json_path: Path, every: float) -> dict:
    """Score each new checkpoint of ``run`` until its last step; the row's ``curve`` holds them all."""
    import time

    import genzoo
    from genzoo.config import RunConfig
    from genzoo.errors import GenzooError
    from genzoo.files import atomic_write

    cfg = RunConfig.load(run / "config.yaml", record=True)
    model = genzoo.load(run) if (run / "model").is_dir() else None
    row = {"run": str(run), "seed": cfg.train.seed, "labelled_seed": cfg.model_config.labelled_seed,
           "batch_size": cfg.train.batch_size, "curve": []}
    if json_path.is_file():  # a restarted watch keeps what it scored before
        for old in json.loads(json_path.read_text())["rows"]:
            if old["run"] == str(run):
                row["curve"] = old["curve"]
    done = {c["step"] for c in row["curve"]}
    while True:
        for path in sorted((run / "checkpoints").glob("step_*.pt")):
            step = int(path.stem.split("_")[1])
            if step in done:
                continue
            if model is None:
                model = genzoo.load(run)
            if not path.is_file():
                continue  # rotated away since the listing
            try:
                point = score_checkpoint(model, path, test)
            except GenzooError:  # rotated away while being read: the next one counts
                if path.is_file():
                    raise
                continue
            row["curve"] = sorted(row["curve"] + [point], key=lambda c: c["step"])
            done.add(step)
            row.update({k: v for k, v in row["curve"][-1].items()})
            atomic_write(json_path, json.dumps({"rows": [row]}, indent=2))  # a crash never loses the curve
            print(f"step {step}: {point.get('averaged_errors')} errors (averaged D), {point['raw_errors']} (raw)",
                  file=sys.stderr, flush=True)
        if done and max(done) >= cfg.train.steps:
            return row
        time.sleep(every)


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")


def curve_png(rows: list[dict], png: str, published: float = 93) -> None:
    """Test errors (log scale) against iterations, with the paper's figure: one row's averaged and raw
    D, or the averaged D of several rows (each named by its ``label``, else its seed)."""
    import math

    from PIL import Image, ImageDraw

    W, H, left, right, top, bottom = 760, 420, 60, 210, 30, 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    pw, ph = W - left - right, H - top - bottom
    x1 = max(c["step"] for r in rows for c in r["curve"])
    y0, y1 = math.log10(50), math.log10(3000)

    def X(step: float) -> float:
        return left + pw * step / x1

    def Y(errors: float) -> float:
        return top + ph - ph * (min(max(math.log10(max(errors, 1)), y0), y1) - y0) / (y1 - y0)

    d.rectangle([left, top, left + pw, top + ph], outline="black")
    d.text((left, 10), "semi-supervised GAN, 100 labels: MNIST test errors (of 10,000) against iterations",
           fill="black")
    for v in (50, 100, 200, 500, 1000, 2000):
        d.text((8, Y(v) - 6), str(v), fill="black")
        d.line([left - 4, Y(v), left, Y(v)], fill="black")
    for i in range(5):
        step = x1 * i / 4
        d.text((X(step) - 12, top + ph + 6), f"{step / 1000:.0f}k", fill="black")
    d.text((left + pw // 2 - 24, H - 18), "iteration", fill="black")
    for x in range(left, left + pw, 8):
        d.line([x, Y(published), x + 4, Y(published)], fill="#d62728")
    d.text((left + pw + 6, Y(published) - 6), f"published {published:g}", fill="#d62728")
    name = [r.get("label") or f"seed {r['seed']}" for r in rows]
    if len(rows) == 1:
        series = [(rows[0], "averaged_errors", "#1f77b4", f"{name[0]}: averaged D"),
                  (rows[0], "raw_errors", "#aaaaaa", f"{name[0]}: raw D")]
    else:
        series = [(r, "averaged_errors", PALETTE[k % len(PALETTE)], name[k]) for k, r in enumerate(rows)]
    for i, (r, key, colour, text) in enumerate(series):
        pts = [(X(c["step"]), Y(c[key])) for c in r["curve"] if key in c]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for x, y in pts[-1:]:  # the last point marked: a short run still shows
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        d.text((left + pw + 6, top + 14 * i), text, fill=colour)
    img.save(png)
    print(png)


def compared_rows(specs: list[str]) -> list[dict]:
    """``LABEL=FILE`` curve files (written by --watch or --json --checkpoints) as labelled rows."""
    rows = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"--compare takes LABEL=FILE, not {spec!r}")
        try:
            found = [r for r in json.loads(Path(path).read_text())["rows"] if r.get("curve")]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"--compare {path}: not a curve file ({' '.join(str(exc).split())})") from None
        if len(found) != 1:
            raise SystemExit(f"--compare {path}: holds {len(found)} curves, not one")
        rows.append({**found[0], "label": label})
    return rows


def summary(values: list[int]) -> str:
    if not values:
        return ""
    sd = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.1f}{sd}"


def table(rows: list[dict], n_test: int) -> str:
    lines = ["| run | seed | labelled seed | iterations | epochs | hours | errors (averaged D) | errors (raw D) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        epochs = r["step"] * r["batch_size"] / 60_000
        lines.append(f"| {r['run']} | {r['seed']} | {r['labelled_seed']} | {r['step']} | {epochs:.0f} | "
                     f"{r.get('hours', '')} | {r.get('averaged_errors', '')} | {r['raw_errors']} |")
    avg = [r["averaged_errors"] for r in rows if "averaged_errors" in r]
    raw = [r["raw_errors"] for r in rows]
    lines.append(f"| mean ± std ({len(rows)} runs) | | | | | | {summary(avg)} | {summary(raw)} |")
    if avg:
        lines.append(f"\ntest accuracy (averaged D): {100 * (1 - statistics.mean(avg) / n_test):.2f} %")
    lines.append(f"test accuracy (raw D): {100 * (1 - statistics.mean(raw) / n_test):.2f} %")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", help="run folders of ssgan trainings on MNIST (with --stored: any model)")
    p.add_argument("--stored", action="store_true",
                   help="score each model as stored (a zoo name or a model folder), not its checkpoints")
    p.add_argument("--checkpoints", action="store_true", help="also score every kept checkpoint (a curve)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--watch", action="store_true", help="score each checkpoint of one training run as it appears")
    p.add_argument("--every", type=float, default=60.0, help="--watch: seconds between looks")
    p.add_argument("--png", default=None, help="draw the test errors against iterations here (needs a curve)")
    p.add_argument("--compare", action="extend", nargs="+", default=[], metavar="LABEL=FILE",
                   help="draw these curve files in one picture (with --png), instead of scoring runs")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.compare:
        if args.runs or not args.png:
            raise SystemExit("--compare draws curve files: give --png, and no runs")
        curve_png(compared_rows(args.compare), args.png)
        return
    if not args.runs:
        raise SystemExit("name at least one run folder (or --compare LABEL=FILE ... --png PNG)")
    from genzoo.data import DataConfig, load_dataset

    if not args.stored:
        for run in args.runs:
            require_run(Path(run))
    test = load_dataset(DataConfig(name="mnist"), "test")
    if args.stored:
        import genzoo

        for name in args.runs:
            model = genzoo.load(name)
            if model.registry_name != "ssgan":
                raise SystemExit(f"{name} holds a {model.registry_name} model, not ssgan")
            errors = test_errors(model, test.x, test.y)
            print(f"{name}: {errors} test errors of {len(test.y)}, accuracy {100 * (1 - errors / len(test.y)):.2f} %")
        return
    if args.watch:
        if len(args.runs) != 1 or not args.json:
            raise SystemExit("--watch follows one run and needs --json (where the curve is kept)")
        rows = [watch(Path(args.runs[0]), test, Path(args.json), args.every)]
        if args.png:
            curve_png(rows, args.png)
        print(table(rows, len(test.y)))
        return
    rows = []
    for run in map(Path, args.runs):
        rows.append(score_run(run, test, args.checkpoints))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                              indent=2))
    if args.png:
        curve_png([r for r in rows if "curve" in r], args.png)
    print(table(rows, len(test.y)))


if __name__ == "__main__":
    main()
