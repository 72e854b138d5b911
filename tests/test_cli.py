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
