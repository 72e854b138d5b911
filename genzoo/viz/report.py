"""A self-contained HTML report of one run: opens from disk, needs no server and no network.

Sections: the resolved config, the logged scalars as inline SVG line charts (drawn here, so no
plotting dependency), the sample grids over training (PNG inlined as base64 data URIs), and the
metrics table with the real-data floor (from ``RUN/metrics.json``, written by ``genzoo evaluate``).
"""
from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

MAX_GRIDS = 12  # sample grids shown, evenly spaced over training (the last always included)
MAX_POINTS = 800  # points per curve: enough to see the shape, small enough to keep the file light

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.charts,.grids{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;text-align:center} figcaption{font-size:.85em;color:#555}
.grids img{width:240px;image-rendering:pixelated;border:1px solid #ccc}
.note{color:#666;font-size:.9em}
"""


def _e(s: object) -> str:
    return html.escape(str(s))


def read_log(path: Path) -> list[dict]:
    """The records of a ``log.jsonl``, skipping lines that are not JSON objects (a cut-off last line)."""
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict) and "step" in r:
                records.append(r)
    return records


def _series(records: list[dict]) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        for k, v in r.items():
            if k in ("step", "time") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if math.isfinite(v):
                series.setdefault(k, []).append((float(r["step"]), float(v)))
    return series


def _nice(v: float) -> str:
    return f"{v:.3g}"


def svg_line_chart(points: list[tuple[float, float]], title: str, width: int = 340, height: int = 200) -> str:
    """An inline SVG line chart of (step, value) points with min/max axis labels."""
    if len(points) > MAX_POINTS:
        stride = math.ceil(len(points) / MAX_POINTS)
        points = points[::stride] + [points[-1]]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 52, 10, 22, 28
    w, h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * h

    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    mid = (y0 + y1) / 2
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>'
        f'<text x="{left}" y="15" font-size="13" font-weight="bold">{_e(title)}</text>'
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>'
        f'<line x1="{left}" y1="{py(mid):.1f}" x2="{left + w}" y2="{py(mid):.1f}" stroke="#eee"/>'
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{_nice(y1)}</text>'
        f'<text x="{left - 4}" y="{py(mid) + 3:.1f}" font-size="10" text-anchor="end">{_nice(mid)}</text>'
        f'<text x="{left - 4}" y="{top + h}" font-size="10" text-anchor="end">{_nice(y0)}</text>'
        f'<text x="{left}" y="{height - 8}" font-size="10">{_nice(x0)}</text>'
        f'<text x="{left + w}" y="{height - 8}" font-size="10" text-anchor="end">step {_nice(x1)}</text>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{path}"/>'
        "</svg>"
    )


def _grids(samples: Path) -> list[tuple[str, Path]]:
    files = sorted(samples.glob("*.png")) if samples.is_dir() else []
    if len(files) > MAX_GRIDS:
        idx = sorted({round(i * (len(files) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)})
        files = [files[i] for i in idx]
    out = []
    for f in files:
        m = re.search(r"(\d+)", f.stem)
        out.append((f"step {int(m.group(1))}" if m else f.stem, f))
    return out


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return _e(v)


def metrics_table(result: dict) -> str:
    """The metrics of a ``metrics.json`` as an HTML table with the real-data floor column."""
    rows = result.get("rows") or []
    body = "".join(
        f"<tr><td>{_e(r['metric'])}</td><td>{_fmt(r['value'])}"
        + (f" ± {_fmt(r['std'])}" if r.get("std") is not None else "")
        + f"</td><td>{_fmt(r.get('floor'))}</td></tr>"
        for r in rows
    )
    fn = result.get("feature_network")
    notes = [f"n = {result.get('n')}, seed = {result.get('seed')}, reference: "
             f"{result.get('data')} / {result.get('reference_split')}"]
    if fn:
        notes.append(f"feature network: {fn['name']} ({fn['hash']}), layer {fn['layer']} ({fn['dim']}-d)")
    if result.get("floor_source"):
        notes.append(f"real-data floor: {result['floor_source']}")
    if result.get("nll"):
        nll = result["nll"]
        notes.append(f"NLL: {nll['nll_method']} on {nll['n']} test images, binarization {nll['binarization']}")
    return (
        '<table id="metrics"><thead><tr><th>metric</th><th>value</th><th>real-data floor</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
        + "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    )


def render_report(run: str | Path) -> str:
    """The report of ``run`` as one HTML string (everything inlined)."""
    run = Path(run)
    config_file = run / "config.yaml"
    config_text = config_file.read_text() if config_file.is_file() else "(no config.yaml)"
    series = _series(read_log(run / "log.jsonl"))
    charts = "".join(f"<figure>{svg_line_chart(pts, name)}</figure>" for name, pts in sorted(series.items()) if pts)
    grids = "".join(
        f'<figure><img alt="{_e(label)}" src="{_data_uri(path)}"><figcaption>{_e(label)}</figcaption></figure>'
        for label, path in _grids(run / "samples")
    )
    metrics_file = run / "metrics.json"
    if metrics_file.is_file():
        metrics_html = metrics_table(json.loads(metrics_file.read_text()))
    else:
        metrics_html = f'<p class="note">No metrics.json yet: run <code>genzoo evaluate {_e(run)}</code>.</p>'
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>genzoo report: {_e(run.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>genzoo report: {_e(run.name)}</h1>"
        "<h2>Metrics</h2>" + metrics_html
        + "<h2>Training curves</h2>"
        + (f'<div class="charts">{charts}</div>' if charts else '<p class="note">No log.jsonl records.</p>')
        + "<h2>Samples over training</h2>"
        + (f'<div class="grids">{grids}</div>' if grids else '<p class="note">No sample grids.</p>')
        + f"<h2>Resolved config</h2><pre>{_e(config_text)}</pre>"
        + "</body></html>"
    )


def write_report(run: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN/report.html`` (or ``out``) and return its path."""
    path = Path(out) if out is not None else Path(run) / "report.html"
    path.write_text(render_report(run), encoding="utf-8")
    return path
