"""The run folder: broken pointers, the lock, what may change on resume, sampling a killed run,
exit statuses after a signal, failed writes, and records of the settings that ran."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import genzoo
from genzoo.cli import main
from genzoo.config import RunConfig
from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.models.base import Batch
from genzoo.train import Trainer
from genzoo.registry import get_model_class
from genzoo.train.checkpoint import latest_checkpoint, load_checkpoint
from genzoo.train.run_folder import resume_changes
from helpers import run_config
from tiny_configs import TINY

VAE = {"z_dim": 4, "hidden": [16]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A VAE run at step 4 with checkpoints at steps 2 and 4 (copied by each test that changes it)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    Trainer(run_config("vae", VAE, steps=4, checkpoint_every=2, log_every=2), run, progress=False).fit()
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run", symlinks=True))


def _snapshot(run: Path) -> dict:
    """What a refused resume must leave alone."""
    files = [p for p in run.rglob("*") if p.is_file() and p.name != ".lock"]
    return {p.relative_to(run): p.read_bytes() for p in files}


def _resume(run: Path, *extra: str) -> int:
    return main(["train", "--resume", str(run), "--no-progress", *extra])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _ckpt(run: Path) -> dict:
    return load_checkpoint(latest_checkpoint(run / "checkpoints"))


@pytest.fixture
def alarm():
    """Fail instead of hanging: SIGALRM after 60 s interrupts a blocking open()."""
    def timeout(signum, frame):
        raise TimeoutError("resume hung")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _break(pointer: Path, how: str) -> None:
    if how == "missing":
        pointer.unlink()
    elif how == "no-checkpoints":
        shutil.rmtree(pointer.parent)
    elif how == "empty":
        pointer.write_text("")
    elif how == "garbage":
        pointer.write_bytes(b"\x00\xff\xfe not a name \x01")
    elif how == "directory":
        pointer.unlink()
        pointer.mkdir()
    elif how == "fifo":
        pointer.unlink()
        os.mkfifo(pointer)
    elif how == "outside":
        pointer.write_text("../../elsewhere/step_00000004.pt")
    elif how == "names-missing":
        pointer.write_text("step_00000099.pt")


@pytest.mark.parametrize("how, says", [
    ("missing", "latest is missing"),
    ("no-checkpoints", "has no checkpoint to resume from"),
    ("empty", "latest is empty"),
    ("garbage", "does not name a checkpoint"),
    ("directory", "is a directory"),
    ("fifo", "not a regular file"),
    ("outside", "points outside"),
    ("names-missing", "names step_00000099.pt, which does not exist"),
])
def test_a_broken_latest_is_one_line_that_says_what_to_do_and_changes_nothing(run, how, says, capsys, alarm):
    pointer = run / "checkpoints" / "latest"
    _break(pointer, how)
    before = _snapshot(run)
    assert _resume(run, "--steps", "8") == 2
    line = _one_line(capsys)
    assert says in line and str(run) in line, line
    # What to do: starting over is the user's explicit choice, named in the message.
    assert f"genzoo train --config {run / 'config.yaml'}" in line
    if how not in ("no-checkpoints",):
        assert "echo step_00000004.pt > " in line  # the newest intact checkpoint, to resume from
    assert _snapshot(run) == before  # no step-0 restart, model/ and log.jsonl untouched


def test_unreadable_or_foreign_checkpoints_are_one_line(run, tmp_path, capsys):
    other = tmp_path / "gan"
    Trainer(run_config("gan", TINY["gan"][0], steps=2), other, progress=False).fit()
    target = run / "checkpoints" / "step_00000004.pt"
    shutil.copy(latest_checkpoint(other / "checkpoints"), target)
    assert _resume(run, "--steps", "8") == 2
    assert "is a checkpoint of model 'gan', not 'vae'" in _one_line(capsys)

    state = load_checkpoint(target)
    del state["config"]  # an old checkpoint with no config: the weights themselves do not fit
    torch.save(state, target)
    assert _resume(run, "--steps", "8") == 2
    assert "does not fit the run's config" in _one_line(capsys)

    target.write_bytes(b"PK\x03\x04 garbage")
    assert _resume(run, "--steps", "8") == 2
    assert f"cannot read checkpoint {target}" in _one_line(capsys)


@pytest.mark.parametrize("args, field", [
    (["--set", "model.z_dim=8"], "model.z_dim"),
    (["--set", "model.decoder=gaussian"], "model.decoder"),
    (["--set", "model.optimizer=sgd"], "model.optimizer"),
    (["--set", "data.name=8gaussians"], "data.name"),
    (["--set", "data.binarize=dynamic"], "data.binarize"),
    (["--batch-size", "16"], "train.batch_size"),
    (["--seed", "1"], "train.seed"),
    (["--set", "train.ema=0.9"], "train.ema"),
])
def test_resume_refuses_a_field_that_may_not_change(run, args, field, capsys):
    before = _snapshot(run)
    assert _resume(run, "--steps", "8", *args) == 2
    line = _one_line(capsys)
    assert line.startswith(f"genzoo train: error: {field} cannot change when resuming"), line
    assert f"genzoo train --config {run / 'config.yaml'} --set {field}=" in line
    assert _snapshot(run) == before


def test_resume_applies_and_records_accepted_changes(run):
    assert _resume(run, "--steps", "6", "--set", "model.lr=0.01", "--set", "train.log_every=3") == 0
    state = _ckpt(run)
    assert state["step"] == 6
    assert [g["lr"] for opt in state["optimizers"] for g in opt["param_groups"]] == [0.01]  # applied, not just written
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["train"]["steps"] == 6 and cfg["train"]["log_every"] == 3 and cfg["model_config"]["lr"] == 0.01
    assert cfg["resumed"] == [{"step": 4, "changed": {
        "model.lr": {"from": 0.001, "to": 0.01},
        "train.steps": {"from": 4, "to": 6},
        "train.log_every": {"from": 2, "to": 3},
    }}]
    assert [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())] == [2, 4, 6]
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["config"]["lr"] == 0.01 and meta["step"] == 6
    # A second resume adds to the history; the changes that stayed are not changes any more.
    assert _resume(run, "--steps", "8") == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["resumed"][1] == {"step": 6, "changed": {"train.steps": {"from": 6, "to": 8}}}
    assert cfg["model_config"]["lr"] == 0.01 and _ckpt(run)["optimizers"][0]["param_groups"][0]["lr"] == 0.01


def test_a_run_older_than_a_field_resumes_with_what_it_trained(run, monkeypatch):
    """A field a run's config.yaml lacks is newer than the run: it ran at the field's own default,
    whatever the model's training defaults have become since."""
    monkeypatch.setattr(get_model_class("vae"), "train_defaults", {"lr_halflife": 7})
    record = yaml.safe_load((run / "config.yaml").read_text())
    del record["train"]["lr_halflife"]
    (run / "config.yaml").write_text(yaml.safe_dump(record))
    assert RunConfig.load(run / "config.yaml").train.lr_halflife == 7  # a recipe takes the model's defaults
    assert RunConfig.load(run / "config.yaml", record=True).train.lr_halflife == 0  # a record does not
    assert _resume(run, "--steps", "6") == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["resumed"] == [
        {"step": 4, "changed": {"train.steps": {"from": 4, "to": 6}}}]
    # A checkpoint older than a field: asking for another value than the field's default is a change.
    saved = _ckpt(run)["config"]
    del saved["train"]["lr_halflife"], saved["train"]["batch_size"]
    given = RunConfig.from_dict({**saved, "train": {**saved["train"], "lr_halflife": 7}})
    changes = resume_changes(saved, given, given, run / "ckpt", run / "config.yaml")
    assert changes == {"train.lr_halflife": (0, 7)}
    given = RunConfig.from_dict({**saved, "train": {**saved["train"], "batch_size": 3}})
    with pytest.raises(GenzooError, match=r"train\.batch_size cannot change"):
        resume_changes(saved, given, given, run / "ckpt", run / "config.yaml")


def test_killed_run_holds_its_lock_until_it_dies_then_samples_and_resumes(tmp_path, capsys):
    """SIGKILL mid-run: the lock goes with the process, model/ is the last checkpoint's, resume works."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genzoo", "train", "vae", "--data", "digits", "--steps", "1000000", "--no-progress",
         "--out", str(tmp_path), "--set", "model.z_dim=4", "--set", "model.hidden=[16]", "--set",
         "train.checkpoint_every=3", "--set", "train.tensorboard=false", "--set", "train.sample_every=1000000"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180  # start-up on a loaded machine takes a while
        while True:
            found = list(tmp_path.glob("vae-digits-*/checkpoints/latest"))
            if found and _ckpt(found[0].parent.parent)["step"] >= 6:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint at step 6 within 180 s"
            time.sleep(0.05)
        run = found[0].parent.parent
        # A second process on the folder in use: one line naming the folder and the holder.
        assert _resume(run, "--steps", "1000") == 2
        line = _one_line(capsys)
        assert f"{run} is in use by process {proc.pid}" in line, line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    latest = _ckpt(run)["step"]
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["step"] % 3 == 0 and 3 <= meta["step"] <= latest  # a checkpoint's weights, never a torn export
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert main(["interpolate", str(run), "--rows", "1", "--steps", "2", "--out", str(tmp_path / "i.png")]) == 0
    assert _resume(run, "--steps", str(latest + 1)) == 0  # the kernel released the dead holder's lock
    assert _ckpt(run)["step"] == latest + 1


class _PoisonAfter:
    """The trainer's batch stream, with NaN data from batch ``after + 1`` on."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after, self.n = inner, after, 0

    def __next__(self) -> Batch:
        b = next(self.inner)
        self.n += 1
        return b if self.n <= self.after else Batch(torch.full_like(b.x, float("nan")), b.y)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def test_a_nan_stop_leaves_model_at_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(run_config("vae", VAE, steps=30, checkpoint_every=2, log_every=1), tmp_path, progress=False)
    trainer.batches = _PoisonAfter(trainer.batches, 5)
    with pytest.raises(TrainingDiverged, match="at step 6.*step_00000004.pt"):
        trainer.fit()
    meta = json.loads((tmp_path / "model" / "config.json").read_text())
    assert meta["step"] == 4 == _ckpt(tmp_path)["step"]
    model = genzoo.load(tmp_path)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert torch.isfinite(model.sample(2, torch.Generator().manual_seed(0))).all()


def test_sigint_saves_then_exits_130(tmp_path):
    """Ctrl-C saves and exits 130, so a script can tell it from a finished run (SIGTERM, 143: test_train.py)."""
    sig, status = signal.SIGINT, 130
    proc = subprocess.Popen(
        [sys.executable, "-m", "genzoo", "train", "vae", "--data", "digits", "--steps", "1000000", "--no-progress",
         "--out", str(tmp_path), "--set", "model.z_dim=4", "--set", "model.hidden=[16]",
         "--set", "train.tensorboard=false"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 180
    while not any(p.stat().st_size for p in tmp_path.glob("vae-digits-*/log.jsonl")):  # 100 steps are done
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    run = next(tmp_path.glob("vae-digits-*"))
    assert proc.returncode == status, err
    assert out.strip() == str(run) and f"stopped by {sig.name}" in err and "--resume" in err
    step = _ckpt(run)["step"]
    assert step > 0 and json.loads((run / "model" / "config.json").read_text())["step"] == step


def _full_disk(monkeypatch, needle: str) -> None:
    """fsync of a file whose path holds ``needle`` fails as on a full disk."""
    real = os.fsync

    def fsync(fd):
        if needle in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if ".tmp" in p.name]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to tell which file is written")
@pytest.mark.parametrize("needle", ["step_00000006.pt", "model.safetensors"])
def test_a_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(run, needle, monkeypatch, capsys):
    _full_disk(monkeypatch, needle)
    assert _resume(run, "--steps", "10", "--set", "train.checkpoint_every=2") == 2
    line = _one_line(capsys)
    assert f"cannot write {run}" in line and needle in line and "No space left on device" in line, line
    assert not _temporaries(run)
    monkeypatch.undo()
    # The checkpoint before the failed write loads, and model/ still loads.
    assert _ckpt(run)["step"] == (4 if needle.startswith("step") else 6)
    assert json.loads((run / "model" / "config.json").read_text())["step"] == 4
    genzoo.load(run)
    assert _resume(run, "--steps", "8") == 0 and _ckpt(run)["step"] == 8


def test_a_read_only_run_folder_is_one_line(run, monkeypatch, capsys):
    if os.geteuid() == 0:  # root writes through permissions: refuse the lock's open as a read-only folder would
        real = os.open

        def read_only(path, flags, *args, **kwargs):
            if str(path).startswith(str(run)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", read_only)
    else:
        for p in [run, *run.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
    before = _snapshot(run)
    try:
        assert _resume(run, "--steps", "8") == 2
    finally:
        monkeypatch.undo()
        for p in [run, *run.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
    line = _one_line(capsys)
    assert f"cannot write {run / '.lock'}: Permission denied" in line, line
    assert _snapshot(run) == before and not _temporaries(run)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to tell which file is written")
def test_evaluate_prints_its_results_when_metrics_json_cannot_be_written(tmp_path, monkeypatch, capsys):
    Trainer(run_config("gan", TINY["gan"][0], "8gaussians", steps=2), tmp_path, progress=False).fit()
    _full_disk(monkeypatch, "metrics.json")
    assert main(["evaluate", str(tmp_path), "--n", "200", "--metrics", "modes", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "modes" in captured.out  # the table was printed
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"cannot write {tmp_path / 'metrics.json'}: No space left on device" in lines[0]
    assert not (tmp_path / "metrics.json").exists() and not _temporaries(tmp_path)


# -- records of what ran ---------------------------------------------------------------------------


def _nulls(d, where="") -> list[str]:
    if isinstance(d, dict):
        return [w for k, v in d.items() for w in _nulls(v, f"{where}.{k}")]
    return [where] if d is None or d == "auto" else []


def test_saved_configs_record_the_resolved_settings(tmp_path):
    cfg = run_config("dcgan", TINY["dcgan"][0], steps=1)
    assert _nulls(cfg.to_dict()["model_config"])  # the asked-for config has auto/None settings
    trainer = Trainer(cfg, tmp_path, progress=False)
    trainer.fit()
    recorded = yaml.safe_load((tmp_path / "config.yaml").read_text())["model_config"]
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert not _nulls(recorded) and not _nulls(saved["config"]) and not _nulls(_ckpt(tmp_path)["config"]["model_config"])
    assert recorded["lr"] == trainer.groups[0].lr and recorded["optimizer"] == "adam"
    assert recorded["layout"] == trainer.model.layout == "allconv"  # 8x8 digits
    assert recorded["d_norm"] == "batch" and recorded["d_steps"] == 1 and recorded["depth"] >= 1
    assert saved["format_version"] == 2 and saved["config"] == recorded
    # Resuming with the auto settings again changes nothing (they resolve to what was recorded).
    again = Trainer(cfg.override(["train.steps=2"]), tmp_path, progress=False)
    assert again.resume()
    again.fit()
    history = yaml.safe_load((tmp_path / "config.yaml").read_text())["resumed"]
    assert history == [{"step": 1, "changed": {"train.steps": {"from": 1, "to": 2}}}]


def test_format_1_folders_load_and_newer_formats_are_refused(tmp_path, capsys):
    Trainer(run_config("gan", TINY["gan"][0], steps=1), tmp_path, progress=False).fit()
    model_dir = tmp_path / "model"
    meta = json.loads((model_dir / "config.json").read_text())
    resolved = genzoo.load(tmp_path)
    # Format 1: the settings were saved unresolved (null) and no step was recorded.
    old = {**meta, "format_version": 1, "config": {**meta["config"], "lr": None, "betas": None, "optimizer": None,
                                                   "d_steps": None}}
    del old["step"]
    (model_dir / "config.json").write_text(json.dumps(old))
    loaded = genzoo.load(tmp_path)
    assert loaded.resolved_config() == resolved.config
    g = torch.Generator().manual_seed(0)
    assert torch.equal(loaded.sample(3, g), resolved.sample(3, torch.Generator().manual_seed(0)))
    (model_dir / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    assert main(["sample", str(tmp_path)]) == 2
    assert "format_version 99, newer than this genzoo reads (up to 2)" in _one_line(capsys)


@pytest.mark.slow  # two ranks start up; the lock itself is tested without torchrun above
def test_under_torchrun_rank_0_holds_the_lock_and_every_rank_stops(run, tmp_path):
    """A folder in use: both ranks of a torchrun resume stop with one line each, none waits for the other."""
    from genzoo.train.run_folder import RunFolder

    holder = RunFolder(run)
    holder.lock()  # this process stands for a training that holds the folder
    try:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "genzoo",
             "train", "--resume", str(run), "--steps", "8", "--no-progress"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    finally:
        holder.unlock()
    assert proc.returncode != 0
    # The two ranks write to one stderr, so their lines can land on one line: count the messages.
    errors = proc.stderr.split("genzoo train: error:")[1:]
    # (torchrun itself prints a traceback of its ChildFailedError; none comes from genzoo)
    assert len(errors) == 2 and "genzoo/" not in proc.stderr, proc.stderr[-3000:]
    assert any(f"{run} is in use by process {os.getpid()}" in m for m in errors), errors
    assert _ckpt(run)["step"] == 4
