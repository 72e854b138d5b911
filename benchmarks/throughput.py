"""Training images/s of every registered model: the genzoo trainer against a plain PyTorch loop.

For each model (its default config) the same batches are trained two ways in one process:

* trainer: ``Trainer.train_step`` plus the bookkeeping ``fit()`` does every step (the scalar
  window, a log flush every ``log_every`` steps), progress bar off;
* plain: a hand-written loop over the model's own optimizer groups -- draw a batch by index,
  ``zero_grad``, ``losses(batch, group)[group].backward()``, ``step`` -- nothing else.

Short blocks of trainer steps and plain steps alternate (each about ``--block`` seconds, the
same number of steps on both sides) for ``--seconds`` per model, and the table reports
medians: of each side's rate, and of the per-round ratios with their interquartile range, so
that bursts of load from other processes on a shared CPU hit both sides alike. Images/s counts one batch per iteration (an iteration
steps every group once, or ``steps`` times). With ``--channels-last`` image models are also
timed with ``train.channels_last=true``.

    python benchmarks/throughput.py                        # every registered model, MNIST, batch 64
    python benchmarks/throughput.py --models dcgan --channels-last --seconds 30
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch

from genzoo.config import RunConfig, TrainConfig
from genzoo.data import load_dataset
from genzoo.data.base import DataConfig
from genzoo.models.base import Batch
from genzoo.registry import get_model_class, model_names
from genzoo.train import Trainer


class PlainLoop:
    """The loop anyone would write by hand for this model: no checkpoints, logging or checks."""

    def __init__(self, config: RunConfig, data, seed: int) -> None:
        torch.manual_seed(seed)
        cls = get_model_class(config.model)
        self.model = cls(config.model_config, data.shape, data.num_classes)
        if hasattr(self.model, "prepare_data"):
            self.model.prepare_data(data)
        self.model.train()
        self.groups = self.model.optimizer_groups()
        self.optimizers = [g.make_optimizer() for g in self.groups]
        self.x, self.y, self.batch_size = data.x, data.y, config.train.batch_size
        self.order, self.position = torch.randperm(len(self.x)), 0

    def next_batch(self) -> Batch:
        if self.position + self.batch_size > len(self.x):
            self.order, self.position = torch.randperm(len(self.x)), 0
        idx = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return Batch(self.x[idx], self.y[idx] if self.y is not None else None)

    def step(self) -> None:
        batch = None
        for group, opt in zip(self.groups, self.optimizers):
            for _ in range(group.steps):
                if group.fresh_batch or batch is None:
                    batch = self.next_batch()
                opt.zero_grad(set_to_none=True)
                self.model.losses(batch, group.name)[group.name].backward()
                opt.step()
                self.model.on_step_end(group.name)


class TrainerLoop:
    """The trainer's hot loop, as ``Trainer.fit`` runs it, without the end-of-run export."""

    def __init__(self, config: RunConfig, data, run_dir: str) -> None:
        self.trainer = Trainer(config, run_dir, data=data, progress=False)
        self.trainer.model.train()
        self.log_every = config.train.log_every

    def step(self) -> None:
        t = self.trainer
        t.advance()
        if t.step % self.log_every == 0:
            t._flush_scalars()  # the host sync the trainer does once per log window


def _time_steps(loop, n: int) -> float:
    """Steps per second over ``n`` steps."""
    t0 = time.perf_counter()
    for _ in range(n):
        loop.step()
    return n / (time.perf_counter() - t0)


def alternate(loops: list, seconds: float, block: float, min_rounds: int = 7) -> list[list[float]]:
    """Steps/s of each loop in short alternating blocks, until ``seconds`` have passed.

    Short blocks (about ``block`` seconds of steps) interleaved many times make the medians
    robust to bursts of load from other processes on a shared CPU.
    """
    for loop in loops:  # warm-up: allocator, first-step checks, lazy initialisation
        _time_steps(loop, 3)
    per_block = [max(1, round(block * _time_steps(loop, 3))) for loop in loops]
    n = min(per_block)  # the same number of steps on every side
    rates: list[list[float]] = [[] for _ in loops]
    t0, r = time.perf_counter(), 0
    while r < min_rounds or time.perf_counter() - t0 < seconds:
        order = range(len(loops)) if r % 2 == 0 else reversed(range(len(loops)))  # alternate who goes first
        for i in order:
            rates[i].append(_time_steps(loops[i], n))
        r += 1
    return rates


def _summary(rates: list[float], base: list[float], batch_size: int) -> dict:
    ratios = [a / b for a, b in zip(rates, base)]
    q = statistics.quantiles(ratios, n=4)
    return {"rate": statistics.median(rates) * batch_size, "base": statistics.median(base) * batch_size,
            "ratio": statistics.median(ratios), "q1": q[0], "q3": q[2], "rounds": len(ratios)}


def _config(name: str, data, batch_size: int, channels_last: bool = False) -> RunConfig:
    cls = get_model_class(name)
    train = TrainConfig(batch_size=batch_size, device="cpu", log_every=100, tensorboard=False,
                        sample_every=10**9, checkpoint_every=10**9, channels_last=channels_last)
    return RunConfig(name, cls.Config(), DataConfig(name=data.name), train)


def measure(name: str, data, batch_size: int, seconds: float, block: float) -> dict:
    """Median images/s of trainer and plain loop, and the median per-round ratio, for one model."""
    config = _config(name, data, batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        trainer_rates, plain_rates = alternate([TrainerLoop(config, data, tmp), PlainLoop(config, data, 0)], seconds, block)
    return _summary(trainer_rates, plain_rates, batch_size)


def measure_channels_last(name: str, data, batch_size: int, seconds: float, block: float) -> dict:
    """The trainer with ``channels_last`` against the trainer without, alternating like :func:`measure`."""
    with tempfile.TemporaryDirectory() as tmp:
        loops = [TrainerLoop(_config(name, data, batch_size, cl), data, f"{tmp}/{cl}") for cl in (True, False)]
        cl_rates, default_rates = alternate(loops, seconds, block)
    return _summary(cl_rates, default_rates, batch_size)


def main(argv: list[str] | None = None, default_models: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=default_models, help="default: every registered model")
    p.add_argument("--data", default="mnist")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0, help="timed seconds per model (after warm-up)")
    p.add_argument("--block", type=float, default=0.1, help="seconds of steps per alternating block")
    p.add_argument("--channels-last", action="store_true", help="also time image models with channels_last")
    # One thread by default: on a shared CPU a 2-thread op stalls whenever either thread is
    # descheduled, and the spread of the timings triples (measured: IQR 0.45-2.65 vs 0.95-1.11).
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.models or model_names()
    data = load_dataset(DataConfig(name=args.data), "train")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {args.data}, batch {args.batch_size}, "
          f"~{args.seconds:g} s per model in alternating blocks of ~{args.block:g} s")
    header = "| model | trainer img/s | plain img/s | trainer/plain: median (IQR) | rounds |"
    if args.channels_last:
        header += " channels_last img/s | channels_last/default: median (IQR) |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in names:
        try:
            r = measure(name, data, args.batch_size, args.seconds, args.block)
        except Exception as e:  # a model that cannot train on this data: say so, go on
            print(f"| {name} | skipped: {type(e).__name__}: {str(e).splitlines()[0][:80]} |", flush=True)
            continue
        row = (f"| {name} | {r['rate']:.0f} | {r['base']:.0f} | "
               f"{r['ratio']:.3f} ({r['q1']:.3f}-{r['q3']:.3f}) | {r['rounds']} |")
        if args.channels_last and data.is_image:
            c = measure_channels_last(name, data, args.batch_size, args.seconds, args.block)
            row += f" {c['rate']:.0f} | {c['ratio']:.3f} ({c['q1']:.3f}-{c['q3']:.3f}) |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
