"""Every bad value a user can give is one line on stderr naming it, exit status 2, and no traceback.

One table, one row per case: (case, argv, words the message must hold). ``{vae}``, ``{ar}``, ``{toy}``
name small trained runs and ``{tmp}`` a folder of prepared bad files. Rows run in-process through
``genzoo.cli.main`` (an exception escaping it fails the test with its traceback); a few run as real
processes to check what a user's shell sees.
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genzoo.cli import main

QUIET = ["--no-progress", "--set", "train.tensorboard=false"]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Bad files, and three tiny runs (a VAE with a 2-D latent, a PixelCNN, a toy GAN)."""
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "six").mkdir()
    for i in range(6):  # fewer than a batch (and than the 10 images an evaluation needs)
        Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(tmp / "six" / f"{i}.png")
    np.savez(tmp / "n5.npz", x=np.random.rand(100, 5).astype(np.float32))
    np.savez(tmp / "labels.npz", x=np.zeros((100, 8, 8), np.uint8), y=np.arange(100) * 10**7)
    np.savez(tmp / "nan.npz", x=np.full((100, 2), np.nan, np.float32))
    (tmp / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp / "negative.json").write_text(json.dumps({"model": "vae", "model_config": {"z_dim": -3}}))
    (tmp / "list.json").write_text(json.dumps({"model": "vae", "train": {"steps": [1, 2]}}))
    (tmp / "section.yaml").write_text("model: vae\nmodels_config: {z_dim: 2}\n")
    (tmp / "broken.yaml").write_text("model: vae\nmodel_config: {z_dim: [\n")  # YAML's own message has 5 lines
    (tmp / "empty").mkdir()
    (tmp / "text.png").write_text("not a picture")
    (tmp / "runs").mkdir()
    return tmp


@pytest.fixture(scope="module")
def runs(place):
    import shutil

    made = {
        "vae": _train(place, "vae", "digits", "model.z_dim=2", "model.hidden=[16]"),
        "ar": _train(place, "pixelcnn", "digits", "model.channels=8", "model.blocks=1", "model.out_hidden=8"),
        "toy": _train(place, "gan", "8gaussians", "model.z_dim=4", "model.g_hidden=[8]", "model.d_hidden=[8]"),
    }
    # Saved models whose model/config.json was edited by hand: {edited}-NAME
    for name, edit in {"negative": lambda m: m["config"].update(z_dim=-1), "list": lambda m: m.update(config=[1]),
                       "shape": lambda m: m.update(data_shape="abc")}.items():
        folder = place / f"edited-{name}"
        shutil.copytree(made["vae"], folder)
        meta = json.loads((folder / "model" / "config.json").read_text())
        edit(meta)
        (folder / "model" / "config.json").write_text(json.dumps(meta))
    return made


def _train(tmp, model: str, data: str, *sets: str) -> str:
    """Train a tiny run for 2 steps; its folder (module fixtures cannot use capsys, so stdout is redirected)."""
    argv = ["train", model, "--data", data, "--steps", "2", "--batch-size", "16", "--out", str(tmp / "runs"), *QUIET]
    for s in sets:
        argv += ["--set", s]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue().strip().splitlines()[-1]


T = ["--steps", "2", "--out", "{tmp}/runs", *QUIET]
CASES = [
    # -- train: values out of their declared range, from flags, --set and files
    ("batch-larger-than-folder", ["train", "gan", "--data", "{tmp}/six", *T], ["batch_size=64", "6 training examples", "six"]),
    ("batch-larger-than-limit", ["train", "vae", "--data", "digits", "--set", "data.limit=5", *T], ["batch_size=64", "5"]),
    ("z-dim-zero", ["train", "vae", "--data", "digits", "--set", "model.z_dim=0", *T], ["model.z_dim", "not 0"]),
    ("d-steps-zero", ["train", "gan", "--data", "digits", "--set", "model.d_steps=0", *T], ["model.d_steps", "not 0"]),
    ("lr-negative", ["train", "vae", "--data", "digits", "--set", "model.lr=-1", *T], ["model.lr", "> 0", "-1"]),
    ("lr-nan", ["train", "vae", "--data", "digits", "--set", "model.lr=nan", *T], ["model.lr", "nan"]),
    ("minutes-nan", ["train", "vae", "--data", "digits", "--minutes", "nan", *T], ["train.minutes", "nan"]),
    ("minutes-inf", ["train", "vae", "--data", "digits", "--minutes", "inf", *T], ["train.minutes", "inf"]),
    ("steps-negative", ["train", "vae", "--data", "digits", "--steps", "-5", "--out", "{tmp}/runs"], ["train.steps", "-5"]),
    ("seed-huge", ["train", "vae", "--data", "digits", "--seed", "99999999999999999999", *T], ["train.seed"]),
    ("hidden-empty", ["train", "vae", "--data", "digits", "--set", "model.hidden=[]", *T], ["model.hidden", "at least 1"]),
    ("hidden-negative", ["train", "vae", "--data", "digits", "--set", "model.hidden=[16,-4]", *T], ["model.hidden", "-4"]),
    ("even-kernel", ["train", "pixelcnn", "--data", "digits", "--set", "model.kernel=4", *T], ["model.kernel", "odd", "4"]),
    ("betas-one-value", ["train", "dcgan", "--data", "digits", "--set", "model.betas=[0.5]", *T], ["model.betas", "2 values"]),
    ("decoder-unknown", ["train", "vae", "--data", "digits", "--set", "model.decoder=poisson", *T], ["model.decoder", "poisson"]),
    ("device-cuda-absent", ["train", "vae", "--data", "digits", "--set", "train.device=cuda:99", *T], ["train.device=cuda:99"]),
    ("device-unknown", ["train", "vae", "--data", "digits", "--set", "train.device=tpu", *T], ["train.device", "tpu"]),
    ("eval-n-zero", ["train", "vae", "--data", "digits", "--set", "train.eval_n=0", *T], ["train.eval_n", "not 0"]),
    ("resize-zero", ["train", "vae", "--data", "digits", "--set", "data.resize=0", *T], ["data.resize", "not 0"]),
    ("resize-too-big-for-memory", ["train", "vae", "--data", "mnist", "--set", "data.resize=1024", *T], ["GiB", "data.resize"]),
    ("weights-too-big-for-memory", ["train", "vae", "--data", "digits", "--set", "model.hidden=[65536,65536,65536]", *T],
     ["GiB of weights"]),
    ("model-needs-labels", ["train", "cgan", "--data", "{tmp}/six", "--batch-size", "4", *T], ["labelled data"]),
    ("toy-size-zero", ["train", "gan", "--data", "8gaussians", "--set", "data.toy_size=0", *T], ["data.toy_size"]),
    ("config-negative-size", ["train", "--config", "{tmp}/negative.json", *T], ["negative.json", "model.z_dim", "-3"]),
    ("config-list-for-number", ["train", "--config", "{tmp}/list.json", *T], ["list.json", "train.steps", "[1, 2]"]),
    ("config-binary", ["train", "--config", "{tmp}/binary.bin", *T], ["binary.bin", "not a text"]),
    ("config-unknown-section", ["train", "--config", "{tmp}/section.yaml", *T], ["section.yaml", "models_config"]),
    ("config-a-folder", ["train", "--config", "{tmp}/empty", *T], ["empty"]),
    ("config-broken-yaml", ["train", "--config", "{tmp}/broken.yaml", *T], ["broken.yaml", "cannot read config"]),
    ("eval-metric-only-evaluate-computes", ["train", "gan", "--data", "8gaussians", "--set", "train.eval_every=100",
                                            "--set", "train.eval_metrics=nll", *T], ["train.eval_metrics", "nll"]),
    ("eval-metric-for-images-on-points", ["train", "gan", "--data", "8gaussians", "--set", "train.eval_every=100",
                                          "--set", "train.eval_metrics=fid", *T], ["train.eval_metrics", "fid"]),
    ("npz-five-columns", ["train", "gan", "--data", "{tmp}/n5.npz", *T], ["n5.npz", "(90, 5)"]),
    ("npz-labels-out-of-range", ["train", "cgan", "--data", "{tmp}/labels.npz", *T], ["labels.npz", "out of range"]),
    ("npz-nan-points", ["train", "gan", "--data", "{tmp}/nan.npz", *T], ["nan.npz", "NaN"]),
    ("data-binary-file", ["train", "gan", "--data", "{tmp}/binary.bin", *T], ["binary.bin"]),
    ("data-empty-folder", ["train", "gan", "--data", "{tmp}/empty", *T], ["empty"]),
    ("out-is-a-file", ["train", "vae", "--data", "digits", "--steps", "2", "--out", "{tmp}/binary.bin"], ["binary.bin"]),
    ("unknown-field", ["train", "vae", "--set", "model.nope=1", *T], ["model.nope"]),
    ("set-not-yaml", ["train", "vae", "--data", "digits", "--set", "model.z_dim=[1, 2", *T], ["model.z_dim=[1, 2", "not YAML"]),
    ("set-yaml-tag", ["train", "vae", "--data", "digits", "--set", "model.z_dim=!!python/object:os.system", *T],
     ["not YAML"]),
    ("data-empty-name", ["train", "vae", "--data", "", *T], ["data.name"]),
    ("conditional-without-labels", ["train", "gated-pixelcnn", "--data", "{tmp}/six", "--batch-size", "4",
                                    "--set", "model.conditional=true", *T], ["model.conditional", "labelled"]),
    # -- sample
    ("sample-n-zero", ["sample", "{vae}", "--n", "0"], ["--n", "not 0"]),
    ("sample-n-huge", ["sample", "{vae}", "--n", "100000000"], ["--n", "10000", "100000000"]),
    ("sample-seed-negative", ["sample", "{vae}", "--seed", "-1"], ["--seed", "-1"]),
    ("sample-out-folder", ["sample", "{vae}", "--out", "{tmp}/empty"], ["--out", "is a folder"]),
    ("sample-out-suffix", ["sample", "{vae}", "--out", "{tmp}/x.jpg2"], ["--out", "x.jpg2", ".png"]),
    ("sample-out-unwritable", ["sample", "{vae}", "--out", "{tmp}/binary.bin/x.png"], ["binary.bin"]),
    ("sample-label-unconditional", ["sample", "{vae}", "--label", "3"], ["not class-conditional"]),
    ("sample-not-a-model", ["sample", "{tmp}/empty"], ["empty", "not a saved genzoo model"]),
    ("model-config-negative", ["sample", "{tmp}/edited-negative"], ["model/config.json", "model.z_dim", "-1"]),
    ("model-config-list", ["sample", "{tmp}/edited-list"], ["model/config.json", "mapping"]),
    ("model-config-shape", ["evaluate", "{tmp}/edited-shape"], ["model/config.json", "data_shape"]),
    # -- interpolate, traverse
    ("interpolate-rows-zero", ["interpolate", "{vae}", "--rows", "0"], ["--rows", "not 0"]),
    ("interpolate-steps-one", ["interpolate", "{vae}", "--steps", "1"], ["--steps", "not 1"]),
    ("interpolate-too-many", ["interpolate", "{vae}", "--rows", "100000", "--steps", "100000"], ["10000000000 images"]),
    ("interpolate-no-latent", ["interpolate", "{ar}"], ["pixelcnn", "no latent"]),
    ("interpolate-points", ["interpolate", "{toy}"], ["points"]),
    ("traverse-no-codes", ["traverse", "{vae}"], ["vae", "no structured codes"]),
    ("traverse-span-nan", ["traverse", "{vae}", "--span", "nan"], ["--span", "nan"]),
    # -- inpaint
    ("inpaint-n-zero", ["inpaint", "{ar}", "--image", "0", "--n", "0"], ["--n", "not 0"]),
    ("inpaint-n-huge", ["inpaint", "{ar}", "--image", "0", "--n", "100000000"], ["--n", "100000000"]),
    ("inpaint-index-negative", ["inpaint", "{ar}", "--image", "-1"], ["--image", "-1"]),
    ("inpaint-index-too-big", ["inpaint", "{ar}", "--image", "999999"], ["--image", "999999"]),
    ("inpaint-image-not-a-picture", ["inpaint", "{ar}", "--image", "{tmp}/text.png"], ["text.png"]),
    ("inpaint-mask-unknown", ["inpaint", "{ar}", "--image", "0", "--mask", "diagonal"], ["--mask", "diagonal"]),
    ("inpaint-a-gan-of-points", ["inpaint", "{toy}", "--image", "0"], ["gan cannot complete"]),
    # -- latent
    ("latent-n-zero", ["latent", "{vae}", "--n", "0"], ["--n", "not 0"]),
    ("latent-n-huge", ["latent", "{vae}", "--n", "100000"], ["--n", "100000"]),
    ("latent-image-too-big", ["latent", "{vae}", "--kind", "traverse", "--image", "99999"], ["--image", "99999"]),
    ("latent-to-negative", ["latent", "{vae}", "--kind", "interpolate", "--to", "-5"], ["--to", "-5"]),
    ("latent-no-encoder", ["latent", "{ar}", "--kind", "scatter"], ["pixelcnn", "encoder"]),
    # -- evaluate
    ("evaluate-n-huge", ["evaluate", "{vae}", "--n", "100000000"], ["--n", "100000", "100000000"]),
    ("evaluate-n-one", ["evaluate", "{vae}", "--n", "1"], ["--n", "10"]),
    ("evaluate-nll-k-zero", ["evaluate", "{vae}", "--metrics", "nll", "--nll-k", "0"], ["--nll-k", "not 0"]),
    ("evaluate-nll-n-negative", ["evaluate", "{vae}", "--metrics", "nll", "--nll-n", "-5"], ["--nll-n", "-5"]),
    ("evaluate-nll-of-a-gan", ["evaluate", "{toy}", "--metrics", "nll"], ["gan", "no likelihood"]),
    ("evaluate-image-metric-on-points", ["evaluate", "{toy}", "--metrics", "fid"], ["fid", "2-D points"]),
    ("evaluate-label-accuracy-unconditional", ["evaluate", "{vae}", "--metrics", "label_accuracy"],
     ["label_accuracy", "class-conditional"]),
    ("evaluate-classifier-on-digits", ["evaluate", "{vae}", "--metrics", "classifier_score"], ["classifier_score", "digits"]),
    ("evaluate-nll-of-real-data", ["evaluate", "--real", "--data", "digits", "--metrics", "nll"], ["nll", "run folder"]),
    ("evaluate-unknown-metric", ["evaluate", "{vae}", "--metrics", "bogus"], ["bogus"]),
    ("evaluate-folder-of-runs", ["evaluate", "{tmp}/runs", "--no-progress"], ["neither a run folder", "run folders"]),
    ("evaluate-empty-folder", ["evaluate", "{tmp}/empty"], ["neither a run folder", "folder of images"]),
    ("evaluate-too-few-images", ["evaluate", "{tmp}/six", "--no-progress"], ["six", "6 image(s)", "at least 10"]),
    ("evaluate-nothing", ["evaluate"], ["needs a run folder"]),
    ("evaluate-data-for-a-run", ["evaluate", "{vae}", "--data", "mnist"], ["--data", "dataset it trained on"]),
    # -- report, data
    ("report-not-a-run", ["report", "{tmp}/empty"], ["empty", "not a run folder"]),
    ("report-folder-of-runs", ["report", "{tmp}/runs"], ["not a run folder", "holds runs", "name one of them"]),
    ("report-out-suffix", ["report", "{vae}", "--out", "{tmp}/r.txt"], ["r.txt", ".html"]),
    ("data-info-unknown", ["data", "info", "nosuch"], ["nosuch"]),
    ("data-info-npz-five-columns", ["data", "info", "{tmp}/n5.npz"], ["n5.npz"]),
]


def _fill(argv: list[str], place, runs) -> list[str]:
    return [a.format(tmp=place, **runs) for a in argv]


@pytest.mark.parametrize("case, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, argv, words, place, runs, capsys):
    capsys.readouterr()
    assert main(_fill(argv, place, runs)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for w in words:
        assert w.format(tmp=place) in err[0], f"{w!r} not in: {err[0]}"


def test_a_refused_run_leaves_no_folder(place, tmp_path, capsys):
    for argv in (["train", "cgan", "--data", str(place / "six"), "--batch-size", "4"],  # the model refuses the data
                 ["train", "gan", "--data", str(place / "six")]):  # the data hold no batch
        assert main([*argv, "--steps", "2", "--out", str(tmp_path), "--no-progress"]) == 2
    assert list(tmp_path.iterdir()) == [], "a refused config left a run folder behind"


def test_a_decompression_bomb_is_one_line(place, runs, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # so an 8x8 picture counts as a bomb
    assert main(["inpaint", runs["ar"], "--image", str(place / "six" / "0.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0.png" in err[0] and "exceeds limit" in err[0], err


@pytest.mark.parametrize("argv, words", [
    (["train", "vae", "--data", "digits", "--minutes", "nan", "--out", "{tmp}/runs"], ["train.minutes"]),
    (["sample", "{vae}", "--n", "abc"], ["invalid int value"]),
], ids=["config-value", "argparse"])
def test_bad_input_in_a_real_process(argv, words, place, runs):
    r = subprocess.run([sys.executable, "-m", "genzoo", *_fill(argv, place, runs)], capture_output=True, text=True,
                       timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]
