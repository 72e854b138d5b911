"""One picture of the zoo: every entry's 64-sample grid (seed 0) with its name and headline figure.

    python scripts/zoo_montage.py docs/models/img/zoo.png
"""
from __future__ import annotations

import sys

from genzoo import zoo
from genzoo.viz.grid import save_montage


def caption(entry: zoo.Entry) -> str:
    h = entry.headline
    unit = " nats" if h["metric"] == "nll" else ""
    return f"{entry.name}: {h['metric']} {h['value']:.4g}{unit}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    entries = zoo.entries()
    if not entries:
        print("the zoo is empty", file=sys.stderr)
        return 1
    print(save_montage([(caption(e), e.path / e.card.get("grid", "grid.png")) for e in entries], argv[0],
                       ncol=min(4, len(entries))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
