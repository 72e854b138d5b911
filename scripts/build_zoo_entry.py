"""Build a zoo entry (genzoo/zoo/NAME/) from its recipe: train, export, evaluate, write the card, checksum.

    python scripts/build_zoo_entry.py vae-mnist                      # train from recipes/vae-mnist.yaml, then build
    python scripts/build_zoo_entry.py vae-mnist --run runs/zoo/vae-mnist-001   # build from a finished run
    python scripts/build_zoo_entry.py vae-mnist --train-only --runs /work/runs/zoo   # only train (e.g. on a GPU)

Training is ``genzoo train --config recipes/NAME.yaml --out RUNS`` (recorded, with the machine, in
RUN/provenance.json). Building then:

1. exports the model as the entry's ``model/`` (float32 tensors stored as ``--dtype``, default
   fp16; key prefixes given by ``--omit`` left out, e.g. a GAN's discriminator ``D.``);
2. draws the 64-sample grid (seed 0) from the *stored* weights;
3. runs ``genzoo evaluate`` on the stored weights for each of ``--seeds`` (default metrics, ``--n``
   samples, the real-data floor), plus the exact NLL or its bound where ``--nll`` asks, and takes
   the headline figure's spread over the seeds;
4. writes card.json and card.md with the command, recipe, machine, budget, iterations, figures and
   the sha256 of every verified file, and replaces genzoo/zoo/NAME/ in one rename.

An entry must stay within 5 MiB and the zoo within 40 MiB (checked).

The card's summary is the recipe's opening comment (or ``--summary``); ``--note`` adds a line under
"Notes" (a figure measured outside ``genzoo evaluate``, with its command). ``--restamp`` rewrites an
existing entry's card.json and card.md with a new summary and notes, measuring nothing again (and
takes in the recipe's edited comments, refusing a recipe whose settings changed):

    python scripts/build_zoo_entry.py ssgan-mnist --restamp --note "Test accuracy ... (command)"
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

import genzoo
from genzoo import zoo
from genzoo.config import RunConfig
from genzoo.metrics.evaluate import evaluate_run
from genzoo.metrics.features import sha256_file
from genzoo.viz.grid import save_samples

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- where and how it was trained


def machine() -> dict:
    """This machine: CPU model and cores, GPU (if torch sees one), torch and genzoo versions, threads."""
    from genzoo.sysinfo import cpu_model

    cpu = cpu_model()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_cores": os.cpu_count(), "gpu": gpu, "device": gpu or f"CPU ({cpu})",
            "torch": torch.__version__, "genzoo": genzoo.__version__, "threads": torch.get_num_threads(),
            "commit": _git_commit()}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def train(recipe: Path, runs: Path, extra: list[str]) -> Path:
    """``genzoo train --config RECIPE --out RUNS`` in a subprocess; writes RUN/provenance.json; returns RUN."""
    command = ["genzoo", "train", "--config", _rel(recipe), "--out", str(runs), "--no-progress", *extra]
    exe = [sys.executable, "-m", "genzoo", *command[1:]]
    # A SIGTERM meant for the run (e.g. a session's deadline, sent to the process group) stops the
    # training, which saves and exports its model and exits 143; this process stays to record it.
    stopped: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    try:
        out = subprocess.run(exe, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    lines = out.stdout.strip().splitlines()
    if out.returncode not in (0, 130, 143) or not lines:
        sys.exit(f"training failed (exit {out.returncode}): {' '.join(command)}")
    run = Path(lines[-1])
    run = run if run.is_absolute() else ROOT / run
    provenance = {"command": " ".join(c for c in command if c != "--no-progress"), "recipe": _rel(recipe),
                  "finished": datetime.datetime.now().isoformat(timespec="seconds"), **machine()}
    if out.returncode:
        provenance["stopped"] = f"by a signal before its budget (exit {out.returncode}); it saved and exported"
    (run / "provenance.json").write_text(json.dumps(provenance, indent=2))
    return run


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def training_record(run: Path) -> dict:
    """Iterations, training seconds and the budget, from the run's log and config."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "step" in r]
    last = rows[-1] if rows else {}
    cfg = RunConfig.load(run / "config.yaml", record=True)
    seconds = float(last.get("train_time", last.get("time", 0.0)))
    return {"iterations": int(last.get("step", 0)), "train_seconds": round(seconds, 1),
            "budget": {"steps": cfg.train.steps, "minutes": cfg.train.minutes},
            "batch_size": cfg.train.batch_size, "seed": cfg.train.seed}


# ---------------------------------------------------------------- the entry


def export(run: Path, folder: Path, dtype: str, omit: list[str]) -> dict:
    """Write the run's model into ``folder/model`` (float32 tensors as ``dtype``, ``omit`` prefixes left out)."""
    meta = json.loads((run / "model" / "config.json").read_text())
    omit = sorted(set(omit) | set(meta.get("omitted") or []))  # what the run's export already left out stays out
    model = genzoo.load(run / "model")
    state = {}
    for k, v in model.state_dict().items():
        if any(k.startswith(p) for p in omit):
            continue
        v = v.detach().contiguous().cpu()
        if dtype == "fp16" and v.dtype == torch.float32:
            v = v.half()
        state[k] = v
    if omit:
        meta["omitted"] = list(omit)
    (folder / "model").mkdir(parents=True)
    save_file(state, str(folder / "model" / "model.safetensors"))
    (folder / "model" / "config.json").write_text(json.dumps(meta, indent=2))
    stored = genzoo.load(folder)  # what a user gets: the stored weights, cast back to the model's dtype
    # What the file holds, not what was asked: tensors that were not float32 (a mixture's float64
    # parameters) keep their own precision.
    floats = sorted({str(v.dtype).removeprefix("torch.") for v in state.values() if v.is_floating_point()})
    return {"dtype": " and ".join(floats) or {"fp16": "float16", "fp32": "float32"}[dtype], "omitted": list(omit),
            "parameters_stored": sum(v.numel() for v in state.values()),
            "parameters_total": sum(v.numel() for v in model.state_dict().values()),
            "model": stored}


def grid(model, path: Path, seed: int = 0, n: int = 64) -> None:
    """64 samples from seed 0; a class-conditional model draws 100, one class per row."""
    labels, nrow = None, None
    if model.conditional and model.num_classes:
        n = 100
        nrow = math.ceil(math.sqrt(n))
        labels = (torch.arange(n) // nrow) % model.num_classes
    with torch.no_grad():
        x = model.sample(n, torch.Generator().manual_seed(seed), labels=labels)
    save_samples(x.float().clamp(0, 1) if x.dim() == 4 else x, path, nrow=nrow)


def evaluate(folder: Path, n: int, seeds: list[int], nll: bool, nll_k: int | None, nll_n: int | None,
             sample_seeds: list[int] | None = None) -> dict:
    """``genzoo evaluate`` on the stored weights for each seed: per-metric values, mean, std and floor.
    ``sample_seeds`` (default ``seeds``): the seeds of the sample metrics, when sampling is slow."""
    per_seed, floors, extra = [], {}, {}
    sample_seeds = sample_seeds or seeds
    for seed in sample_seeds if n else []:  # n 0: no sample metrics (an autoregressive sampler on a CPU)
        r = evaluate_run(folder, n=n, seed=seed, progress=False, write=False)
        per_seed.append(r["metrics"])
        if not floors:  # the floor at the first seed, like the value: the same training-image subset
            floors = {row["metric"]: row.get("floor") for row in r["rows"]}
        extra = {"feature_network": r.get("feature_network"), "floor_source": r.get("floor_source")}
    metrics = {}
    for key in per_seed[0] if per_seed else []:
        values = [m[key] for m in per_seed if isinstance(m.get(key), (int, float))]
        if len(values) != len(per_seed):
            continue
        metrics[key] = {"value": values[0], "mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "per_seed": values, "floor": floors.get(key)}
    out = {"n": n, "seeds": sample_seeds, "metrics": metrics, **extra}
    if nll:
        out["nll_seeds"] = seeds
    if nll:
        kw = {k: v for k, v in (("nll_k", nll_k), ("nll_n", nll_n)) if v is not None}
        values = []
        for seed in seeds:
            r = evaluate_run(folder, metrics="nll", seed=seed, progress=False, write=False, **kw)
            values.append(r["metrics"])
            out.setdefault("nll_method", {k: r["nll"].get(k) for k in ("nll_method", "n", "binarization", "k")
                                          if k in r["nll"]})  # as measured at the first seed
        for key in ("nll", "nll_bits_per_dim", "neg_elbo"):
            vals = [v[key] for v in values if isinstance(v.get(key), (int, float))]
            if len(vals) == len(values):
                metrics[key] = {"value": vals[0], "mean": statistics.fmean(vals),
                                "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "per_seed": vals,
                                "floor": None}
        out["nll_settings"] = kw
    return out


def spread(m: dict) -> float:
    """What a re-measurement may differ by: 3 standard deviations over the seeds, at least 1% of the value."""
    return max(3 * m["std"], 0.01 * abs(m["value"]))


def _measures(card: dict) -> str:
    """The sentence that says how the card's table was measured."""
    ev = card["evaluation"]
    if not ev["n"]:  # likelihood only: sampling 10,000 images autoregressively on a CPU is out of reach
        seeds = ev.get("nll_seeds") or ev["seeds"]
        return (f"`genzoo evaluate zoo:{card['name']} --metrics nll --seed S` for S in {', '.join(map(str, seeds))} "
                f"(value at seed {seeds[0]}; mean ± std over the seeds). Sample metrics (FID...) were not "
                "measured: they need 10,000 samples, and this model draws one pixel at a time.")
    return (f"`genzoo evaluate zoo:{card['name']} --n {ev['n']} --seed S` for S in {', '.join(map(str, ev['seeds']))} "
            f"(value at seed {ev['seeds'][0]}; mean ± std over the seeds; the real-data floor is {ev['n']} "
            f"{card['data']} training images against the test set):")


def recipe_summary(recipe: Path, name: str) -> str | None:
    """The recipe's opening comment up to its Train:/Entry: lines, without the leading ``NAME:``."""
    words = []
    for line in recipe.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text or text.startswith(("Train:", "Entry:")):
            break
        words.append(text)
    summary = " ".join(words).removeprefix(f"{name}:").strip()
    return summary[:1].upper() + summary[1:] if summary else None


def card_markdown(card: dict) -> str:
    h, t, s = card["headline"], card["trained_on"], card["storage"]
    lines = [f"# {card['name']}", "", card["summary"], "",
             "![samples, seed 0](grid.png)", "",
             "## How it was trained", "",
             f"- command: `{card['command']}` (recipe `{card['recipe']}`, sha256 `{card['recipe_sha256'][:16]}...`)",
             f"- retrain: `genzoo zoo train {card['name']}`; rebuild this entry: `{card['build_command']}`",
             f"- machine: {t['device']}; {t.get('threads', '?')} torch thread(s); torch {t.get('torch')}; "
             f"genzoo {t.get('genzoo')} ({t.get('commit') or 'commit unknown'})",
             f"- budget: {_budget(card['budget'])}; ran {card['iterations']} iterations in "
             f"{card['train_minutes']:.1f} minutes of training (batch {card['batch_size']}, seed {card['seed']})",
             f"- stored: {s['dtype']} ({s['parameters_stored']:,} of {s['parameters_total']:,} numbers"
             + (f"; left out: {', '.join(s['omitted'])} (not needed to sample, evaluate or inpaint)" if s["omitted"] else "")
             + f"); every figure below is measured on these stored weights", "",
             "## What it measures", "",
             _measures(card), "",
             "| metric | value | mean ± std | real-data floor |", "|---|---|---|---|"]
    for key, m in card["evaluation"]["metrics"].items():
        if key.endswith("_std"):  # the spread of KID's subsets and of the classifier score: in card.json
            continue
        floor = "-" if m.get("floor") is None else f"{m['floor']:.4g}"
        lines.append(f"| {key} | {m['value']:.4g} | {m['mean']:.4g} ± {m['std']:.2g} | {floor} |")
    lines += ["", f"Headline: **{h['metric']} {h['value']:.4g}** (a re-measurement with seed {h['seed']} "
                  f"stays within ± {h['spread']:.3g}: 3 std over the seeds, at least 1%; "
                  "tests/test_zoo.py checks it).", ""]
    if card["evaluation"].get("feature_network"):
        fn = card["evaluation"]["feature_network"]
        lines.append(f"Features: {fn.get('name')} ({fn.get('hash')}), layer {fn.get('layer')}.")
    if card["evaluation"].get("nll_method"):
        m = card["evaluation"]["nll_method"]
        lines.append(f"NLL: {m.get('nll_method')} on {m.get('n')} test images, binarization {m.get('binarization')}.")
    if card.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in card["notes"]]
    lines += ["", "## Files", "", "| file | sha256 (checked at every load) |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in card["sha256"].items()]
    return "\n".join(lines) + "\n"


def _budget(b: dict) -> str:
    parts = [f"{b['steps']} steps"] if b.get("steps") else []
    if b.get("minutes"):
        parts.append(f"{b['minutes']:g} minutes")
    return " or ".join(parts) + (" (whichever came first)" if len(parts) > 1 else "")


def build(args: argparse.Namespace, run: Path) -> Path:
    name, recipe = args.name, args.recipe
    zoo_dir = Path(args.zoo_dir)
    final = zoo_dir / name
    tmp = zoo_dir / f".{name}.build"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cfg = RunConfig.load(run / "config.yaml", record=True)
    if cfg.model != RunConfig.load(recipe).model:
        sys.exit(f"{run} trained {cfg.model}, but {recipe} is a recipe for {RunConfig.load(recipe).model}")
    shutil.copyfile(run / "config.yaml", tmp / "config.yaml")
    shutil.copyfile(recipe, tmp / "recipe.yaml")
    stored = export(run, tmp, args.dtype, args.omit)
    model = stored.pop("model")
    grid(model, tmp / "grid.png")
    print(f"{name}: evaluating the stored weights (n={args.n}, seeds {args.seeds})", file=sys.stderr, flush=True)
    ev = evaluate(tmp, args.n, args.seeds, args.nll, args.nll_k, args.nll_n, args.sample_seeds)
    headline = args.headline or ("nll" if args.nll else "fid")
    if headline not in ev["metrics"]:
        sys.exit(f"headline metric {headline!r} was not measured ({', '.join(ev['metrics'])})")
    hm = ev["metrics"][headline]
    provenance = json.loads((run / "provenance.json").read_text()) if (run / "provenance.json").is_file() else {}
    trained_on = {k: provenance.get(k) for k in ("cpu", "cpu_cores", "gpu", "device", "torch", "genzoo", "threads",
                                                 "commit") if k in provenance}
    if args.trained_on:
        trained_on["device"] = args.trained_on
    if not trained_on:  # no record: the run was trained where it is built
        trained_on = {k: v for k, v in machine().items()}
        trained_on["assumed"] = "no provenance.json in the run: the machine that built the entry"
    record = training_record(run)
    build_cmd = f"python scripts/build_zoo_entry.py {name} --run RUN" + "".join(
        f" {flag} {value}" for flag, value in (("--dtype", args.dtype), ("--n", args.n),
                                               ("--seeds", ",".join(map(str, args.seeds))))) \
        + (f" --sample-seeds {','.join(map(str, args.sample_seeds))}" if args.sample_seeds else "") \
        + "".join(f" --omit {p}" for p in args.omit) + (" --nll" if args.nll else "") \
        + (f" --nll-k {args.nll_k}" if args.nll_k else "") + (f" --nll-n {args.nll_n}" if args.nll_n else "")
    card = {
        "genzoo_zoo": zoo.CARD_VERSION,
        "name": name,
        "model": cfg.model,
        "data": cfg.data.name,
        "summary": args.summary or recipe_summary(recipe, name)
        or f"`{cfg.model}` trained on {cfg.data.name} from recipes/{name}.yaml.",
        "notes": list(args.note),
        "command": provenance.get("command") or f"genzoo train --config recipes/{name}.yaml",
        "recipe": _rel(recipe),
        "recipe_sha256": sha256_file(recipe),
        "build_command": build_cmd,
        "built": datetime.datetime.now().isoformat(timespec="seconds"),
        "built_at_commit": _git_commit(),
        "trained_on": trained_on,
        **record,
        "train_minutes": round(record["train_seconds"] / 60, 2),
        "storage": stored,
        "evaluation": ev,
        "headline": {"metric": headline, "value": hm["value"], "mean": hm["mean"], "std": hm["std"],
                     "spread": spread(hm), "floor": hm.get("floor"), "n": ev["n"],
                     "seed": args.seeds[0] if headline in ("nll", "nll_bits_per_dim", "neg_elbo") else ev["seeds"][0],
                     **({"nll_settings": ev.get("nll_settings", {})} if headline.startswith("nll") else {})},
        "grid": "grid.png",
        "sha256": {rel: sha256_file(tmp / rel) for rel in zoo.VERIFIED},
    }
    (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (tmp / "card.md").write_text(card_markdown(card))
    size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    others = sum(p.stat().st_size for p in zoo_dir.glob("*/**/*") if p.is_file() and final not in p.parents
                 and tmp not in p.parents and not p.parent.name.startswith("."))
    if size > zoo.MAX_ENTRY_BYTES:
        sys.exit(f"{name}: {size / 2**20:.1f} MiB, more than the {zoo.MAX_ENTRY_BYTES / 2**20:.0f} MiB an entry may "
                 f"take (left in {tmp}); try --dtype fp16 or --omit")
    if size + others > zoo.MAX_ZOO_BYTES:
        sys.exit(f"the zoo would take {(size + others) / 2**20:.1f} MiB, more than {zoo.MAX_ZOO_BYTES / 2**20:.0f} MiB")
    old = zoo_dir / f".{name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    print(f"{final}: {size / 2**20:.2f} MiB, {headline} {hm['value']:.4g} ± {spread(hm):.3g}")
    return final


def same_settings(new: dict, old: dict, ran: dict) -> bool:
    """Whether recipe ``new`` trains what recipe ``old`` trained: the same settings, except that ``new``
    may spell out one ``old`` left to its default, at the value the run recorded (``ran``)."""
    if not isinstance(new, dict) or not isinstance(old, dict) or new.get("model") != old.get("model"):
        return False
    for section in set(new) | set(old):
        a, b = new.get(section), old.get(section)
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                return False
            continue
        if set(b) - set(a) or any(a[k] != b[k] for k in b):
            return False
        if any(a[k] != (ran.get(section) or {}).get(k, object()) for k in set(a) - set(b)):
            return False
    return True


def restamp(entry: Path, args: argparse.Namespace) -> None:
    """New summary (``--summary`` or the recipe's comment) and notes (``--note``, if any) for a built entry."""
    from genzoo.files import atomic_write

    path = entry / "card.json"
    if not path.is_file():
        sys.exit(f"{entry}: no card.json (build the entry first)")
    card = json.loads(path.read_text())
    recipe = Path(args.recipe)
    if recipe.is_file() and sha256_file(recipe) != card["recipe_sha256"]:
        # Only the comments may differ, or a setting the entry left to its default written out at the
        # value that ran: the settings that trained the entry are the same.
        new, old = yaml.safe_load(recipe.read_text()), yaml.safe_load((entry / "recipe.yaml").read_text())
        if not same_settings(new, old, RunConfig.load(entry / "config.yaml", record=True).to_dict()):
            sys.exit(f"{recipe} changed the settings that trained {args.name}: retrain and rebuild the entry")
        shutil.copyfile(recipe, entry / "recipe.yaml")
        card["recipe_sha256"] = sha256_file(recipe)
    card["summary"] = args.summary or recipe_summary(entry / "recipe.yaml", args.name) or card["summary"]
    if args.note:
        card["notes"] = list(args.note)
    atomic_write(path, json.dumps(card, indent=2) + "\n")
    atomic_write(entry / "card.md", card_markdown(card))
    print(f"{entry}: card restamped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("name", help="the entry, e.g. vae-mnist (its recipe: recipes/NAME.yaml)")
    p.add_argument("--run", default=None, help="a finished run folder to build from (default: train one first)")
    p.add_argument("--recipe", default=None, help="default recipes/NAME.yaml")
    p.add_argument("--runs", default=str(ROOT / "runs" / "zoo"), help="parent folder of the training run")
    p.add_argument("--train-only", action="store_true", help="train and print the run folder; build nothing")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="passed to genzoo train (e.g. train.device=cuda); recorded in the card's command")
    p.add_argument("--minutes", type=float, default=None, help="passed to genzoo train as its budget")
    p.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16", help="storage of float32 tensors")
    p.add_argument("--omit", action="append", default=[], help="a state-dict key prefix to leave out (e.g. D.)")
    p.add_argument("--n", type=int, default=10_000,
                   help="samples per evaluation (default 10000; 0: no sample metrics, for a slow sampler with --nll)")
    p.add_argument("--seeds", default="0,1,2", help="evaluation seeds (default 0,1,2); the first is the headline's")
    p.add_argument("--sample-seeds", default=None, help="seeds of the sample metrics (default --seeds)")
    p.add_argument("--nll", action="store_true", help="also measure the test NLL (exact, or the IWAE bound)")
    p.add_argument("--nll-k", type=int, default=None)
    p.add_argument("--nll-n", type=int, default=None)
    p.add_argument("--headline", default=None, help="the headline metric (default nll with --nll, else fid)")
    p.add_argument("--summary", default=None, help="one sentence for the card")
    p.add_argument("--note", action="append", default=[], help="a line for the card's Notes (repeatable)")
    p.add_argument("--restamp", action="store_true",
                   help="rewrite an existing entry's summary and notes (card.json, card.md); measure nothing")
    p.add_argument("--trained-on", default=None, help="the training device, when the run has no provenance.json")
    p.add_argument("--zoo-dir", default=str(zoo.ZOO_DIR), help="where entries go (default genzoo/zoo)")
    args = p.parse_args(argv)
    args.recipe = Path(args.recipe) if args.recipe else ROOT / "recipes" / f"{args.name}.yaml"
    args.seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    args.sample_seeds = [int(s) for s in args.sample_seeds.split(",")] if args.sample_seeds else None
    if not args.recipe.is_file():
        sys.exit(f"no recipe {args.recipe}: write recipes/{args.name}.yaml (a genzoo run config) first")
    if args.restamp:
        restamp(Path(args.zoo_dir) / args.name, args)
        return 0
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    if args.run:
        run = Path(args.run)
    else:
        extra = [a for s in args.set for a in ("--set", s)] + (["--minutes", str(args.minutes)] if args.minutes else [])
        run = train(args.recipe, Path(args.runs), extra)
        print(run, flush=True)
    if args.train_only:
        return 0
    build(args, run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
