"""Two DDP designs for models with several optimizer groups, on 2 gloo ranks (CPU).

* per-group (what the trainer does): one DDP wrapper per optimizer group over that group's
  parameters, ``find_unused_parameters`` only where a group's loss leaves some out; a D step
  all-reduces D's gradients only.
* single: one wrapper over the whole model with ``find_unused_parameters=True``; every step
  traverses the autograd graph and all-reduces every parameter's bucket, G's included.

Launches alternate between the designs; each prints the median time of 15 blocks of 20
iterations, and the table gives the median over launches.

    python benchmarks/ddp_wrappers.py --model gan --launches 4
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def worker(design: str, model: str, batch_size: int) -> None:
    """One rank: time the trainer's iterations under ``design``."""
    import torch  # noqa: F401
    from torch.nn.parallel import DistributedDataParallel as DDP

    from genzoo.config import RunConfig, TrainConfig
    from genzoo.data.base import DataConfig
    from genzoo.registry import get_model_class
    from genzoo.train import Trainer

    cls = get_model_class(model)
    train = TrainConfig(batch_size=batch_size, device="cpu", tensorboard=False, log_every=100)
    t = Trainer(RunConfig(model, cls.Config(), DataConfig(name="mnist"), train), tempfile.mkdtemp(), progress=False)
    t.model.train()
    if design == "single":
        wrapper = DDP(t.model, broadcast_buffers=False, find_unused_parameters=True)
        t.forwards = [wrapper] * len(t.groups)
    for _ in range(5):
        t.train_step()
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        for _ in range(20):
            t.train_step()
        times.append((time.perf_counter() - t0) / 20)
    if t.info.is_main:
        print(f"RESULT {design} {statistics.median(times) * 1000:.3f}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="gan")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--launches", type=int, default=4, help="torchrun launches per design")
    args = p.parse_args()
    results: dict[str, list[float]] = {"per-group": [], "single": []}
    for i in range(args.launches):
        for design in (("per-group", "single") if i % 2 == 0 else ("single", "per-group")):
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                   __file__, "--worker", design, args.model, str(args.batch_size)]
            out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
            line = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
            if not line:
                print(out.stderr[-2000:], file=sys.stderr)
                return 1
            results[design].append(float(line[0].split()[2]))
    print(f"{args.model}, MNIST, global batch {args.batch_size}, 2 gloo ranks, {args.launches} launches per design")
    print("| design | ms/iteration: median (min-max) |")
    print("|---|---|")
    for design, ms in results.items():
        print(f"| {design} | {statistics.median(ms):.2f} ({min(ms):.2f}-{max(ms):.2f}) |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
