"""The run report: self-contained HTML, rendered in headless Chromium where it is installed."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genzoo.viz.report import render_report, svg_line_chart, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _fake_run(tmp: Path) -> Path:
    run = tmp / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text("model: gan\ndata:\n  name: mnist\ntrain:\n  steps: 300\n")
    with open(run / "log.jsonl", "w") as f:
        for step in range(0, 300, 10):
            f.write(json.dumps({"step": step, "time": step * 0.1, "loss/discriminator": 1.4 - step / 600,
                                "loss/generator": 0.7 + step / 500}) + "\n")
        f.write('{"step": 30')  # a cut-off last line must not break the report
    rng = np.random.default_rng(0)
    for step in (100, 200, 300):
        Image.fromarray((rng.random((62, 62)) * 255).astype(np.uint8)).save(run / "samples" / f"step_{step:07d}.png")
    result = {
        "n": 1000, "seed": 0, "data": "mnist", "reference_split": "test",
        "feature_network": {"name": "lenet_mnist", "hash": "abcd1234", "layer": "fc1_preact", "dim": 128},
        "floor_source": "1000 mnist train images vs the test split",
        "rows": [{"metric": "fid", "value": 12.5, "std": None, "floor": 0.4},
                 {"metric": "kid", "value": 0.011, "std": 0.001, "floor": 0.0001}],
    }
    (run / "metrics.json").write_text(json.dumps(result))
    return run


def test_report_is_self_contained(tmp_path):
    run = _fake_run(tmp_path)
    page = write_report(run).read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert 'id="metrics"' in page and "real-data floor" in page and "12.5" in page
    assert page.count("<svg") == 2  # one chart per logged scalar
    assert "lenet_mnist (abcd1234)" in page and "steps: 300" in page
    # Nothing to fetch: no http(s) source or stylesheet link (the SVG namespace is not a fetch).
    assert not re.search(r'(src|href)="https?:', page)


def test_report_without_metrics_or_samples(tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    page = render_report(run)
    assert "No metrics.json yet" in page and "No sample grids" in page


def test_svg_chart_handles_flat_and_long_series():
    assert "<polyline" in svg_line_chart([(0, 1.0), (1, 1.0)], "flat")
    long = svg_line_chart([(i, float(i % 7)) for i in range(10_000)], "long")
    assert long.count(",") < 2000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); "
                    "the CI script installs it")
def test_report_renders_in_headless_chromium(tmp_path):
    run = _fake_run(tmp_path)
    page = write_report(run).read_text()
    # A probe (in a copy, not the report) records after load how many images decoded.
    probe = ("<script>window.addEventListener('load',()=>{const ok=[...document.images]"
             ".filter(i=>i.complete&&i.naturalWidth>0).length;document.body.setAttribute('data-decoded',ok);"
             "document.body.setAttribute('data-rows',document.querySelectorAll('#metrics tbody tr').length);"
             "document.body.setAttribute('data-svgs',document.querySelectorAll('svg polyline').length)});</script>")
    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", probe + "</body>"))
    profile = tempfile.mkdtemp()
    try:
        dom = subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probed.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
        shot = tmp_path / "shot.png"
        subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1200,1400", (run / "report.html").as_uri()],
                       capture_output=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert 'data-decoded="3"' in dom, dom[:500]
    assert 'data-rows="2"' in dom and 'data-svgs="2"' in dom
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 5  # the page drew something: text, charts and grids, not a blank page
