"""Health warnings fire when training goes wrong, once per condition, with a summary at the end.

The normal first phase of the tutorial GAN (D wins for up to ten windows of 100 steps, seeds 0-4,
then G catches up) is no warning; the saturating minimax loss against a winning D is, after three
windows; a D that keeps winning for 3000 steps is, once.
"""
import json

import torch

from genzoo.models.base import Health
from genzoo.registry import get_model_class
from genzoo.train import Trainer
from genzoo.train.health import HealthMonitor
from helpers import run_config


def _gan(**cfg):
    cls = get_model_class("gan")
    return cls(cls.Config(**cfg), (2,))


def test_gan_conditions_depend_on_the_objective():
    ns, minimax = _gan(), _gan(loss="minimax")
    assert ns.health({"d_accuracy": 0.75, "d_real": 0.8, "d_fake": -0.7}) is None
    # D wins with the non-saturating loss: G still has a slope of ~1, so only persistence makes it a warning.
    wins = ns.health({"d_accuracy": 1.0, "d_real": 9.0, "d_fake": -9.0})
    assert wins.key == "discriminator wins" and wins.steps == 3000
    # The same window under the minimax loss: G's loss is flat at D's verdict (slope sigmoid(-9) = 1.2e-4).
    flat = minimax.health({"d_accuracy": 1.0, "d_real": 9.0, "d_fake": -9.0})
    assert flat.key == "vanishing generator gradient" and flat.steps == 0 and "minimax" in flat.message
    assert abs(minimax.generator_slope(-9.0) - float(torch.sigmoid(torch.tensor(-9.0)))) < 1e-7
    assert ns.health({"d_accuracy": 0.5, "d_real": 0.013, "d_fake": 0.013}).key == "discriminator stopped learning"
    # A WGAN critic separating the two is no warning: its accuracy has no fixed threshold, its slope is 1.
    assert _gan(loss="wgan").health({"d_accuracy": 1.0, "d_real": 0.1, "d_fake": -0.1}) is None


def test_monitor_warns_once_when_a_condition_persists_and_summarises():
    wins = Health("discriminator wins", "D wins", windows=3, steps=3000)
    m = HealthMonitor()
    # The tutorial GAN's first phase: D wins in 10 windows of 100 steps, then G catches up.
    assert [m.update(s, wins if 300 <= s <= 1200 else None) for s in range(100, 2100, 100)] == [None] * 20
    assert m.summary() == []
    # A D that keeps winning: one warning once the streak spans 3000 steps, then silence.
    fired = [(s, w) for s in range(2100, 8100, 100) if (w := m.update(s, wins))]
    assert fired == [(5100, "D wins")]
    assert m.summary() == ["discriminator wins: warned at step 5100, held in 70 log window(s), still at the end"]
    m.update(8100, None)
    assert m.summary()[0].endswith("last seen at step 8000")
    # A plain string is a condition keyed by its text, three windows by default.
    m2 = HealthMonitor()
    assert [m2.update(s, "bad") for s in (1, 2, 3, 4)] == [None, None, "bad", None]


def test_a_saturated_generator_is_warned_once_in_log_and_stderr(tmp_path, capsys):
    # A generator that cannot move (learning rate 0) against a D with 2 steps per iteration, minimax
    # loss: D soon rejects every fake and the generator's loss goes flat.
    cfg = run_config("gan", {"z_dim": 2, "g_hidden": [4], "d_hidden": [64], "d_steps": 2, "lr": 1e-2,
                             "loss": "minimax"}, "8gaussians", steps=120, batch_size=64, log_every=10)
    cfg = cfg.override(["data.toy_size=4096"])  # warned at step 70 when measured
    trainer = Trainer(cfg, tmp_path, progress=False)
    for g in trainer.optimizers[1].param_groups:
        g["lr"] = 0.0
    trainer.fit()
    rows = [json.loads(s) for s in (tmp_path / "log.jsonl").read_text().splitlines()]
    warned = [r for r in rows if "warning" in r]
    assert len(warned) == 1 and "minimax generator loss is flat" in warned[0]["warning"], rows[-1]
    err = capsys.readouterr().err
    assert err.count("minimax generator loss is flat") == 1
    assert f"health: vanishing generator gradient: warned at step {warned[0]['step']}" in err
    assert "still at the end" in err
