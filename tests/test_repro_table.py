"""benchmarks/likelihood_family.py repro-table: the rows of docs/reproductions.md's NADE/MADE table."""
import json

import pytest
from helpers import load_script


@pytest.fixture(scope="module")
def lf():
    return load_script("benchmarks/likelihood_family.py")


def _state(seed, history, test=None, done=False):
    best = min(history, key=lambda h: h[1])
    st = {"variant": "made-1hl-1mask", "seed": seed, "run": "x", "epochs": history[-1][0], "history": history,
          "best_epoch": best[0], "best_valid": best[1], "done": done}
    if test:
        st["test"] = test
    return st


def test_finished_seeds_give_mean_and_std_and_a_running_seed_says_so(lf, tmp_path, capsys):
    runs = {0: _state(0, [[1, 95.0, 1, 1], [2, 90.0, 1, 1], [3, 91.0, 1, 1]], {"0": 89.0, "1": 89.2}, True),
            1: _state(1, [[1, 96.0, 1, 1], [2, 91.0, 1, 1], [3, 92.0, 1, 1]], {"0": 90.0, "1": 90.2}, True),
            2: _state(2, [[1, 97.0, 1, 1]])}
    for seed, st in runs.items():
        (tmp_path / f"made-1hl-1mask-s{seed}").mkdir()
        (tmp_path / f"made-1hl-1mask-s{seed}" / "repro.json").write_text(json.dumps(st))
    png = tmp_path / "curve.png"
    lf.repro_table("made-1hl-1mask", str(tmp_path), str(png))
    out = capsys.readouterr().out
    assert "| 0 | 2 of 3 | 90.00 | 89.10 | 89.00, 89.20 | early-stopped |" in out
    assert "| 2 | 1 of 1 | 97.00 | - | - | running (1 epochs) |" in out
    # mean of 89.1 and 90.1, standard deviation with n - 1: 0.71
    assert "test NLL over 2 finished seed(s): 89.60 ± 0.71 nats (published: 88.4)" in out
    assert png.stat().st_size > 1000


def test_a_variant_without_runs_names_the_folder_and_the_command(lf, tmp_path):
    with pytest.raises(SystemExit, match=r"no nade-s\*/repro.json \(run `repro --variant nade` first\)"):
        lf.repro_table("nade", str(tmp_path), None)


def test_a_run_stopped_by_its_budget_says_so(lf, tmp_path, capsys):
    st = _state(0, [[1, 95.0, 1, 1], [2, 90.0, 1, 1]], {"0": 89.0}, True)
    st["stopped"] = "budget"
    (tmp_path / "made-1hl-1mask-s0").mkdir()
    (tmp_path / "made-1hl-1mask-s0" / "repro.json").write_text(json.dumps(st))
    lf.repro_table("made-1hl-1mask", str(tmp_path), None)
    assert "| 0 | 2 of 2 | 90.00 | 89.00 | 89.00 | stopped by the budget |" in capsys.readouterr().out


def test_stopping_a_run_that_never_trained_is_refused(lf, tmp_path):
    with pytest.raises(SystemExit, match="made-1hl-1mask-s3: nothing trained yet, nothing to stop"):
        lf.repro("made-1hl-1mask", 3, str(tmp_path), 1.0, 30, 1000, 100, 100, 1, 1, [], stop=True)


def _finished_run(tmp_path, best_epoch=2, epochs=4):
    """A repro folder as `repro` leaves it: the run trained `epochs` epochs of 500 steps, resumed at each."""
    folder = tmp_path / "nade-s0"
    run = folder / "nade-mnist-001"
    (run / "model").mkdir(parents=True)
    (run / "model" / "model.safetensors").write_bytes(b"last")
    (folder / "best").mkdir()
    (folder / "best" / "model.safetensors").write_bytes(b"best")
    steps = 500 * epochs
    rows = [json.dumps({"step": s, "time": s / 10}) + "\n" for s in range(100, steps + 1, 100)]
    (run / "log.jsonl").write_text("".join(rows))
    resumed = [{"step": 500 * e, "changed": {"train.steps": {"from": 500 * e, "to": 500 * (e + 1)}}}
               for e in range(1, epochs)]
    (run / "config.yaml").write_text(json.dumps({"model": "nade", "train": {"steps": steps, "batch_size": 100},
                                                 "resumed": resumed}))
    st = _state(0, [[e, 90.0 + abs(e - best_epoch), 1, 1] for e in range(1, epochs + 1)], {"0": 89.0}, True)
    st["run"] = str(run)
    (folder / "repro.json").write_text(json.dumps(st))
    return folder


def test_repro_best_cuts_the_run_at_its_best_epoch(lf, tmp_path, capsys):
    import yaml
    _finished_run(tmp_path)
    lf.repro_best("nade", 0, str(tmp_path), str(tmp_path / "zoo"))
    dest = tmp_path / "zoo" / "nade-mnist-001"
    assert capsys.readouterr().out.strip() == str(dest)
    assert (dest / "model" / "model.safetensors").read_bytes() == b"best"  # the weights early stopping kept
    steps = [json.loads(line)["step"] for line in (dest / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(100, 1001, 100))  # best epoch 2 of 500 steps each
    config = yaml.safe_load((dest / "config.yaml").read_text())
    assert config["train"]["steps"] == 1000 and [r["step"] for r in config["resumed"]] == [500]
    with pytest.raises(SystemExit, match="nade-mnist-001: already exists"):
        lf.repro_best("nade", 0, str(tmp_path), str(tmp_path / "zoo"))


def test_repro_best_refuses_a_run_that_has_not_ended(lf, tmp_path):
    folder = _finished_run(tmp_path)
    st = json.loads((folder / "repro.json").read_text())
    st["done"] = False
    (folder / "repro.json").write_text(json.dumps(st))
    with pytest.raises(SystemExit, match=r"nade-s0/repro.json: the run has not ended"):
        lf.repro_best("nade", 0, str(tmp_path), str(tmp_path / "zoo"))
    with pytest.raises(SystemExit, match=r"made-s0/repro.json: no such file"):
        lf.repro_best("made", 0, str(tmp_path), str(tmp_path / "zoo"))
