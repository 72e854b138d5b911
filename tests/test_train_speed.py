"""Speed options of the trainer: the self-checking --compile, micro-batches, channels_last, precision."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import genzoo.train.trainer as trainer_module
from genzoo.cli import _train_config, build_parser
from genzoo.errors import ConfigError
from genzoo.train import Trainer
from helpers import run_config

GAN_TINY = {"z_dim": 8, "g_hidden": [16], "d_hidden": [16], "d_steps": 2}


class FakeCompiled(nn.Module):
    """Stands in for torch.compile's result: the same model, with one group's loss scaled by ``factor``.

    A factor other than 1 is a compiler that silently returns wrong gradients.
    """

    def __init__(self, model: nn.Module, group: str, factor: float) -> None:
        super().__init__()
        self.model, self.group, self.factor, self.calls = model, group, factor, 0

    def forward(self, batch, group):
        self.calls += 1
        out = self.model(batch, group)
        if group == self.group:
            out = {**out, group: out[group] * self.factor}
        return out


def _fake_compiler(monkeypatch, group: str, factor: float) -> list[FakeCompiled]:
    made: list[FakeCompiled] = []

    def compile_model(model):
        made.append(FakeCompiled(model, group, factor))
        return made[-1]

    monkeypatch.setattr(trainer_module, "compile_model", compile_model)
    return made


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_compile_with_wrong_gradients_falls_back_with_a_warning(monkeypatch, tmp_path):
    eager = Trainer(run_config("gan", GAN_TINY, steps=4), tmp_path / "eager", progress=False)
    eager.fit()
    made = _fake_compiler(monkeypatch, "generator", 1.5)
    t = Trainer(run_config("gan", GAN_TINY, steps=4, compile=True), tmp_path / "compiled", progress=False)
    with pytest.warns(RuntimeWarning, match=r"differ from eager ones \(relative error 0\.5 in group 'generator'"):
        t.fit()
    assert t.compiled is None and all(f is t.model for f in t.forwards)
    assert made[0].calls == 2  # the check only: one forward per group
    # The check restored RNG, data order and buffers: the run equals one that never compiled.
    _assert_equal(_params(t), _params(eager))


def test_compile_with_correct_gradients_is_used(monkeypatch, tmp_path):
    eager = Trainer(run_config("gan", GAN_TINY, steps=4), tmp_path / "eager", progress=False)
    eager.fit()
    made = _fake_compiler(monkeypatch, "generator", 1.0)
    t = Trainer(run_config("gan", GAN_TINY, steps=4, compile=True), tmp_path / "compiled", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        t.fit()
    assert t.compiled is made[0] and all(f is made[0] for f in t.forwards)
    assert made[0].calls == 2 + 4 * 3  # the check, then 4 iterations of 2 D steps and 1 G step
    _assert_equal(_params(t), _params(eager))


@pytest.mark.slow
def test_real_torch_compile_trains_like_eager(tmp_path):
    eager = Trainer(run_config("vae", {"z_dim": 4, "hidden": [16]}, steps=3), tmp_path / "a", progress=False)
    eager.fit()
    t = Trainer(run_config("vae", {"z_dim": 4, "hidden": [16]}, steps=3, compile=True), tmp_path / "b", progress=False)
    t.fit()
    assert t.compiled is not None
    a, b = _params(eager), _params(t)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4


def test_cli_compile_flag_sets_the_config():
    args = build_parser().parse_args(["train", "vae", "--data", "digits", "--compile"])
    assert _train_config(args).train.compile is True
    args = build_parser().parse_args(["train", "vae", "--data", "digits"])
    assert _train_config(args).train.compile is False


def test_micro_batches_must_divide_the_batch(tmp_path):
    with pytest.raises(ConfigError, match="micro_batches=3 does not divide the per-process batch of 32"):
        Trainer(run_config("vae", steps=1, micro_batches=3), tmp_path, progress=False)


def test_fp16_is_refused_on_the_cpu(tmp_path):
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        Trainer(run_config("vae", steps=1, precision="fp16", device="cpu"), tmp_path, progress=False)


@pytest.mark.parametrize("has_bf16", [False, True, None])
def test_bf16_on_a_cpu_without_bf16_instructions_warns_once_at_set_up(monkeypatch, tmp_path, has_bf16):
    monkeypatch.setattr(trainer_module, "cpu_has_bf16", lambda: has_bf16)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        Trainer(run_config("vae", {"z_dim": 4, "hidden": [16]}, steps=1, precision="bf16", device="cpu"), tmp_path,
                progress=False)
    slow = [w for w in seen if "without bfloat16 instructions" in str(w.message)]
    assert len(slow) == (1 if has_bf16 is False else 0)
    if slow:
        assert "use train.precision=fp32" in str(slow[0].message)


def test_cpu_bf16_flags_are_read_from_cpuinfo():
    from genzoo.sysinfo import cpu_has_bf16

    assert cpu_has_bf16("model name : AMD EPYC\nflags : fpu sse avx2 fma\n") is False
    assert cpu_has_bf16("flags : fpu avx512f avx512_bf16 amx_bf16\n") is True
    assert cpu_has_bf16("Features : fp asimd bf16 i8mm\n") is True  # Arm
    assert cpu_has_bf16("processor : 0\n") is None  # no flags line: unknown, no warning


@pytest.mark.filterwarnings("ignore:train.precision=bf16 on a CPU without")  # the warning is tested above
def test_bf16_autocast_trains_and_stays_finite(tmp_path):
    t = Trainer(run_config("vae", {"z_dim": 4, "hidden": [16]}, steps=5, precision="bf16"), tmp_path, progress=False)
    t.fit()
    assert all(torch.isfinite(v).all() for v in t.model.state_dict().values())
    assert t.model.encoder[0][0].weight.dtype == torch.float32  # autocast, not a bf16 copy of the weights


def test_periodic_evaluation_is_logged_and_leaves_training_unchanged(tmp_path):
    import json

    tiny = {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}
    plain = Trainer(run_config("gan", tiny, data="8gaussians", steps=4), tmp_path / "a", progress=False)
    plain.fit()
    evaluated = Trainer(run_config("gan", tiny, data="8gaussians", steps=4, eval_every=2, eval_n=256),
                        tmp_path / "b", progress=False)
    evaluated.fit()
    rows = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in rows if any(k.startswith("eval/") for k in r)]
    assert [r["step"] for r in evals] == [2, 4] and all(r["train_time"] <= r["time"] for r in evals)
    _assert_equal(_params(evaluated), _params(plain))  # sampling for evaluation drew nothing from training's RNG


def test_minutes_budget_counts_training_time_not_evaluations(tmp_path, monkeypatch):
    """--minutes is a training budget: a slow evaluation (3 s against a 2.4 s budget) does not end the run."""
    import time

    tiny = {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}
    t = Trainer(run_config("gan", tiny, data="8gaussians", steps=100, eval_every=50, minutes=0.04),
                tmp_path / "a", progress=False)
    t._evaluator = lambda model: time.sleep(3.0) or {"fid": 0.0}
    t.fit()
    assert t.step == 100  # 100 tiny steps take far less than 2.4 s; each evaluation alone takes 3 s
    assert t.train_seconds() < 2.4 and t.state_dict()["eval_elapsed"] >= 6.0
