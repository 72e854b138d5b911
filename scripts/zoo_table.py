"""Print the zoo's table (README and docs/benchmarks.md) and each model page's "In the zoo" paragraph.

    python scripts/zoo_table.py                 # the table, links relative to the repository root
    python scripts/zoo_table.py --prefix ../    # links relative to docs/
    python scripts/zoo_table.py --page vae      # the paragraph for docs/models/vae.md

Every figure comes from the entries' card.json files, so the tables cannot drift from the cards.
"""
from __future__ import annotations

import argparse

from genzoo import zoo


def trained_on(card: dict) -> str:
    t = card["trained_on"]
    device = str(t.get("gpu") or t.get("device") or t.get("cpu") or "?")
    if "H200" in device:
        return "one H200"
    return "one CPU core" if not t.get("gpu") else device


def headline(card: dict) -> str:
    h = card["headline"]
    unit = " nats" if h["metric"] == "nll" else ""
    floor = f"; floor {h['floor']:.3g}" if h.get("floor") else ""
    text = f"{h['metric']} {h['value']:.4g}{unit} (± {h['spread']:.2g}{floor})"
    metrics = card["evaluation"]["metrics"]
    if "label_accuracy" in metrics:
        text += f", label accuracy {metrics['label_accuracy']['value']:.3f}"
    return text


def table(prefix: str) -> str:
    rows = ["| entry | model | headline figure (spread; floor) | trained | grid |", "|---|---|---|---|---|"]
    for e in zoo.entries():
        c = e.card
        rows.append(f"| `{e.name}` | `{c['model']}` | {headline(c)} | {c['iterations']:,} iterations, "
                    f"{c['train_minutes']:.1f} min on {trained_on(c)} | [grid]({prefix}genzoo/zoo/{e.name}/grid.png) |")
    return "\n".join(rows)


def page(model: str) -> str:
    parts = []
    for e in zoo.entries():
        c = e.card
        if c["model"] != model:
            continue
        h = c["headline"]
        unit = " nats" if h["metric"] == "nll" else ""
        floor = f" (real-data floor {h['floor']:.3g})" if h.get("floor") else ""
        parts.append(
            f"`zoo:{e.name}` ({c['iterations']:,} iterations, {c['train_minutes']:.1f} minutes on {trained_on(c)}; "
            f"recipe `{c['recipe']}`): {h['metric']} **{h['value']:.4g}{unit}**{floor}. `genzoo zoo show {e.name}` "
            f"has its card; `genzoo sample zoo:{e.name}` draws from it.\n\n"
            f'<img src="../../genzoo/zoo/{e.name}/grid.png" width="280" alt="{e.name} samples">')
    return "\n\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prefix", default="", help="prepended to the grid links (../ from docs/)")
    p.add_argument("--page", default=None, help="a model name: print its page's paragraph instead")
    a = p.parse_args()
    print(page(a.page) if a.page else table(a.prefix))


if __name__ == "__main__":
    main()
