"""Every registered model trains alike on 2 processes, on micro-batches and on one batch.

For each model of the registry with its tiny config (tests/tiny_configs.py), after a few steps:
(a) ``train.micro_batches=2`` equals one batch within 1e-6 (weights, buffers, optimizer moments)
    for models whose loss does not couple the examples of a batch (``couples_batch``);
(b) 2 gloo ranks under torchrun equal one process within 1e-6: one process on the whole batch,
    or for batch-coupled models one process with ``micro_batches=2`` (the ghost-batch rule);
(c) training leaves the global RNG as it found it.

One torchrun launch trains every model in turn (this file is its script, run with an output
folder); the one-process references run in the test process on one thread, like each rank, so
that matrix products sum in the same order. A model registered later is covered without edits.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))  # helpers and tiny_configs, also when run by torchrun

from genzoo import registry  # noqa: E402
from genzoo.config import RunConfig, TrainConfig, from_dict  # noqa: E402
from genzoo.data.base import DataConfig  # noqa: E402
from genzoo.errors import ConfigError  # noqa: E402
from genzoo.models.base import Batch, GenerativeModel, OptimGroup  # noqa: E402
from genzoo.registry import get_model_class, model_names  # noqa: E402
from genzoo.train import Trainer  # noqa: E402
from helpers import run_config  # noqa: E402
from tiny_configs import TINY  # noqa: E402

STEPS, BATCH, TOL = 3, 16, 1e-6
# Variants the tiny configs leave out: the gradient penalty's interpolation weights, instance
# noise, PacGAN's packing, and the semi-supervised GAN's labelled batches drawn with replacement.
EXTRA = {
    # (with SGD: a critic unit that is linear on every input of the batch has a bias gradient that
    # is zero up to rounding, and Adam would scale that rounding to a step differing by 1e-5)
    "gan+wgan-gp": ("gan", {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "d_steps": 2, "loss": "wgan-gp",
                            "optimizer": "sgd", "lr": 0.01}, "8gaussians"),
    "gan+instance-noise": ("gan", {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "instance_noise": 0.1}, "8gaussians"),
    # PacGAN packs consecutive examples of each shard: whole packs, so not a batch coupling
    "gan+pack": ("gan", {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "pack": 2}, "8gaussians"),
    "ssgan+mlp": ("ssgan", {"z_dim": 8, "arch": "mlp", "g_hidden": [16], "d_hidden": [16, 16],
                            "labelled_per_class": 2, "labelled_batch": 8}, "8gaussians"),
}


def cases() -> dict[str, tuple[str, dict, str]]:
    """Every registered model under its own name (a missing tiny config fails test_contract), plus EXTRA."""
    out = {name: (name, *TINY[name]) for name in model_names() if name in TINY}
    return {**out, **EXTRA}


def _config(case: str, *overrides: str):
    name, model_cfg, data = cases()[case]
    cfg = run_config(name, model_cfg, data, steps=STEPS, batch_size=BATCH, log_every=STEPS, grid_size=4,
                     dist_timeout_minutes=2.0)
    return cfg.override(list(overrides))


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Weights and buffers (batch-norm running statistics left out: ranks average theirs at a
    checkpoint, micro-batches update them in turn) and the optimizers' moment estimates."""
    out = {f"model.{k}": v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()
           if "running_" not in k and "num_batches_tracked" not in k}
    for i, opt in enumerate(trainer.optimizers):
        for pid, s in opt.state_dict()["state"].items():
            out.update({f"opt{i}.{pid}.{k}": v.cpu().clone() for k, v in s.items() if torch.is_tensor(v) and k != "step"})
    return out


def _difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> tuple[float, str]:
    """The largest difference and where it is: absolute, relative for tensors whose values exceed 1
    (float32 rounds a gradient moment of 10 to 1e-6 whatever the batch split)."""
    assert a.keys() == b.keys()
    def diff(x: torch.Tensor, y: torch.Tensor) -> float:
        if not x.numel():
            return 0.0
        x, y = x.double(), y.double()
        return float((x - y).abs().max() / max(1.0, float(y.abs().max())))
    return max((diff(a[k], b[k]), k) for k in a)


# -- the one-process references ----------------------------------------------------------
_REFERENCES: dict[tuple[str, int], tuple[dict, bool, bool]] = {}


def _reference(case: str, micro_batches: int, tmp: Path) -> tuple[dict, bool, bool]:
    """(state, couples_batch, global RNG untouched) of one process, on one thread."""
    key = (case, micro_batches)
    if key not in _REFERENCES:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            rng = torch.get_rng_state()
            trainer = Trainer(_config(case, f"train.micro_batches={micro_batches}"), tmp / f"{case}-m{micro_batches}",
                              progress=False)
            trainer.fit()
            _REFERENCES[key] = (_state(trainer), trainer.model.couples_batch, torch.equal(rng, torch.get_rng_state()))
        finally:
            torch.set_num_threads(threads)
    return _REFERENCES[key]


# -- the 2-rank runs: one launch for every model -------------------------------------------
class _Job:
    def __init__(self, out: Path) -> None:
        self.out = out
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", __file__, str(out)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out)
        self.output: str | None = None

    def result(self, case: str) -> dict[str, torch.Tensor]:
        if self.output is None:
            self.output, _ = self.proc.communicate(timeout=600)
        if (self.out / f"{case}.error").exists():
            pytest.fail(f"{case} under torchrun: {(self.out / f'{case}.error').read_text()}")
        assert (self.out / f"{case}.pt").exists(), f"no result for {case}; torchrun said:\n{self.output[-3000:]}"
        return torch.load(self.out / f"{case}.pt")


@pytest.fixture(scope="module")
def ddp_job(tmp_path_factory):
    job = _Job(tmp_path_factory.mktemp("ddp"))
    yield job
    if job.proc.poll() is None:
        job.proc.kill()
        job.proc.communicate()


@pytest.mark.parametrize("case", list(cases()))
def test_micro_batches_equal_one_batch(case, ddp_job, tmp_path_factory):
    tmp = tmp_path_factory.getbasetemp()
    whole, coupled, untouched = _reference(case, 1, tmp)
    assert untouched, f"training {case} changed the global RNG"
    if coupled:
        pytest.skip(f"{case} couples the examples of a batch: micro-batches are ghost batches")
    split, _, untouched = _reference(case, 2, tmp)
    assert untouched, f"training {case} on micro-batches changed the global RNG"
    worst, where = _difference(split, whole)
    assert worst < TOL, f"{case}: micro_batches=2 differs from one batch by {worst:.3g} in {where}"


@pytest.mark.parametrize("case", list(cases()))
def test_two_ranks_equal_one_process(case, ddp_job, tmp_path_factory):
    tmp = tmp_path_factory.getbasetemp()
    _, coupled, _ = _reference(case, 1, tmp)
    ref, _, _ = _reference(case, 2 if coupled else 1, tmp)
    worst, where = _difference(ddp_job.result(case), ref)
    against = "micro_batches=2 (ghost batches)" if coupled else "one process"
    assert worst < TOL, f"{case}: 2 ranks differ from {against} by {worst:.3g} in {where}"


# -- the guards: a model that breaks the contract is named --------------------------------
class Probe(GenerativeModel):
    """A linear model whose losses() breaks the contract as ``fault`` says (test only)."""

    @dataclass(frozen=True)
    class Config:
        fault: str = "none"  # none | inplace | global_rng | uneven

    def __init__(self, config: Config, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(config, data_shape, num_classes)
        self.w = nn.Parameter(torch.zeros(self.data_dim))

    def optimizer_groups(self) -> list[OptimGroup]:
        return [OptimGroup("loss", [self.w])]

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        fault = self.config.fault
        if fault == "inplace":  # an update that bypasses the optimizer (and the other ranks)
            with torch.no_grad():
                self.w.add_(1.0)
        elif fault == "global_rng":
            torch.randn(1)
        elif fault == "uneven":  # how much it draws depends on which shard it is
            self.rand_shared(1 + self.noise_slice[0])
        x = batch.x.flatten(1)
        return {"loss": (x @ self.w + self.randn(x.shape[0])).pow(2).mean()}

    @torch.no_grad()
    def sample(self, n, generator=None, *, z=None, labels=None):
        return self.w.new_zeros(n, *self.data_shape)


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setattr(Probe, "registry_name", "test-probe")
    monkeypatch.setitem(registry._MODELS, "test-probe", Probe)
    return lambda fault, **train: RunConfig("test-probe", Probe.Config(fault), DataConfig(name="digits"),
                                            TrainConfig(steps=2, batch_size=8, tensorboard=False, grid_size=4, **train))


@pytest.mark.parametrize("fault,message", [
    ("inplace", "test-probe: losses(batch, 'loss') changed parameter 'w' in place; a non-gradient update must be a StatisticsGroup"),
    ("uneven", "test-probe drew different amounts of training noise on micro-batches 0 and 1"),
])
def test_a_model_that_breaks_the_contract_is_named(probe, fault, message, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Trainer(probe(fault, micro_batches=2), tmp_path, progress=False).fit()


def test_a_model_drawing_from_the_global_rng_is_named_once(probe, tmp_path):
    with pytest.warns(RuntimeWarning, match="test-probe drew from torch's global RNG during a training step") as seen:
        Trainer(probe("global_rng"), tmp_path / "a", progress=False).fit()
    assert len([w for w in seen if "global RNG" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rng = torch.get_rng_state()
        Trainer(probe("none"), tmp_path / "b", progress=False).fit()
        assert torch.equal(rng, torch.get_rng_state())


def test_autoregressive_sampling_never_reseeds_the_global_rng():
    """Without a generator, a class-conditional pixel model draws its labels from the global RNG as
    torch.randint would (so a seed set by the caller reproduces them), never from torch.seed()."""
    name = "gated-pixelcnn"
    cls = get_model_class(name)
    model = cls(from_dict(cls.Config, TINY[name][0]), (1, 4, 4), 3).eval()
    assert model.conditional
    draws = []
    for _ in range(2):
        torch.manual_seed(7)
        draws.append((model.sample(6), torch.get_rng_state()))
    assert torch.equal(draws[0][0], draws[1][0]) and torch.equal(draws[0][1], draws[1][1])


def _run_every_case(out: Path) -> None:
    """torchrun's entry: train every case in turn on this rank; rank 0 saves each result."""
    rank = int(os.environ.get("RANK", 0))
    for case in cases():
        t0 = time.monotonic()
        try:
            trainer = Trainer(_config(case), out / case, progress=False)
            trainer.fit()
            if rank == 0:
                torch.save(_state(trainer), out / f"{case}.pt")
        except Exception as e:  # recorded for the test; the other cases still run
            if rank == 0:
                (out / f"{case}.error").write_text(f"{type(e).__name__}: {e}")
        if rank == 0:
            print(f"{case}: {time.monotonic() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    _run_every_case(Path(sys.argv[1]))
