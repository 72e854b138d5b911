"""MNIST test errors of semi-supervised GAN runs (of 10,000), mean ± std over runs; prints a Markdown table.

For each run: D's classifier with the exponential average of the weights (train.ema; Salimans
et al. test such an average of D's weights) and with the raw weights, both from the run's latest
checkpoint, on the 10,000 MNIST test images, in eval mode (no noise). ``--checkpoints`` scores
every checkpoint the run kept (a curve). Then the mean and standard deviation (n - 1) over runs.
Train the runs with the recipe (docs/reproductions.md)::

    genzoo train --config recipes/ssgan-salimans2016.yaml --set train.seed=1 --set model.labelled_seed=1
    python benchmarks/ssgan_accuracy.py runs/ssgan-mnist-001 runs/ssgan-mnist-002 --json out.json

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
    p.add_argument("runs", nargs="+", help="run folders of ssgan trainings on MNIST (with --stored: any model)")
    p.add_argument("--stored", action="store_true",
                   help="score each model as stored (a zoo name or a model folder), not its checkpoints")
    p.add_argument("--checkpoints", action="store_true", help="also score every kept checkpoint (a curve)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from genzoo.data import DataConfig, load_dataset

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
    rows = []
    for run in map(Path, args.runs):
        rows.append(score_run(run, test, args.checkpoints))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                              indent=2))
    print(table(rows, len(test.y)))


if __name__ == "__main__":
    main()
