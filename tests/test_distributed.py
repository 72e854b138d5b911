"""Data-parallel training: 2 processes under torchrun (gloo, CPU) against 1 process.

Every rank draws the global batch's noise and data order and keeps its slice, and DDP
averages the gradients, so 2 ranks compute what 1 process computes on the same global batch
-- exactly, for a model without batch norm (the VAE). With batch norm each rank normalises
its own half of the batch: that is "ghost" batch norm, a different estimator from batch norm
over the whole batch, and what 1 process computes with ``train.micro_batches=2``. The test
asserts both facts for a GAN with batch norm in G and D: equal weights to the micro-batched
run, clearly different weights from the plain one.

Under faults: a rank that stalls ends the job within ``train.dist_timeout_minutes`` with one
line naming it, and slow work on rank 0 alone (progress grids) does not time out the others.
Every registered model's parity (ranks, micro-batches) is tests/test_parity.py.

Run as a script (``python tests/test_distributed.py train ...``), this file registers its
test-only model, injects the faults its environment asks for, and hands the arguments to the
genzoo command, so torchrun can launch it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from genzoo import registry
from genzoo.config import RunConfig
from genzoo.models.base import Batch, GenerativeModel, OptimGroup
from genzoo.train import Trainer
from genzoo.train.checkpoint import latest_checkpoint, load_checkpoint

BN_GAN = "test-bn-gan"
STEPS = 6


class BatchNormGAN(GenerativeModel):
    """A tiny MLP GAN with batch norm in both networks (test only; D sees real and fake together)."""

    @dataclass(frozen=True)
    class Config:
        z_dim: int = 8
        hidden: int = 32

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        h = config.hidden
        # No bias before batch norm (as in DCGAN): its gradient is zero up to rounding, and Adam
        # would turn that rounding noise into full-size steps that differ between any two runs.
        self.G = nn.Sequential(nn.Linear(config.z_dim, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, self.data_dim))
        self.D = nn.Sequential(nn.Linear(self.data_dim, h, bias=False), nn.BatchNorm1d(h), nn.LeakyReLU(0.2), nn.Linear(h, 1))

    def optimizer_groups(self) -> list[OptimGroup]:
        return [
            OptimGroup("discriminator", list(self.D.parameters()), lr=2e-3, betas=(0.5, 0.999), steps=2),
            OptimGroup("generator", list(self.G.parameters()), lr=2e-3, betas=(0.5, 0.999), fresh_batch=False),
        ]

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn_from(generator, n, self.config.z_dim)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        B = batch.x.shape[0]
        z = self.randn(B, self.config.z_dim)
        bce = nn.functional.binary_cross_entropy_with_logits
        if group == "discriminator":
            with torch.no_grad():
                fake = torch.sigmoid(self.G(z))
            d = self.D(torch.cat([batch.x.reshape(B, -1), fake])).squeeze(1)  # one forward: real and fake
            target = torch.cat([torch.ones(B, device=d.device), torch.zeros(B, device=d.device)])
            return {"discriminator": bce(d, target)}
        d = self.D(torch.sigmoid(self.G(z))).squeeze(1)
        return {"generator": bce(d, torch.ones_like(d))}

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        z = self.latent(n, generator) if z is None else z
        return torch.sigmoid(self.G(z)).view(n, *self.data_shape)


@pytest.fixture
def bn_gan(monkeypatch):
    """BatchNormGAN registered for the duration of one test."""
    monkeypatch.setattr(BatchNormGAN, "registry_name", BN_GAN)
    monkeypatch.setitem(registry._MODELS, BN_GAN, BatchNormGAN)
    return BN_GAN


def _train_args(model: str, out: Path, extra: list[str]) -> list[str]:
    return ["train", model, "--data", "digits", "--steps", str(STEPS), "--batch-size", "32", "--seed", "3",
            "--no-progress", "--out", str(out), "--set", "train.tensorboard=false", "--set", "train.log_every=3",
            "--set", "train.sample_every=1000000", "--set", "train.grid_size=4", *extra]


def _launch(entry: list[str], args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """Run 2 CPU ranks under torchrun (``env``: extra environment, e.g. the faults of _inject_faults)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "", **env}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", *entry, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)


def _torchrun(entry: list[str], args: list[str], tmp_path: Path, **env) -> Path:
    """Launch 2 CPU ranks under torchrun; return the run folder rank 0 wrote."""
    proc = _launch(entry, args, tmp_path, **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = [p for p in (tmp_path / "ddp").iterdir() if p.is_dir()]
    return run


def _one_process(run: Path, tmp_path: Path, name: str, overrides: list[str]) -> Trainer:
    """Train the 2-rank run's own config again in this process, on one thread like each rank.

    With equal thread counts the matrix products sum in the same order, and the results are
    bitwise equal; with 2 threads here they differ by rounding, which Adam can amplify to
    ~1e-6 in a few steps wherever a gradient is near zero.
    """
    cfg = RunConfig.load(run / "config.yaml").override(overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torchrun starts every rank with OMP_NUM_THREADS=1
    try:
        trainer = Trainer(cfg, tmp_path / name, progress=False)
        trainer.fit()
    finally:
        torch.set_num_threads(threads)
    return trainer


def _weights_and_moments(state: dict) -> dict[str, torch.Tensor]:
    """Parameters (not batch-norm statistics) and the optimizers' moment estimates."""
    out = {k: v for k, v in state["model"].items() if "running_" not in k and "num_batches" not in k}
    for i, opt in enumerate(state["optimizers"]):
        for pid, s in opt["state"].items():
            out.update({f"opt{i}.{pid}.{k}": v for k, v in s.items() if k != "step"})
    return out


def _max_difference(a: dict, b: dict) -> float:
    """The largest difference: absolute, relative for tensors whose values exceed 1 (float32 rounds an
    Adam moment of 10 to about 1e-6 whatever the batch split), as in tests/test_parity.py."""
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) / max(1.0, float(b[k].double().abs().max())) for k in a)


def _checkpoint(run: Path) -> dict:
    return load_checkpoint(latest_checkpoint(run / "checkpoints"))


def test_two_ranks_match_one_process_vae_and_resume(tmp_path):
    args = _train_args("vae", tmp_path / "ddp", ["--set", "model.z_dim=4", "--set", "model.hidden=[16]",
                                                 "--set", "data.binarize=dynamic", "--steps", str(STEPS // 2)])
    run = _torchrun(["-m", "genzoo"], args, tmp_path)
    assert _checkpoint(run)["step"] == STEPS // 2
    # Continue the interrupted 2-rank run on 2 ranks.
    _torchrun(["-m", "genzoo"], ["train", "--resume", str(run), "--steps", str(STEPS), "--no-progress"], tmp_path)
    ref = _one_process(run, tmp_path, "ref", [f"train.steps={STEPS}"])
    ddp_state, ref_state = _checkpoint(run), ref.state_dict()
    assert ddp_state["step"] == STEPS and ddp_state["world_size"] == 2
    assert _max_difference(_weights_and_moments(ddp_state), _weights_and_moments(ref_state)) < 1e-6
    # The logged loss is the mean over ranks: the one-process loss on the same global batch.
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    ref_logged = [json.loads(line) for line in (tmp_path / "ref" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [r["step"] for r in ref_logged] == [3, 6]
    for a, b in zip(logged, ref_logged):
        assert abs(a["loss"] - b["loss"]) < 1e-5 * abs(b["loss"])


def test_two_ranks_stop_together_on_a_minutes_budget(tmp_path):
    """--minutes under DDP: both ranks leave at the same step (a sync point), none waits forever."""
    args = _train_args("vae", tmp_path / "ddp", ["--set", "model.z_dim=4", "--set", "model.hidden=[16]",
                                                 "--set", "train.log_every=7", "--steps", "10000000",
                                                 "--minutes", "0.05"])
    run = _torchrun(["-m", "genzoo"], args, tmp_path)  # a rank left behind would hang until the timeout
    step = _checkpoint(run)["step"]
    assert step > 0 and step % 7 == 0  # the ranks compare notes every log_every steps


def test_two_ranks_with_batch_norm_are_one_process_with_two_micro_batches(bn_gan, tmp_path):
    run = _torchrun([__file__], _train_args(bn_gan, tmp_path / "ddp", []), tmp_path)
    ddp = _weights_and_moments(_checkpoint(run))
    ghost = _one_process(run, tmp_path, "ghost", ["train.micro_batches=2"])
    assert _max_difference(ddp, _weights_and_moments(ghost.state_dict())) < 1e-6
    # Batch norm over the whole batch is another estimator, and it shows after a few steps.
    whole = _one_process(run, tmp_path, "whole", [])
    assert _max_difference(ddp, _weights_and_moments(whole.state_dict())) > 1e-4
    # Running statistics were averaged over the ranks at the checkpoint: finite and sensible.
    var = _checkpoint(run)["model"]["D.1.running_var"]
    assert torch.isfinite(var).all() and (var > 0).all()


@pytest.mark.parametrize(
    "model,cfg",
    [
        ("gan", {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "d_steps": 2}),
        # the gradient penalty's interpolation weights are training noise too
        ("gan", {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "d_steps": 2, "loss": "wgan-gp"}),
    ],
    ids=["gan", "wgan-gp"],
)
def test_micro_batches_change_nothing_without_batch_norm(model, cfg, tmp_path):
    from helpers import run_config

    base = run_config(model, cfg, steps=5)
    whole = Trainer(base, tmp_path / "a", progress=False)
    whole.fit()
    split = Trainer(base.override(["train.micro_batches=4"]), tmp_path / "b", progress=False)
    split.fit()
    assert _max_difference(_weights_and_moments(whole.state_dict()), _weights_and_moments(split.state_dict())) < 1e-6


@pytest.mark.parametrize("draw", ["randn", "rand", "randint"])
def test_shards_of_training_noise_make_up_one_process_draw(draw):
    """Every per-example draw (normal noise, the WGAN-GP weights, ssgan's labelled indices) is
    the shard's slice of one global draw; shared draws are the same on every shard."""
    cls = registry.get_model_class("gan")
    model = cls(cls.Config(), (2,))
    call = {"randn": lambda n: model.randn(n, 3), "rand": lambda n: model.rand(n), "randint": lambda n: model.randint(50, n)}[draw]
    with model.drawing_from(torch.Generator().manual_seed(0)):
        whole, shared = call(8), model.rand_shared(5)
    parts = []
    for shard in range(4):
        with model.drawing_from(torch.Generator().manual_seed(0), shard, 4):
            parts.append(call(2))
            assert torch.equal(model.rand_shared(5), shared) and model.noise_slice == (shard, 4)
    assert torch.equal(torch.cat(parts), whole)
    assert model.noise_slice == (0, 1)  # outside the block: no source


def test_resuming_on_another_number_of_processes_warns_only_for_batch_coupled_models(bn_gan, tmp_path):
    from helpers import run_config

    for model, cfg, coupled in (("vae", {"z_dim": 4, "hidden": [16]}, False), (bn_gan, {}, True)):
        trainer = Trainer(run_config(model, cfg, steps=1), tmp_path / model, progress=False)
        state = {**trainer.state_dict(), "world_size": 2}
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            trainer.load_state_dict(state)
        ghost = [w for w in seen if "ghost batch" in str(w.message)]
        assert len(ghost) == int(coupled), [str(w.message) for w in seen]


VAE_TINY = ["--set", "model.z_dim=4", "--set", "model.hidden=[16]"]


@pytest.mark.parametrize("stalled", [1, pytest.param(0, marks=pytest.mark.slow)])
def test_a_stalled_rank_ends_the_job_with_a_line_naming_it(stalled, tmp_path):
    """One rank stops answering at step 3 (it sleeps 12 s): the other's gradient all-reduce gives up
    after train.dist_timeout_minutes (3 s here), a roll call (3 s) names the stalled rank, and the
    job ends (not after gloo's 30 minutes)."""
    args = _train_args("vae", tmp_path / "ddp", [*VAE_TINY, "--steps", "50", "--set", "train.dist_timeout_minutes=0.05"])
    proc = _launch([__file__], args, tmp_path, GENZOO_TEST_STALL=f"{stalled}:3:12")
    assert proc.returncode != 0
    other = 1 - stalled
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"genzoo train: error: rank {other}:")]
    reason = "did not check in" if other == 0 else "did not answer the roll call"
    assert lines == [f"genzoo train: error: rank {other}: a collective at step 3 waited 0.05 minutes "
                     f"(train.dist_timeout_minutes): rank {stalled} stalled ({reason} within 3 s); the job stops"], \
        proc.stderr[-3000:]


def test_slow_work_on_rank_0_does_not_time_out_the_others(tmp_path):
    """Progress grids that take 5 s on rank 0, against a 3 s timeout: the other rank waits (rank 0
    sends a heartbeat) and the run finishes."""
    args = _train_args("vae", tmp_path / "ddp", [*VAE_TINY, "--steps", "4", "--set", "train.sample_every=2",
                                                 "--set", "train.dist_timeout_minutes=0.05"])
    run = _torchrun([__file__], args, tmp_path, GENZOO_TEST_SLOW_GRID="5")
    assert _checkpoint(run)["step"] == 4 and len(list((run / "samples").glob("step_*.png"))) == 2


def _inject_faults() -> None:
    """Faults for the timeout tests, read from the environment: GENZOO_TEST_STALL=rank:step:seconds
    sleeps that rank at the start of that step; GENZOO_TEST_SLOW_GRID=seconds slows rank 0's grids."""
    from genzoo.train.trainer import Trainer as T

    if spec := os.environ.get("GENZOO_TEST_STALL"):
        rank, step, seconds = (float(v) for v in spec.split(":"))
        train_step = T.train_step

        def stalling(self):
            if self.info.rank == rank and self.step + 1 == step:
                time.sleep(seconds)
            return train_step(self)

        T.train_step = stalling
    if spec := os.environ.get("GENZOO_TEST_SLOW_GRID"):
        sample_grid = T.sample_grid

        def slow(self, path):
            time.sleep(float(spec))
            return sample_grid(self, path)

        T.sample_grid = slow


if __name__ == "__main__":  # torchrun's entry point for the test-only model and the injected faults
    from genzoo.cli import main

    registry.register(BN_GAN)(BatchNormGAN)
    _inject_faults()
    sys.exit(main(sys.argv[1:]))
