"""benchmarks/gpu_check.py and benchmarks/gpu_session.sh, dry-run on the CPU: every code path that the
GPU session takes, with tiny models and budgets (the figures mean nothing here; their shape does)."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import load_script

ROOT = Path(__file__).resolve().parent.parent


def _gpu_check():
    return load_script("benchmarks/gpu_check.py")


def test_smoke_throughput_measures_every_cell_trainer_and_plain(tmp_path):
    gc = _gpu_check()
    assert gc.main(["--smoke", "--out", str(tmp_path), "--phases", "env,throughput", "--models", "gan",
                    "--batches", "8", "--precisions", "fp32", "--budget", "300"]) == 0
    r = json.loads((tmp_path / "gpu_check.json").read_text())
    env = r["environment"]
    assert env["torch"] and env["device"] == "cpu" and env["cpu_cores"] >= 1 and r["smoke"] is True
    rows = r["throughput"]
    cells = {(x["model"], x["batch"], x["precision"], x["compile"], x["loop"]) for x in rows}
    assert cells == {("gan", 8, "fp32", c, loop) for c in (False, True) for loop in ("trainer", "plain")}
    for x in rows:
        assert "error" not in x, x
        assert x["images_per_s"] > 0 and x["steps"] >= 3
    assert all(x["compiled"] for x in rows if x["compile"] and x["loop"] == "trainer")  # the checked compile held
    md = (tmp_path / "gpu_check.md").read_text()
    assert "| gan | fp32 | yes |" in md and "| gan | fp32 | no |" in md and "trainer / plain over 2 cells" in md


def test_markdown_says_what_was_not_measured_and_why():
    gc = _gpu_check()
    rows = [{"model": "gan", "batch": 64, "precision": "fp32", "compile": False, "loop": "trainer", "images_per_s": 5000.0},
            {"model": "gan", "batch": 64, "precision": "fp32", "compile": False, "loop": "plain",
             "error": "not measured: the time budget was spent"}]
    md = gc.markdown({"throughput": rows, "throughput_settings": {"window": 0.5, "warmup": 3},
                      "dcgan": {"command": "genzoo train dcgan", "target": 50, "eval_n": 10000, "eval_every": 1500,
                                "reached": False, "minutes": 2.5, "iterations": 9000,
                                "best": {"step": 3000, "fid": 80.0, "train_s": 40.0},
                                "curve": [{"step": 3000, "train_s": 40.0, "fid": 80.0}]},
                      "errors": {"pixelcnn": "RuntimeError: out of memory"}})
    assert "| gan | fp32 | no | 5,000 / x |" in md
    assert "**not reached** in 2.5 minutes (9000 iterations); best FID 80.0 at step 3000" in md
    assert "- pixelcnn: RuntimeError: out of memory" in md


@pytest.mark.slow
def test_smoke_training_phases_record_the_dcgan_curve_and_the_pixelcnn_nll(tmp_path):
    gc = _gpu_check()
    assert gc.main(["--smoke", "--out", str(tmp_path), "--phases", "dcgan,pixelcnn", "--fid-target", "1e9"]) == 0
    r = json.loads((tmp_path / "gpu_check.json").read_text())
    assert "errors" not in r, r.get("errors")
    d = r["dcgan"]
    assert d["curve"] and d["reached"] and d["time_to_target_s"] == d["curve"][0]["train_s"]
    p = r["pixelcnn"]
    assert p["method"] == "exact" and p["n_test"] == 50 and 0 < p["nll_nats"] < 64 * 0.7 + 1  # below 1 bit/pixel
    md = (tmp_path / "gpu_check.md").read_text()
    assert "reached after" in md and "## PixelCNN after a fixed time" in md


@pytest.mark.slow
def test_session_dry_run_brings_back_the_check_and_the_runs(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PY": sys.executable}
    subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_session.sh"), "--dry-run"], env=env, check=True,
                   timeout=1200, capture_output=True)
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    assert files == ["gpu_check.json", "gpu_check.md", "session.log", "zoo-runs.tar.gz"]
    assert not [p for p in out.iterdir() if p.is_dir()]  # nothing the device tool would leave behind
    r = json.loads((out / "gpu_check.json").read_text())
    assert {"environment", "throughput", "dcgan", "pixelcnn"} <= set(r) and "errors" not in r
    with tarfile.open(out / "zoo-runs.tar.gz") as tar:
        names = tar.getnames()
    for name in ("pixelcnn", "dcgan"):
        run = f"gpu-zoo/{name}-mnist-001"
        for f in ("model/model.safetensors", "model/config.json", "config.yaml", "log.jsonl", "provenance.json"):
            assert f"{run}/{f}" in names, (run, f, names)
    assert not any("checkpoints" in n for n in names)
