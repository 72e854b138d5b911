"""The trainer: bitwise resume, crash-safe checkpoints, NaN detection, budgets, EMA."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from genzoo.errors import TrainingDiverged
from genzoo.train import Trainer
from genzoo.train.checkpoint import latest_checkpoint, load_checkpoint
from helpers import run_config


def _full_state(trainer):
    state = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    for i, opt in enumerate(trainer.optimizers):
        for pid, s in opt.state_dict()["state"].items():
            for k, v in s.items():
                state[f"opt{i}.{pid}.{k}"] = v
    return state


@pytest.mark.parametrize("model, extra", [("gan", {"d_steps": 2}), ("vae", {})])
def test_resume_is_bitwise_identical(model, extra, tmp_path):
    n = 12
    straight = Trainer(run_config(model, extra, steps=2 * n, ema=0.9), tmp_path / "a", progress=False)
    straight.fit()

    first = Trainer(run_config(model, extra, steps=n, ema=0.9), tmp_path / "b", progress=False)
    first.fit()
    resumed = Trainer(run_config(model, extra, steps=2 * n, ema=0.9), tmp_path / "b", progress=False)
    assert resumed.resume() and resumed.step == n
    resumed.fit()

    a, b = _full_state(straight), _full_state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    for k, v in straight.ema.shadow.items():
        assert torch.equal(v, resumed.ema.shadow[k])


def test_lr_halflife_halves_every_learning_rate_and_resumes_bitwise(tmp_path):
    cfg = run_config("gan", {"d_steps": 2}, steps=8, lr_halflife=4)
    straight = Trainer(cfg, tmp_path / "a", progress=False)
    straight.fit()
    # the last iteration (step 7) ran at 0.5 ** (7 / 4) of each group's rate
    assert [pg["lr"] for opt in straight.optimizers for pg in opt.param_groups] == [1e-3 * 0.5 ** (7 / 4)] * 2
    constant = Trainer(run_config("gan", {"d_steps": 2}, steps=8), tmp_path / "c", progress=False)
    constant.fit()
    assert not torch.equal(straight.model.G[0][0].weight, constant.model.G[0][0].weight)

    first = Trainer(cfg.override(["train.steps=3"]), tmp_path / "b", progress=False)
    first.fit()
    resumed = Trainer(cfg, tmp_path / "b", progress=False)
    assert resumed.resume() and resumed.step == 3
    resumed.fit()
    a, b = _full_state(straight), _full_state(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"


def test_dynamic_binarization_resumes_too(tmp_path):
    cfg = run_config("vae", steps=6).override(["data.binarize=dynamic"])
    a = Trainer(cfg, tmp_path / "a", progress=False)
    a.fit()
    b = Trainer(cfg.override(["train.steps=3"]), tmp_path / "b", progress=False)
    b.fit()
    b = Trainer(cfg, tmp_path / "b", progress=False)
    b.resume()
    b.fit()
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])


def test_nan_stops_with_step_and_loss_and_keeps_last_good_checkpoint(tmp_path):
    trainer = Trainer(run_config("vae", steps=10, checkpoint_every=10), tmp_path, progress=False)
    trainer.fit()
    good = latest_checkpoint(tmp_path / "checkpoints")
    trainer = Trainer(run_config("vae", steps=30, checkpoint_every=5, log_every=7), tmp_path, progress=False)
    trainer.resume()
    trainer.batches.x[:] = float("nan")  # every batch from step 11 on is poisoned
    with pytest.raises(TrainingDiverged, match=r"loss 'loss' became nan at step 11.*step_00000010\.pt"):
        trainer.fit()
    assert latest_checkpoint(tmp_path / "checkpoints") == good
    state = load_checkpoint(good)
    assert state["step"] == 10 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_minutes_budget_stops_early(tmp_path):
    trainer = Trainer(run_config("gan", steps=10**9, minutes=0.02), tmp_path, progress=False)
    t0 = time.monotonic()
    trainer.fit()
    assert time.monotonic() - t0 < 20 and 0 < trainer.step < 10**9
    assert load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))["step"] == trainer.step


def test_sigkill_while_checkpointing_always_leaves_a_loadable_latest(tmp_path):
    """Kill a run that checkpoints every step at random moments; `latest` must always load."""
    rng = random.Random(0)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "genzoo", "train", "--steps", "1000000", "--no-progress",
           "--set", "train.checkpoint_every=1", "--set", "train.keep_checkpoints=2", "--set", "train.tensorboard=false",
           "--set", "train.log_every=1000", "--set", "train.sample_every=1000000"]
    steps_seen = [0]
    for attempt in range(4):
        args = cmd + (["--resume", str(run)] if attempt else ["gan", "--data", "digits", "--out", str(tmp_path)])
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until this process has written a checkpoint of its own, then kill it at a random moment.
        deadline = time.monotonic() + 180  # start-up alone takes half a minute on a loaded machine
        while True:
            found = list(tmp_path.glob("gan-digits-*/checkpoints/latest"))
            if found and load_checkpoint(latest_checkpoint(found[0].parent))["step"] > steps_seen[-1]:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 180 s"
            time.sleep(0.02)
        run = found[0].parent.parent
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = load_checkpoint(latest_checkpoint(run / "checkpoints"))
        steps_seen.append(state["step"])
        assert len(list((run / "checkpoints").glob("step_*.pt"))) <= 3
    assert steps_seen == sorted(steps_seen) and steps_seen[-1] > steps_seen[0]


def test_sigterm_saves_and_resume_continues(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genzoo", "train", "vae", "--data", "digits", "--steps", "1000000", "--no-progress",
         "--out", str(tmp_path), "--set", "train.tensorboard=false"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180  # under load, start-up alone can take half a minute
    while not list(tmp_path.glob("vae-digits-*/config.yaml")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()  # saved, and unfinished: 128 + SIGTERM
    assert b"--resume" in err
    run = next(tmp_path.glob("vae-digits-*"))
    assert out.decode().strip() == str(run)
    step = load_checkpoint(latest_checkpoint(run / "checkpoints"))["step"]
    assert step > 0 and (run / "model" / "model.safetensors").exists()


@pytest.mark.parametrize("name", ["gan", "vae", "ssgan"])
def test_exported_model_carries_the_ema_weights(name, tmp_path):
    import genzoo
    from tiny_configs import TINY

    model_cfg, data = TINY[name]
    trainer = Trainer(run_config(name, model_cfg, data, steps=3, ema=0.9), tmp_path, progress=False)
    trainer.fit()
    saved = genzoo.load(tmp_path).state_dict()
    for k, v in trainer.ema.shadow.items():
        assert torch.equal(saved[k], v.cpu()), k
    assert any(not torch.equal(saved[k], v.cpu()) for k, v in trainer.model.state_dict().items()
               if k in trainer.ema.shadow), "export used the raw weights, not the EMA"
