"""The GPU check: one command on one NVIDIA GPU, at most 8 minutes, that measures what a CPU cannot.

    python benchmarks/gpu_check.py --out runs/gpu-check                  # everything, ~8 minutes on an H200
    python benchmarks/gpu_check.py --out runs/gpu-check --phases throughput --budget 150
    python benchmarks/gpu_check.py --smoke --out /tmp/gpu-smoke          # the CPU, seconds: every code path

Phases (``--phases``, comma-separated; each merges its results into OUT/gpu_check.json and rewrites
OUT/gpu_check.md, so phases may run as separate processes, also at the same time):

- ``env``: the GPU (name, memory, capability, driver), CUDA, cuDNN, torch, Python, the CPU, genzoo's commit.
- ``throughput``: training images/s of every registered model (default config, MNIST) at batch
  64 / 256 / 1024, fp32 and bf16 (autocast), eager and ``--compile``, in the genzoo trainer and in a
  plain PyTorch loop over the same model (zero_grad, losses, backward, step). Worker processes
  build and warm up (compile) cells in parallel on the CPU cores; the timed windows (``--window``
  seconds, at least 3 steps, synchronised) take a lock, so only one cell runs on the GPU while it
  is timed. Cells left when ``--budget`` seconds are spent are listed as not measured.
- ``dcgan``: the default DCGAN trained ``--dcgan-minutes`` with LeNet-FID on 10,000 samples every
  ``--dcgan-eval-every`` steps (evaluations do not count as training time): the training time at
  which FID first reached ``--fid-target``, and the curve.
- ``pixelcnn``: the default PixelCNN trained ``--pixelcnn-minutes`` on dynamically binarized MNIST,
  then its exact test NLL on the 10,000 test images.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genzoo.config import RunConfig, TrainConfig, from_dict  # noqa: E402
from genzoo.data import load_dataset  # noqa: E402
from genzoo.data.base import DataConfig  # noqa: E402
from genzoo.models.base import Batch  # noqa: E402
from genzoo.registry import get_model_class, model_names  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from throughput import TrainerLoop  # noqa: E402  (the trainer's hot loop, shared with the CPU benchmark)

PHASES = ("env", "throughput", "dcgan", "pixelcnn")
# --smoke: tiny versions of a few models on the 8x8 digits, so every code path runs on a CPU in seconds.
SMOKE_MODELS = {
    "gan": {"z_dim": 8, "g_hidden": [16], "d_hidden": [16]},
    "vae": {"z_dim": 4, "hidden": [16]},
    "dcgan": {"z_dim": 8, "width": 8},
    "pixelcnn": {"channels": 8, "blocks": 1, "out_hidden": 8},
}


# ---------------------------------------------------------------- the machine


def environment(device: torch.device) -> dict:
    """What the figures were measured on."""
    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           "device": str(device), "cpu": _cpu_model(), "cpu_cores": os.cpu_count(), "commit": _commit(),
           "hostname": platform.node()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                   capability=f"{p.major}.{p.minor}", multiprocessors=p.multi_processor_count)
        try:
            q = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm,power.limit",
                                "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            env["nvidia_smi"] = q.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            env["nvidia_smi"] = None
    return env


def _cpu_model() -> str:
    from genzoo.sysinfo import cpu_model

    return cpu_model()


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- throughput


def run_config(name: str, data: str, batch: int, precision: str, compile_: bool, device: str,
               model_cfg: dict | None = None) -> RunConfig:
    cls = get_model_class(name)
    train = TrainConfig(batch_size=batch, device=device, precision=precision, compile=compile_, log_every=100,
                        sample_every=10**9, checkpoint_every=10**9, tensorboard=False)
    return RunConfig(name, from_dict(cls.Config, model_cfg or {}), DataConfig(name=data), train)


class PlainLoop:
    """What anyone would write by hand: the model's optimizer groups, zero_grad, loss, backward, step."""

    def __init__(self, config: RunConfig, data, device: torch.device, compile_fn=None) -> None:
        torch.manual_seed(config.train.seed)
        cls = get_model_class(config.model)
        self.model = cls(config.model_config, data.shape, data.num_classes).to(device)
        self.model.prepare_data(data)
        self.model.train()
        self.groups = self.model.optimizer_groups()
        self.optimizers = [g.make_optimizer() for g in self.groups]
        self.forward = compile_fn(self.model) if compile_fn else self.model
        self.x = data.x.to(device)
        self.y = data.y.to(device) if data.y is not None else None
        self.batch, self.device = config.train.batch_size, device
        self.binarize = config.data.binarize == "dynamic"
        self.precision = config.train.precision

    def _batch(self) -> Batch:
        idx = torch.randint(len(self.x), (self.batch,), device=self.device)
        x = self.x[idx]
        if self.binarize:
            x = torch.bernoulli(x)
        return Batch(x, self.y[idx] if self.y is not None else None)

    def step(self) -> None:
        batch = None
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16" \
            else contextlib.nullcontext()
        for group, opt in zip(self.groups, self.optimizers):
            for _ in range(group.steps):
                if group.fresh_batch or batch is None:
                    batch = self._batch()
                if group.kind == "statistics":  # an EM step: no gradient
                    with torch.no_grad():
                        self.model.apply_statistics(group.name, self.model.batch_statistics(batch, group.name))
                    continue
                opt.zero_grad(set_to_none=True)
                with autocast:
                    loss = self.forward(batch, group.name)[group.name]
                loss.backward()
                opt.step()
                self.model.on_step_end(group.name)


def timed_window(loop, device: torch.device, window: float, min_steps: int = 3) -> tuple[int, float]:
    """Steps and seconds of a window of at least ``window`` seconds and ``min_steps`` steps, synchronised."""
    _sync(device)
    t0 = time.perf_counter()
    n = 0
    while n < min_steps or time.perf_counter() - t0 < window:
        loop.step()
        n += 1
    _sync(device)
    return n, time.perf_counter() - t0


class GPULock:
    """A file lock: one timed window on the GPU at a time, across worker processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _compile_fn(backend: str):
    if backend == "inductor":
        return torch.compile
    return lambda model: torch.compile(model, backend=backend)


def measure_cells(cells: list[dict], opts: dict) -> list[dict]:
    """Measure ``cells`` (dicts of model, batch, precision, compile) in this process, trainer and plain."""
    import genzoo.train.trainer as trainer_module

    device = torch.device(opts["device"])
    if opts["compile_backend"] != "inductor":  # --smoke: dynamo's eager backend, the same code path in seconds
        backend = opts["compile_backend"]
        trainer_module.compile_model = lambda model: torch.compile(model, backend=backend)
    data_cache: dict[str, object] = {}
    results = []
    lock = GPULock(Path(opts["lock"]))
    for cell in cells:
        # A compiled cell takes tens of seconds to warm up: none starts in the budget's last 30 s.
        if time.time() > opts["deadline"] - (30 if cell["compile"] and opts["compile_backend"] == "inductor" else 0):
            results += [{**cell, "loop": loop, "error": "not measured: the time budget was spent"}
                        for loop in ("trainer", "plain")]
            continue
        name = cell["model"]
        cfg = run_config(name, opts["data"], cell["batch"], cell["precision"], cell["compile"], str(device),
                         opts["model_cfgs"].get(name))
        if opts["data"] not in data_cache:
            data_cache[opts["data"]] = load_dataset(DataConfig(name=opts["data"]), "train")
        data = data_cache[opts["data"]]
        for kind in ("trainer", "plain"):
            row = {**cell, "loop": kind}
            if cell["compile"]:
                torch._dynamo.reset()  # each compiled cell compiles afresh: its warm-up time is its own
            t0 = time.perf_counter()
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    if kind == "trainer":
                        loop = TrainerLoop(cfg, data, tmp)
                    else:
                        loop = PlainLoop(cfg, data, device, _compile_fn(opts["compile_backend"]) if cell["compile"] else None)
                    for _ in range(opts["warmup"]):
                        loop.step()
                    _sync(device)
                    row["warmup_s"] = round(time.perf_counter() - t0, 2)
                    if kind == "trainer" and cell["compile"]:
                        row["compiled"] = loop.trainer.compiled is not None  # False: the gradient check fell back
                    with lock:
                        steps, seconds = timed_window(loop, device, opts["window"])
                    row.update(steps=steps, seconds=round(seconds, 4),
                               images_per_s=round(steps * cell["batch"] / seconds, 1))
                    del loop
            except Exception as e:  # out of memory, a model that cannot run this way: say so, go on
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            if device.type == "cuda":
                torch.cuda.empty_cache()
            results.append(row)
    return results


def _worker(cells: list[dict], opts: dict, out_file: str) -> None:
    torch.set_num_threads(max(1, opts.get("threads", 1)))
    rows = measure_cells(cells, opts)
    Path(out_file).write_text(json.dumps(rows))


def throughput(args, device: torch.device) -> list[dict]:
    """Every cell of models x batches x precisions x compile, trainer and plain; parallel warm-up, serial timing."""
    models = args.models or (list(SMOKE_MODELS) if args.smoke else model_names())
    compile_batches = args.compile_batches or args.batches
    cells = [{"model": m, "batch": b, "precision": p, "compile": c}
             for c in args.compile for p in args.precisions for m in models
             for b in (compile_batches if c else args.batches)]
    deadline = time.time() + args.budget
    opts = {"device": str(device), "data": args.data, "window": args.window, "warmup": args.warmup,
            "deadline": deadline, "compile_backend": args.compile_backend, "threads": args.threads,
            "model_cfgs": SMOKE_MODELS if args.smoke else {}}
    with tempfile.TemporaryDirectory() as tmp:
        opts["lock"] = str(Path(tmp) / "gpu.lock")
        if args.workers <= 1:
            return measure_cells(cells, opts)
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # CUDA in forked children is not allowed
        # Cells of one (model, precision, compile) stay together (the data is loaded once). Half the
        # workers take the eager cells, half the compiled ones, so compiling starts at once beside
        # the eager timings instead of after them.
        groups: dict[tuple, list[dict]] = {}
        for cell in cells:
            groups.setdefault((cell["model"], cell["precision"], cell["compile"]), []).append(cell)
        shares: list[list[dict]] = [[] for _ in range(args.workers)]
        half = max(1, args.workers // 2) if any(args.compile) and not all(args.compile) else args.workers
        eager = [g for k, g in groups.items() if not k[2]]
        compiled = [g for k, g in groups.items() if k[2]]
        for i, group in enumerate(eager):
            shares[i % half] += group
        for i, group in enumerate(compiled):
            shares[(half + i % (args.workers - half)) if args.workers > half else i % args.workers] += group
        procs = []
        for i, share in enumerate(shares):
            if share:
                p = ctx.Process(target=_worker, args=(share, opts, f"{tmp}/rows{i}.json"))
                p.start()
                procs.append((p, f"{tmp}/rows{i}.json", share))
        rows = []
        for p, path, share in procs:
            p.join(max(1.0, deadline - time.time() + 20))  # a cell already running may finish
            if p.is_alive():
                p.terminate()
            if Path(path).is_file():
                rows += json.loads(Path(path).read_text())
            else:
                rows += [{**c, "loop": loop, "error": f"worker ended with {p.exitcode}"} for c in share
                         for loop in ("trainer", "plain")]
        return rows


# ---------------------------------------------------------------- training to a target, and a likelihood


def _train(args, model: str, minutes: float, runs: Path, sets: list[str], steps: int = 10**7) -> Path:
    """``genzoo train MODEL`` in a subprocess (its own CUDA context); returns the run folder."""
    cmd = [sys.executable, "-m", "genzoo", "train", model, "--data", args.data, "--minutes", str(minutes),
           "--steps", str(steps), "--out", str(runs), "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {out.returncode}")
    return Path(out.stdout.strip().splitlines()[-1])


def _log_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]


def dcgan_time_to_target(args, device: torch.device) -> dict:
    """The default DCGAN's training time to LeNet-FID <= target (10,000 samples), with the curve."""
    sets = [f"train.device={device.type}", f"train.eval_every={args.dcgan_eval_every}", "train.eval_metrics=fid",
            f"train.eval_n={args.dcgan_eval_n}", "train.checkpoint_every=1000000", "train.sample_every=1000000",
            "train.tensorboard=false"]
    if args.smoke:
        sets += [f"model.{k}={v}" for k, v in SMOKE_MODELS["dcgan"].items()]
    t0 = time.time()
    run = _train(args, "dcgan", args.dcgan_minutes, Path(args.runs), sets)
    rows = _log_rows(run)
    curve = [{"step": r["step"], "train_s": r.get("train_time", r.get("time")), "fid": r["eval/fid"]}
             for r in rows if "eval/fid" in r]
    reached = next((c for c in curve if c["fid"] <= args.fid_target), None)
    best = min(curve, key=lambda c: c["fid"]) if curve else None
    last = rows[-1] if rows else {}
    return {"target": args.fid_target, "eval_n": args.dcgan_eval_n, "eval_every": args.dcgan_eval_every,
            "minutes": args.dcgan_minutes, "iterations": last.get("step"), "reached": reached is not None,
            "time_to_target_s": reached["train_s"] if reached else None, "best": best, "curve": curve,
            "run": str(run), "wall_s": round(time.time() - t0, 1),
            "command": f"genzoo train dcgan --data {args.data} --minutes {args.dcgan_minutes} " + " ".join(
                f"--set {s}" for s in sets)}


def pixelcnn_nll(args, device: torch.device) -> dict:
    """The default PixelCNN after a fixed training time: exact NLL on the test set (dynamically binarized)."""
    from genzoo.metrics.evaluate import evaluate_run

    sets = [f"train.device={device.type}", "data.binarize=dynamic", "train.checkpoint_every=1000000",
            "train.sample_every=1000000", "train.tensorboard=false"]
    if args.smoke:
        sets += [f"model.{k}={v}" for k, v in SMOKE_MODELS["pixelcnn"].items()]
    t0 = time.time()
    run = _train(args, "pixelcnn", args.pixelcnn_minutes, Path(args.runs), sets)
    rows = _log_rows(run)
    r = evaluate_run(run, metrics="nll", nll_n=args.nll_n, seed=0, progress=False, write=False)
    nll = r["nll"]
    return {"minutes": args.pixelcnn_minutes, "iterations": rows[-1]["step"] if rows else None,
            "nll_nats": r["metrics"]["nll"], "bits_per_dim": r["metrics"].get("nll_bits_per_dim"),
            "stderr": nll.get("nll_stderr", nll.get("stderr")), "method": nll.get("nll_method"), "n_test": nll.get("n"),
            "run": str(run), "wall_s": round(time.time() - t0, 1),
            "command": f"genzoo train pixelcnn --data {args.data} --minutes {args.pixelcnn_minutes} " + " ".join(
                f"--set {s}" for s in sets) + f"; genzoo evaluate RUN --metrics nll"}


# ---------------------------------------------------------------- the report


@contextlib.contextmanager
def _locked(path: Path):
    # The lock file lives in /tmp: OUT holds only results (a session brings back at most 8 files).
    lock = Path(tempfile.gettempdir()) / f"gpu_check-{abs(hash(str(path.resolve())))}.lock"
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def merge(out: Path, results: dict) -> dict:
    """Merge ``results`` into OUT/gpu_check.json (other phases may be writing too) and rewrite the markdown."""
    path = out / "gpu_check.json"
    with _locked(path):
        merged = json.loads(path.read_text()) if path.is_file() else {}
        merged.update(results)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=2))
        tmp.replace(path)
        (out / "gpu_check.md").write_text(markdown(merged))
    return merged


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def markdown(r: dict) -> str:
    lines = ["# GPU check", ""]
    env = r.get("environment")
    if env:
        lines += [f"{env.get('gpu', env.get('device'))} ({env.get('gpu_memory_gib', '?')} GiB, capability "
                  f"{env.get('capability', '-')}; nvidia-smi: {env.get('nvidia_smi') or '-'}); torch {env['torch']}, "
                  f"CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, Python {env['python']}; CPU {env['cpu']} "
                  f"({env['cpu_cores']} cores); genzoo {env.get('commit')}.", ""]
    rows = r.get("throughput") or []
    if rows:
        s = r.get("throughput_settings", {})
        lines += ["## Training images/s: trainer / plain loop", "",
                  f"Default configs, {s.get('data', 'mnist')}; timed windows of {s.get('window')} s (at least 3 "
                  f"steps) one at a time on the GPU after {s.get('warmup')} warm-up steps; images/s counts one batch "
                  "per iteration. 'x' = not measured (the reason is in gpu_check.json).", ""]
        batches = sorted({row["batch"] for row in rows})
        head = "| model | precision | compile | " + " | ".join(f"batch {b}: trainer / plain" for b in batches) + " |"
        lines += [head, "|" + "---|" * (3 + len(batches))]
        index = {(x["model"], x["precision"], x["compile"], x["batch"], x["loop"]): x for x in rows}
        keys = sorted({(x["model"], x["precision"], x["compile"]) for x in rows}, key=lambda k: (k[2], k[1], k[0]))
        for m, p, c in keys:
            cells = []
            for b in batches:
                t, q = index.get((m, p, c, b, "trainer"), {}), index.get((m, p, c, b, "plain"), {})
                tv = _fmt(t.get("images_per_s")) if "images_per_s" in t else "x"
                if c and t.get("compiled") is False:
                    tv += " (fell back)"
                cells.append(f"{tv} / {_fmt(q.get('images_per_s')) if 'images_per_s' in q else 'x'}")
            lines.append(f"| {m} | {p} | {'yes' if c else 'no'} | " + " | ".join(cells) + " |")
        ratios = [index[k]["images_per_s"] / index[k[:-1] + ("plain",)]["images_per_s"] for k in index
                  if k[-1] == "trainer" and "images_per_s" in index[k]
                  and "images_per_s" in index.get(k[:-1] + ("plain",), {})]
        if ratios:
            lines += ["", f"trainer / plain over {len(ratios)} cells: median {statistics.median(ratios):.3f}, "
                          f"min {min(ratios):.3f}, max {max(ratios):.3f}."]
        lines.append("")
    d = r.get("dcgan")
    if d:
        lines += ["## The default DCGAN's time to its FID target", "",
                  f"`{d['command']}`", "",
                  f"Target LeNet-FID <= {d['target']} ({d['eval_n']} samples every {d['eval_every']} steps, "
                  f"evaluations not counted): " + (f"**reached after {d['time_to_target_s']:.0f} s** of training"
                                                   if d["reached"] else f"**not reached** in {d['minutes']} minutes"
                                                   f" ({d['iterations']} iterations)")
                  + (f"; best FID {d['best']['fid']:.1f} at step {d['best']['step']}" if d.get("best") else "") + ".", "",
                  "| step | training s | FID |", "|---|---|---|"]
        lines += [f"| {c['step']} | {c['train_s']:.0f} | {c['fid']:.1f} |" for c in d["curve"]]
        lines.append("")
    px = r.get("pixelcnn")
    if px:
        lines += ["## PixelCNN after a fixed time", "", f"`{px['command']}`", "",
                  f"{px['minutes']} minutes, {px['iterations']} iterations: test NLL **{px['nll_nats']:.2f} nats** "
                  f"({_fmt(px.get('bits_per_dim'))} bits/dim; {px.get('method')}, {px.get('n_test')} test images).", ""]
    for phase, err in (r.get("errors") or {}).items():
        lines.append(f"- {phase}: {err}")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--out", required=True, help="folder for gpu_check.json, gpu_check.md and the runs")
    p.add_argument("--runs", default=None, help="parent folder of the dcgan and pixelcnn runs (default OUT/runs)")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)}")
    p.add_argument("--smoke", action="store_true", help="the CPU, tiny models and windows: every code path in seconds")
    p.add_argument("--device", default=None, help="default cuda (cpu with --smoke)")
    p.add_argument("--data", default=None, help="default mnist (digits with --smoke)")
    p.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--compile", default="no,yes", help="no, yes or both (default no,yes)")
    p.add_argument("--compile-batches", default=None, help="batch sizes of the compiled cells (default: all of --batches)")
    p.add_argument("--compile-backend", default=None, help="torch.compile backend (default inductor; eager with --smoke)")
    p.add_argument("--window", type=float, default=None, help="timed seconds per cell (default 0.5)")
    p.add_argument("--warmup", type=int, default=3, help="steps before a cell is timed (compiling happens here)")
    p.add_argument("--budget", type=float, default=None, help="seconds for the throughput phase (default 240)")
    p.add_argument("--workers", type=int, default=None, help="processes warming cells up in parallel (default 6)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads per worker")
    p.add_argument("--fid-target", type=float, default=50.0, help="the DCGAN's LeNet-FID target (default 50)")
    p.add_argument("--dcgan-minutes", type=float, default=None, help="default 3")
    p.add_argument("--dcgan-eval-every", type=int, default=None, help="default 250 steps")
    p.add_argument("--dcgan-eval-n", type=int, default=None, help="default 10000")
    p.add_argument("--pixelcnn-minutes", type=float, default=None, help="default 3")
    p.add_argument("--nll-n", type=int, default=None, help="test images for the NLL (default all)")
    a = p.parse_args(argv)
    s = a.smoke
    a.device = a.device or ("cpu" if s else "cuda")
    a.runs = a.runs or str(Path(a.out) / "runs")
    a.data = a.data or ("digits" if s else "mnist")
    a.batches = [int(b) for b in (("8,16" if s and a.batches == "64,256,1024" else a.batches).split(","))]
    a.precisions = a.precisions.split(",")
    a.compile = [c == "yes" for c in a.compile.split(",")]
    a.compile_batches = [int(b) for b in a.compile_batches.split(",")] if a.compile_batches else None
    a.compile_backend = a.compile_backend or ("eager" if s else "inductor")
    a.window = a.window if a.window is not None else (0.02 if s else 0.5)
    a.warmup = 1 if s and a.warmup == 3 else a.warmup
    a.budget = a.budget if a.budget is not None else (60.0 if s else 240.0)
    a.workers = a.workers if a.workers is not None else (0 if s else 6)
    a.dcgan_minutes = a.dcgan_minutes if a.dcgan_minutes is not None else (0.03 if s else 3.0)
    a.dcgan_eval_every = a.dcgan_eval_every or (5 if s else 250)
    a.dcgan_eval_n = a.dcgan_eval_n or (100 if s else 10_000)
    a.pixelcnn_minutes = a.pixelcnn_minutes if a.pixelcnn_minutes is not None else (0.02 if s else 3.0)
    a.nll_n = a.nll_n if a.nll_n is not None else (50 if s else None)
    a.phases = [x.strip() for x in a.phases.split(",") if x.strip()]
    unknown = set(a.phases) - set(PHASES)
    if unknown:
        p.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device here; use --smoke for the CPU dry run", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for phase in args.phases:
        t = time.time()
        try:
            if phase == "env":
                result = {"environment": environment(device), "smoke": args.smoke}
            elif phase == "throughput":
                result = {"throughput": throughput(args, device),
                          "throughput_settings": {"data": args.data, "window": args.window, "warmup": args.warmup,
                                                  "budget_s": args.budget, "workers": args.workers,
                                                  "compile_backend": args.compile_backend}}
            elif phase == "dcgan":
                result = {"dcgan": dcgan_time_to_target(args, device)}
            else:
                result = {"pixelcnn": pixelcnn_nll(args, device)}
        except Exception as e:  # one phase failing must not lose the others' figures
            merged = merge(out, {})
            errors = {**(merged.get("errors") or {}), phase: f"{type(e).__name__}: {str(e)[:300]}"}
            merge(out, {"errors": errors})
            print(f"gpu_check: phase {phase} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            continue
        result.setdefault("phase_seconds", {})
        merged = merge(out, {})
        result["phase_seconds"] = {**(merged.get("phase_seconds") or {}), phase: round(time.time() - t, 1)}
        merge(out, result)
        print(f"gpu_check: {phase} done in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    print(out / "gpu_check.md")
    print(f"gpu_check: {time.time() - t0:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
