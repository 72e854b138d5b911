"""The command line: every command works end to end; bad input is one line and exit status 2."""
import subprocess
import sys

import pytest

from genzoo.cli import main


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genzoo", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_train_sample_interpolate_round_trip(tmp_path, capsys):
    assert main(["train", "vae", "--data", "digits", "--steps", "30", "--out", str(tmp_path), "--no-progress",
                 "--set", "model.z_dim=2", "--set", "train.tensorboard=false"]) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1]
    assert run.endswith("vae-digits-001")
    assert main(["sample", run, "--n", "16", "--out", str(tmp_path / "g.png"), "--npz", str(tmp_path / "s.npz")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 100 and (tmp_path / "s.npz").exists()
    assert main(["interpolate", run, "--rows", "2", "--steps", "5", "--method", "linear"]) == 0
    assert main(["sample", run, "--label", "3"]) == 2  # the VAE is not class-conditional
    assert "not class-conditional" in capsys.readouterr().err
    assert (tmp_path / "vae-digits-001" / "interpolation.png").exists()
    # --resume continues to a larger step budget
    assert main(["train", "--resume", run, "--steps", "40", "--no-progress"]) == 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["train", "gan", "--data", "nosuchdata", "--steps", "1"], "unknown dataset 'nosuchdata'"),
        (["train", "gan", "--set", "model.z_dim=x"], "model.z_dim must be an integer"),
        (["train", "gan", "--steps", "ten"], "invalid int value"),
        (["sample", "/nonexistent/run"], "/nonexistent/run is not a saved genzoo model"),
        (["train", "--resume", "/nonexistent/run"], "/nonexistent/run/config.yaml"),
        (["data", "info", "cifar10x"], "unknown dataset"),
    ],
)
def test_bad_input_is_one_clear_line(args, needle, tmp_path):
    r = _run(*args, "--out", str(tmp_path)) if args[0] == "train" else _run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_every_command_has_help_with_an_example(capsys):
    for cmd in (["train"], ["sample"], ["interpolate"], ["list"], ["data", "fetch"], ["data", "info"], ["evaluate"],
                ["report"], ["inpaint"], ["latent"]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0 and "example:" in out and "genzoo " + cmd[0] in out


def test_list_shows_models_and_datasets():
    r = _run("list")
    assert r.returncode == 0 and "gan" in r.stdout and "vae" in r.stdout and "8gaussians" in r.stdout


def test_evaluate_and_report_a_toy_run(tmp_path, capsys):
    assert main(["train", "gan", "--data", "8gaussians", "--steps", "20", "--out", str(tmp_path), "--no-progress",
                 "--set", "train.tensorboard=false"]) == 0
    run = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["evaluate", run, "--n", "500", "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "modes_covered" in table and "mmd" in table
    import json
    from pathlib import Path

    result = json.loads((Path(run) / "metrics.json").read_text())
    assert result["n"] == 500 and "modes_covered" in result["metrics"]
    assert main(["report", run]) == 0
    assert (Path(run) / "report.html").stat().st_size > 1000
    assert main(["evaluate", "--real", "--nll-k", "3"]) == 2  # likelihood options need a run


def _train(model, tmp_path, capsys, *sets, steps="20"):
    args = ["train", model, "--data", "digits", "--steps", steps, "--out", str(tmp_path), "--no-progress",
            "--set", "train.tensorboard=false"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _png_size(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def test_inpaint_autoregressive_and_vae_runs(tmp_path, capsys):
    """Every mask name and a mask file, from a test index and from an image file; the grid grows with --n."""
    import numpy as np
    from PIL import Image

    ar = _train("pixelcnn", tmp_path, capsys, "model.channels=8", "model.blocks=1", "model.out_hidden=8")
    for mask in ("top", "bottom", "left", "right", "centre"):
        out = tmp_path / f"ar-{mask}.png"
        assert main(["inpaint", ar, "--image", "3", "--mask", mask, "--n", "2", "--out", str(out)]) == 0
    two, four = tmp_path / "two.png", tmp_path / "four.png"
    assert main(["inpaint", ar, "--image", "3", "--n", "2", "--out", str(two)]) == 0
    assert main(["inpaint", ar, "--image", "3", "--n", "4", "--out", str(four)]) == 0
    assert _png_size(four)[0] > _png_size(two)[0]  # original, masked, then one column per completion
    mask_png, image_png = tmp_path / "mask.png", tmp_path / "digit.png"
    m = np.full((8, 8), 255, np.uint8)
    m[4:, 2:6] = 0  # dark = hidden
    Image.fromarray(m).save(mask_png)
    Image.fromarray((np.eye(8) * 255).astype(np.uint8)).save(image_png)
    assert main(["inpaint", ar, "--image", str(image_png), "--mask", str(mask_png), "--n", "2",
                 "--out", str(tmp_path / "file.png")]) == 0
    vae = _train("vae", tmp_path, capsys, "model.z_dim=2", "model.hidden=[16]")
    assert main(["inpaint", vae, "--image", "0", "--mask", "left", "--n", "2", "--out", str(tmp_path / "v.png")]) == 0
    assert (tmp_path / "v.png").stat().st_size > 100


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--image", "0", "--mask", "diagonal"], "diagonal"),
        (["--image", "/nonexistent/digit.png"], "/nonexistent/digit.png"),
        (["--image", "999999"], "999999"),
        (["--image", "0", "--mask", "/nonexistent/mask.png"], "/nonexistent/mask.png"),
    ],
    ids=["mask-name", "image-file", "index", "mask-file"],
)
def test_inpaint_bad_input_names_the_value(args, needle, tmp_path, capsys):
    run = _train("pixelcnn", tmp_path, capsys, "model.channels=8", "model.blocks=1", "model.out_hidden=8", steps="2")
    assert main(["inpaint", run, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_latent_pictures_of_a_2d_vae(tmp_path, capsys):
    run = _train("vae", tmp_path, capsys, "model.z_dim=2", "model.hidden=[16]")
    for kind, extra in (("manifold", ["--n", "5"]), ("scatter", []), ("traverse", ["--n", "4", "--image", "1"]),
                        ("interpolate", ["--n", "4", "--image", "1", "--to", "2"])):
        out = tmp_path / f"{kind}.png"
        assert main(["latent", run, "--kind", kind, *extra, "--out", str(out)]) == 0, kind
        assert out.stat().st_size > 100, kind
    w, h = _png_size(tmp_path / "manifold.png")
    assert w == h  # a square grid of decoded latent points
    gan = _train("gan", tmp_path, capsys, "model.z_dim=4", "model.g_hidden=[8]", "model.d_hidden=[8]", steps="2")
    assert main(["latent", gan, "--kind", "scatter"]) == 2  # no encoder
    assert "encoder" in capsys.readouterr().err


def test_traverse_an_infogan(tmp_path, capsys):
    run = _train("infogan", tmp_path, capsys, "model.z_dim=8", "model.width=8", "model.q_hidden=8", steps="2")
    out = tmp_path / "t.png"
    assert main(["traverse", run, "--steps", "5", "--out", str(out)]) == 0
    w, h = _png_size(out)
    assert 1.8 < h / w < 2.2  # 10 rows (categorical values) by 5 columns (continuous values)


def test_sample_of_a_conditional_model_puts_one_class_per_row(tmp_path, capsys, monkeypatch):
    from genzoo.models.cvae import CVAE

    run = _train("cvae", tmp_path, capsys, "model.z_dim=2", "model.hidden=[16]", steps="2")
    seen = {}
    original = CVAE.sample

    def spy(self, n, generator=None, **kw):
        seen["labels"] = kw.get("labels")
        return original(self, n, generator, **kw)

    monkeypatch.setattr(CVAE, "sample", spy)
    assert main(["sample", run, "--n", "16", "--out", str(tmp_path / "c.png")]) == 0
    assert seen["labels"].tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert _png_size(tmp_path / "c.png")[0] == _png_size(tmp_path / "c.png")[1]  # 4 x 4
