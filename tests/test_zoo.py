"""The zoo: every shipped entry loads, checks out against its card's sha256s and samples; zoo names
work wherever a run goes; a changed file is refused; the card's headline figure re-measures (slow)."""
import json
import shutil
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo import zoo
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.metrics.features import sha256_file
from genzoo.train import Trainer
from helpers import load_script, run_config

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = zoo.names()


def _build_script():
    return load_script("scripts/build_zoo_entry.py")


# ---------------------------------------------------------------- the shipped entries


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_loads_checks_out_and_samples(name):
    entry = zoo.get(name)
    zoo.verify(entry)
    card = entry.card
    for key in ("command", "recipe", "recipe_sha256", "trained_on", "budget", "iterations", "evaluation",
                "headline", "sha256", "storage"):
        assert key in card, f"{name}: card.json lacks {key}"
    assert entry.size_bytes() <= zoo.MAX_ENTRY_BYTES
    recipe = ROOT / card["recipe"]
    assert sha256_file(entry.path / "recipe.yaml") == card["recipe_sha256"]
    if recipe.is_file():  # the checked-in recipe is the one that trained the entry
        assert sha256_file(recipe) == card["recipe_sha256"], f"{recipe} changed since {name} was built"
    model = genzoo.load(f"zoo:{name}")
    assert model.registry_name == card["model"]
    # A pixel at a time (784 network passes) for an autoregressive model: one sample, drawn once
    # (tests/test_contract.py checks every model's sampling is a function of its generator).
    n = 1 if model.inpaint == "autoregressive" else 4
    a = model.sample(n, torch.Generator().manual_seed(0))
    b = a if n == 1 else model.sample(n, torch.Generator().manual_seed(0))
    assert a.shape == (n, *model.data_shape) and torch.isfinite(a).all() and torch.equal(a, b)
    if model.is_image:
        assert 0 <= float(a.min()) and float(a.max()) <= 1
    h = card["headline"]
    assert h["metric"] in card["evaluation"]["metrics"] and h["spread"] > 0


def test_every_registered_model_has_an_entry():
    from genzoo.registry import model_names

    shipped = {zoo.get(n).card["model"] for n in ENTRIES}
    missing = sorted(set(model_names()) - shipped)
    assert not missing, f"registered models without a zoo entry: {', '.join(missing)}"


def test_the_zoo_stays_small():
    assert sum(zoo.get(n).size_bytes() for n in ENTRIES) <= zoo.MAX_ZOO_BYTES


@pytest.mark.slow
@pytest.mark.parametrize("name", ENTRIES)
def test_headline_figure_is_reproduced_within_its_spread(name):
    from genzoo.metrics.evaluate import evaluate_run

    entry = zoo.get(name)
    h = entry.headline
    if h["metric"].startswith("nll") or h["metric"] == "neg_elbo":
        r = evaluate_run(zoo.resolve(f"zoo:{name}"), metrics="nll", seed=h["seed"], progress=False, write=False,
                         **h.get("nll_settings", {}))
    else:
        r = evaluate_run(zoo.resolve(f"zoo:{name}"), n=h["n"], seed=h["seed"], progress=False, write=False)
    value = r["metrics"][h["metric"]]
    assert abs(value - h["value"]) <= h["spread"], f"{name}: {h['metric']} {value} vs card {h['value']} ± {h['spread']}"


# ---------------------------------------------------------------- the machinery, on an entry made here


@pytest.fixture()
def tiny_zoo(tmp_path, monkeypatch):
    """A zoo holding one entry, ``tiny``: a small VAE trained on digits, with a card pinning its files."""
    run = tmp_path / "run"
    Trainer(run_config("vae", {"z_dim": 2, "hidden": [16]}, steps=20), run, progress=False).fit()
    folder = tmp_path / "zoo" / "tiny"
    shutil.copytree(run / "model", folder / "model")
    shutil.copyfile(run / "config.yaml", folder / "config.yaml")
    (folder / "recipe.yaml").write_text("model: vae\nmodel_config: {z_dim: 2, hidden: [16]}\ndata: {name: digits}\n"
                                        "train: {steps: 3, batch_size: 32, tensorboard: false}\n")
    card = {"name": "tiny", "model": "vae", "data": "digits", "iterations": 20, "train_minutes": 0.0,
            "trained_on": {"device": "CPU (test)"}, "sha256": {rel: sha256_file(folder / rel) for rel in zoo.VERIFIED},
            "headline": {"metric": "fid", "value": 1.0, "spread": 0.1, "floor": 0.5, "n": 100, "seed": 0}}
    (folder / "card.json").write_text(json.dumps(card))
    (folder / "card.md").write_text("# tiny\n")
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path / "zoo")
    return folder


def test_load_and_cli_take_zoo_names_and_write_outside_the_entry(tiny_zoo, tmp_path, monkeypatch, capsys):
    before = sorted(p.name for p in tiny_zoo.rglob("*"))
    model = genzoo.load("zoo:tiny")
    assert model.registry_name == "vae"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["sample", "zoo:tiny", "--n", "4"]) == 0
    assert main(["interpolate", "zoo:tiny", "--rows", "2", "--steps", "3"]) == 0
    assert main(["inpaint", "zoo:tiny", "--image", "0", "--n", "2"]) == 0  # the test set named by its config.yaml
    assert main(["latent", "zoo:tiny", "--kind", "manifold", "--n", "3"]) == 0
    assert main(["evaluate", "zoo:tiny", "--n", "100", "--metrics", "fid", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "fid" in out
    assert sorted(p.name for p in work.iterdir()) == ["tiny-inpaint.png", "tiny-interpolation.png",
                                                      "tiny-latent-manifold.png", "tiny-sample.png"]
    assert sorted(p.name for p in tiny_zoo.rglob("*")) == before  # nothing written into the entry


def test_zoo_list_show_and_an_unknown_name(tiny_zoo, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "fid 1 ± 0.1 (floor 0.5)" in out
    assert main(["zoo", "show", "tiny"]) == 0
    assert "# tiny" in capsys.readouterr().out
    assert main(["zoo", "show", "tiny", "--summary"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("zoo:tiny: fid 1 (real-data floor 0.5), 20 iterations") and line.endswith("grid.png")
    assert main(["sample", "zoo:nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no zoo model 'nope'; the zoo has: tiny" in err[0]


def test_zoo_train_retrains_from_the_shipped_recipe(tiny_zoo, tmp_path, capsys):
    assert main(["zoo", "train", "tiny", "--out", str(tmp_path / "runs"), "--no-progress"]) == 0
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    from genzoo.config import RunConfig

    cfg = RunConfig.load(run / "config.yaml")
    assert cfg.model == "vae" and cfg.model_config.hidden == (16,) and cfg.data.name == "digits"
    assert json.loads((run / "model" / "config.json").read_text())["genzoo_model"] == "vae"


def test_a_changed_file_is_refused_naming_it(tiny_zoo, capsys):
    weights = tiny_zoo / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(GenzooError, match=r"model\.safetensors has sha256 .* its card pins .* changed or damaged"):
        genzoo.load("zoo:tiny")
    assert main(["sample", "zoo:tiny"]) == 2
    assert "changed or damaged" in capsys.readouterr().err


def test_export_stores_fp16_and_leaves_out_the_discriminator(tmp_path):
    """A GAN entry without D (the card says so) loads, and samples what the run's model samples, to fp16 precision."""
    run = tmp_path / "run"
    Trainer(run_config("gan", {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}, steps=5), run, progress=False).fit()
    info = _build_script().export(run, tmp_path / "entry", "fp16", ["D."])
    assert info["omitted"] == ["D."] and info["parameters_stored"] < info["parameters_total"]
    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "entry" / "model" / "model.safetensors"))
    assert not any(k.startswith("D.") for k in stored) and all(v.dtype == torch.float16 for v in stored.values())
    a = genzoo.load(run).sample(8, torch.Generator().manual_seed(1))
    b = genzoo.load(tmp_path / "entry").sample(8, torch.Generator().manual_seed(1))
    assert (a - b).abs().max() < 1e-2 and info["dtype"] == "float16"


def test_export_names_the_precision_it_stored_and_a_mixture_samples_without_its_em_statistics(tmp_path):
    """A mixture's float64 parameters stay float64 under --dtype fp16, and the card must say so; its EM
    sufficient statistics (needed only to go on training) can be left out."""
    run = tmp_path / "run"
    Trainer(run_config("gmm", {"components": 3, "covariance": "bernoulli"}, data="digits", steps=3), run,
            progress=False).fit()
    info = _build_script().export(run, tmp_path / "entry", "fp16", ["s0", "s1", "s2"])
    assert info["dtype"] == "float64" and info["parameters_stored"] < info["parameters_total"]
    a = genzoo.load(run).sample(8, torch.Generator().manual_seed(1))
    b = genzoo.load(tmp_path / "entry").sample(8, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_restamp_rewrites_the_summary_and_notes_and_nothing_verified(tmp_path):
    """``--restamp`` takes the summary from the recipe's opening comment and adds notes; weights untouched."""
    name = ENTRIES[0]
    shutil.copytree(zoo.get(name).path, tmp_path / name)
    before = {rel: sha256_file(tmp_path / name / rel) for rel in zoo.VERIFIED}
    (tmp_path / name / "recipe.yaml").write_text("# " + name + ": a model of tests.\n# Train: x\nmodel: vae\n")
    assert _build_script().main([name, "--restamp", "--zoo-dir", str(tmp_path), "--note", "measured: 1 (cmd)"]) == 0
    card = json.loads((tmp_path / name / "card.json").read_text())
    assert card["summary"] == "A model of tests." and card["notes"] == ["measured: 1 (cmd)"]
    md = (tmp_path / name / "card.md").read_text()
    assert "A model of tests." in md and "## Notes\n\n- measured: 1 (cmd)" in md
    assert {rel: sha256_file(tmp_path / name / rel) for rel in zoo.VERIFIED} == before


def test_a_recipe_may_spell_out_a_default_at_the_value_that_ran_and_nothing_else():
    same = _build_script().same_settings
    old = {"model": "dcgan", "model_config": {"width": 16}, "train": {"steps": 10}}
    ran = {"model_config": {"width": 16, "pack": 2}, "train": {"steps": 10, "lr_halflife": 0}}
    assert same({**old, "train": {"steps": 10, "lr_halflife": 0}}, old, ran)  # written out as it ran
    assert not same({**old, "train": {"steps": 10, "lr_halflife": 500}}, old, ran)  # another value
    assert not same({**old, "train": {"steps": 11}}, old, ran)
    assert not same({"model": "dcgan", "model_config": {"width": 16}}, old, ran)  # a setting dropped
    assert not same({**old, "model": "gan"}, old, ran)
