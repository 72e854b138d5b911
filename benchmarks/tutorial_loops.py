"""CPU time of genzoo's classic GAN and VAE against faithful ports of the tutorial's own loops.

The reference is the code of the tutorial the core issue started from (the wiseodd
generative-models GAN and VAE quoted in note 000), ported line by line to current PyTorch:
raw weight tensors with its Xavier-style initialisation, ``x @ W + b.repeat(B, 1)``, sigmoid
outputs scored by ``binary_cross_entropy``, two Adam optimizers at 1e-3 for the GAN (one for
the VAE), the generator sample *not* detached in the discriminator's step, gradients reset to
fresh zero tensors after every step, and the loss read on the host every 1000 iterations
(where the tutorial prints). The tutorial's matplotlib figures are left out on both sides.

genzoo runs its default ``gan`` and ``vae`` (the same layouts and optimizers) through the
trainer's hot loop: ``Trainer.train_step`` plus the scalar window and its host flush every
``log_every`` (100) steps, as ``fit()`` does; no progress bar, grids or checkpoints. A third
side, the *bare loop*, runs the same model's ``losses`` and optimizer steps without the trainer.
Each side's matrix-product FLOPs per iteration are counted too: their ratio is where the time
ratio would sit if the matrix products were all a step cost (the GAN's tutorial loop does more of
them than genzoo's step; the VAE's the same).

Both sides train on MNIST in the same process, one torch thread, in alternating blocks
(``--block`` iterations each, who goes first alternates) until each side has done
``--iterations``. Time is the process's CPU time, so load from other processes on a shared
machine costs both sides alike; the table gives each side's CPU seconds for all iterations,
and the median and interquartile range of the per-block ratio genzoo / tutorial.

    python benchmarks/tutorial_loops.py                       # 10k iterations of each, gan and vae
    python benchmarks/tutorial_loops.py --models gan --iterations 2000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

MB_SIZE, Z_DIM, H_DIM, LR = 64, 100, 128, 1e-3


def xavier_init(size: list[int]) -> torch.Tensor:
    """The tutorial's initialisation: N(0, 1) scaled by 1 / sqrt(fan_in / 2), a leaf tensor."""
    in_dim = size[0]
    return (torch.randn(*size) * (1.0 / np.sqrt(in_dim / 2.0))).requires_grad_(True)


def zeros(n: int) -> torch.Tensor:
    return torch.zeros(n, requires_grad=True)


class MnistBatches:
    """``mnist.train.next_batch(mb_size)``: consecutive slices of a permutation reshuffled every epoch."""

    def __init__(self, x: torch.Tensor, seed: int) -> None:
        self.x = x.reshape(len(x), -1).contiguous()
        self.g = torch.Generator().manual_seed(seed)
        self.order, self.position = torch.randperm(len(self.x), generator=self.g), 0

    def next_batch(self, n: int) -> torch.Tensor:
        if self.position + n > len(self.x):
            self.order, self.position = torch.randperm(len(self.x), generator=self.g), 0
        idx = self.order[self.position : self.position + n]
        self.position += n
        return self.x[idx]


def reset_grad(params: list[torch.Tensor]) -> None:
    """The tutorial's housekeeping: every gradient replaced by a fresh zero tensor."""
    for p in params:
        if p.grad is not None:
            data = p.grad.data
            p.grad = data.new().resize_as_(data).zero_()


class TutorialGAN:
    """The tutorial's GAN loop, one iteration per :meth:`step`."""

    def __init__(self, x: torch.Tensor, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.mnist = MnistBatches(x, seed)
        X_dim = self.mnist.x.shape[1]
        self.Wzh, self.bzh = xavier_init([Z_DIM, H_DIM]), zeros(H_DIM)
        self.Whx, self.bhx = xavier_init([H_DIM, X_dim]), zeros(X_dim)
        self.Wxh, self.bxh = xavier_init([X_dim, H_DIM]), zeros(H_DIM)
        self.Why, self.bhy = xavier_init([H_DIM, 1]), zeros(1)
        self.G_params = [self.Wzh, self.bzh, self.Whx, self.bhx]
        self.D_params = [self.Wxh, self.bxh, self.Why, self.bhy]
        self.params = self.G_params + self.D_params
        self.G_solver = torch.optim.Adam(self.G_params, lr=LR)
        self.D_solver = torch.optim.Adam(self.D_params, lr=LR)
        self.ones_label, self.zeros_label = torch.ones(MB_SIZE, 1), torch.zeros(MB_SIZE, 1)
        self.it = 0

    def G(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(z @ self.Wzh + self.bzh.repeat(z.size(0), 1))
        return torch.sigmoid(h @ self.Whx + self.bhx.repeat(h.size(0), 1))

    def D(self, X: torch.Tensor) -> torch.Tensor:
        h = F.relu(X @ self.Wxh + self.bxh.repeat(X.size(0), 1))
        return torch.sigmoid(h @ self.Why + self.bhy.repeat(h.size(0), 1))

    def step(self) -> None:
        z = torch.randn(MB_SIZE, Z_DIM)
        X = self.mnist.next_batch(MB_SIZE)
        G_sample = self.G(z)
        D_real, D_fake = self.D(X), self.D(G_sample)
        D_loss = F.binary_cross_entropy(D_real, self.ones_label) + F.binary_cross_entropy(D_fake, self.zeros_label)
        D_loss.backward()
        self.D_solver.step()
        reset_grad(self.params)

        z = torch.randn(MB_SIZE, Z_DIM)
        G_sample = self.G(z)
        D_fake = self.D(G_sample)
        G_loss = F.binary_cross_entropy(D_fake, self.ones_label)
        G_loss.backward()
        self.G_solver.step()
        reset_grad(self.params)
        if self.it % 1000 == 0:  # the tutorial prints both losses here
            self.last = (D_loss.item(), G_loss.item())
        self.it += 1


class TutorialVAE:
    """The tutorial's VAE loop, one iteration per :meth:`step`."""

    def __init__(self, x: torch.Tensor, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.mnist = MnistBatches(x, seed)
        X_dim = self.mnist.x.shape[1]
        self.Wxh, self.bxh = xavier_init([X_dim, H_DIM]), zeros(H_DIM)
        self.Whz_mu, self.bhz_mu = xavier_init([H_DIM, Z_DIM]), zeros(Z_DIM)
        self.Whz_var, self.bhz_var = xavier_init([H_DIM, Z_DIM]), zeros(Z_DIM)
        self.Wzh, self.bzh = xavier_init([Z_DIM, H_DIM]), zeros(H_DIM)
        self.Whx, self.bhx = xavier_init([H_DIM, X_dim]), zeros(X_dim)
        self.params = [self.Wxh, self.bxh, self.Whz_mu, self.bhz_mu, self.Whz_var, self.bhz_var,
                       self.Wzh, self.bzh, self.Whx, self.bhx]
        self.solver = torch.optim.Adam(self.params, lr=LR)
        self.it = 0

    def Q(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(X @ self.Wxh + self.bxh.repeat(X.size(0), 1))
        z_mu = h @ self.Whz_mu + self.bhz_mu.repeat(h.size(0), 1)
        z_var = h @ self.Whz_var + self.bhz_var.repeat(h.size(0), 1)
        return z_mu, z_var

    @staticmethod
    def sample_z(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        eps = torch.randn(MB_SIZE, Z_DIM)
        return mu + torch.exp(log_var / 2) * eps

    def P(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(z @ self.Wzh + self.bzh.repeat(z.size(0), 1))
        return torch.sigmoid(h @ self.Whx + self.bhx.repeat(h.size(0), 1))

    def step(self) -> None:
        X = self.mnist.next_batch(MB_SIZE)
        z_mu, z_var = self.Q(X)
        z = self.sample_z(z_mu, z_var)
        X_sample = self.P(z)
        recon_loss = F.binary_cross_entropy(X_sample, X, reduction="sum") / MB_SIZE
        kl_loss = torch.mean(0.5 * torch.sum(torch.exp(z_var) + z_mu**2 - 1.0 - z_var, 1))
        loss = recon_loss + kl_loss
        loss.backward()
        self.solver.step()
        reset_grad(self.params)
        if self.it % 1000 == 0:  # the tutorial prints the loss here
            self.last = loss.item()
        self.it += 1


TUTORIAL = {"gan": TutorialGAN, "vae": TutorialVAE}


class GenzooLoop:
    """genzoo's default model of the same name in the trainer's hot loop (as ``fit()`` runs it)."""

    def __init__(self, name: str, data, run_dir: str, seed: int = 0) -> None:
        from genzoo.config import RunConfig, TrainConfig
        from genzoo.data.base import DataConfig
        from genzoo.registry import get_model_class
        from throughput import TrainerLoop

        train = TrainConfig(batch_size=MB_SIZE, seed=seed, device="cpu", log_every=100, tensorboard=False,
                            sample_every=10**9, checkpoint_every=10**9)
        config = RunConfig(name, get_model_class(name).Config(), DataConfig(name="mnist"), train)
        self.loop = TrainerLoop(config, data, run_dir)
        self.trainer = self.loop.trainer

    def step(self) -> None:
        self.loop.step()


class BareLoop:
    """genzoo's model (the same default config) without the trainer: each group's ``losses``,
    backward and optimizer step in a plain loop, batches drawn by index. What the trainer's own
    bookkeeping (noise streams, micro-batch shards, checks, the scalar window) costs is the
    difference from :class:`GenzooLoop`."""

    def __init__(self, name: str, data, run_dir: str, seed: int = 0) -> None:
        trainer = GenzooLoop(name, data, run_dir, seed).trainer
        trainer._prepare()
        self.model, self.groups, self.optimizers = trainer.model, trainer.groups, trainer.optimizers
        self.x = data.x
        self.g = torch.Generator().manual_seed(seed)

    def step(self) -> None:
        from genzoo.models.base import Batch

        batch = Batch(self.x[torch.randint(0, len(self.x), (MB_SIZE,), generator=self.g)])
        with self.model.drawing_from(self.g):
            for group, opt in zip(self.groups, self.optimizers):
                opt.zero_grad(set_to_none=True)
                group_loss = self.model.losses(batch, group.name)[group.name]
                group_loss.backward()
                opt.step()


def cpu_seconds(loop, n: int) -> float:
    """CPU time of this process for ``n`` iterations of ``loop``."""
    t0 = time.process_time()
    for _ in range(n):
        loop.step()
    return time.process_time() - t0


def matmul_flops(loop) -> int:
    """Matrix-product FLOPs of one iteration of ``loop`` (forward and backward), counted by
    ``torch.utils.flop_counter.FlopCounterMode``: the arithmetic no dispatch saving removes."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loop.step()
    return counter.get_total_flops()


def compare(name: str, data, iterations: int, block: int, seed: int = 0) -> dict:
    """Alternate blocks of genzoo and tutorial iterations until each has done ``iterations``."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp2:
        ours, bare, ref = GenzooLoop(name, data, tmp, seed), BareLoop(name, data, tmp2, seed), TUTORIAL[name](data.x, seed)
        for loop in (ours, bare, ref):  # warm-up: allocator, lazy initialisation
            cpu_seconds(loop, 20)
        flops = [matmul_flops(loop) for loop in (ours, ref)]
        ours_t, bare_t, ref_t = [], [], []
        for r in range(max(1, iterations // block)):
            sides = [(ours, ours_t), (bare, bare_t), (ref, ref_t)]
            for loop, times in (sides if r % 2 == 0 else sides[::-1]):  # who goes first alternates
                times.append(cpu_seconds(loop, block))
    ratios = sorted(a / b for a, b in zip(ours_t, ref_t))
    bare_ratio = statistics.median(a / b for a, b in zip(bare_t, ref_t))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"genzoo_s": sum(ours_t), "tutorial_s": sum(ref_t), "ratio": statistics.median(ratios),
            "q1": q[0], "q3": q[2], "min": ratios[0], "max": ratios[-1], "blocks": len(ratios),
            "iterations": len(ours_t) * block, "bare_s": sum(bare_t), "bare_ratio": bare_ratio, "genzoo_mflop": flops[0] / 1e6, "tutorial_mflop": flops[1] / 1e6}


CATEGORIES = (("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul")),
              ("optimizer", ("aten::_fused_adam_", "aten::_foreach_", "aten::addcdiv_", "aten::addcmul_",
                             "aten::lerp_", "aten::sqrt", "Optimizer.")))


def profile(name: str, data, steps: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each side's operator time for ``steps`` iterations by category (self CPU time, torch.profiler)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side, loop in (("genzoo", GenzooLoop(name, data, tmp, seed)), ("tutorial", TUTORIAL[name](data.x, seed))):
            cpu_seconds(loop, 20)
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(steps):
                    loop.step()
            shares = {c: 0.0 for c, _ in CATEGORIES} | {"other operators": 0.0}
            for e in prof.key_averages():
                if e.key.startswith("Optimizer.") or e.key.startswith("ProfilerStep"):
                    continue  # wrappers: their operators are counted on their own
                cat = next((c for c, prefixes in CATEGORIES if e.key.startswith(prefixes)), "other operators")
                shares[cat] += e.self_cpu_time_total / 1e6 / steps * 1e3  # ms per iteration
            out[side] = shares
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=["gan", "vae"], choices=sorted(TUTORIAL))
    p.add_argument("--iterations", type=int, default=10_000, help="iterations of each side (default 10000)")
    p.add_argument("--block", type=int, default=500, help="iterations per alternating block (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="instead: where N iterations' operator time goes on each side (ms per iteration)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from genzoo.data import load_dataset
    from genzoo.data.base import DataConfig

    data = load_dataset(DataConfig(name="mnist"), "train")
    if args.profile:
        print(f"operator self-CPU time per iteration (ms), torch.profiler over {args.profile} iterations, "
              f"{torch.get_num_threads()} thread(s); the profiler's own overhead is included")
        print("| model | side | " + " | ".join(c for c, _ in CATEGORIES) + " | other operators | all operators |")
        print("|---|---|" + "---|" * (len(CATEGORIES) + 2))
        for name in args.models:
            for side, shares in profile(name, data, args.profile, args.seed).items():
                print(f"| {name} | {side} | " + " | ".join(f"{v:.2f}" for v in shares.values())
                      + f" | {sum(shares.values()):.2f} |", flush=True)
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), MNIST, batch {MB_SIZE}, "
          f"{args.iterations} iterations per side in alternating blocks of {args.block}; process CPU time")
    print("| model | genzoo CPU s | tutorial CPU s | genzoo / tutorial: median per block (IQR; min-max) | blocks "
          "| bare loop CPU s (/ tutorial) | matmul MFLOP per iteration: genzoo, tutorial (ratio) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        r = compare(name, data, args.iterations, args.block, args.seed)
        print(f"| {name} | {r['genzoo_s']:.1f} | {r['tutorial_s']:.1f} | {r['ratio']:.3f} "
              f"({r['q1']:.3f}-{r['q3']:.3f}; {r['min']:.3f}-{r['max']:.3f}) | {r['blocks']} "
              f"| {r['bare_s']:.1f} ({r['bare_ratio']:.3f}) "
              f"| {r['genzoo_mflop']:.1f}, {r['tutorial_mflop']:.1f} ({r['genzoo_mflop'] / r['tutorial_mflop']:.3f}) |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
