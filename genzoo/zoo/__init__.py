"""The model zoo: trained models that ship inside genzoo, each with its model card.

A zoo entry is a folder ``genzoo/zoo/NAME/`` shaped like a finished run folder, so every command
that takes a run takes it (``zoo:NAME``):

    config.yaml        the run config it was trained with (its dataset, for inpaint/latent/evaluate)
    model/             config.json + model.safetensors, what :func:`genzoo.load` reads
    recipe.yaml        a copy of ``recipes/NAME.yaml``, the recipe that trained it
    card.json          the model card, machine-readable: command, machine, budget, figures, sha256s
    card.md            the same for people
    grid.png           64 samples (seed 0)

Weights are offline and verified at every load: :func:`resolve` checks the sha256 of the model
files against ``card.json`` before anything reads them, as :mod:`genzoo.metrics.features` does
for the LeNet weights. ``scripts/build_zoo_entry.py`` builds an entry from a finished run
(export, evaluate, card, checksums), so every entry is reproducible with one command.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import GenzooError

ZOO_DIR = Path(__file__).parent
PREFIX = "zoo:"
CARD_VERSION = 1
# Files every entry has, and the ones whose sha256 is checked at every load.
VERIFIED = ("model/model.safetensors", "model/config.json", "config.yaml")
MAX_ENTRY_BYTES = 5 * 2**20  # 5 MiB per entry
MAX_ZOO_BYTES = 40 * 2**20  # 40 MiB in all


@dataclass(frozen=True)
class Entry:
    """One zoo model: its name, its folder and its card (card.json, parsed)."""

    name: str
    path: Path
    card: dict

    @property
    def headline(self) -> dict:
        """The card's headline figure: metric, value, spread, floor, n, seed."""
        return self.card["headline"]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def is_zoo_name(value: object) -> bool:
    """Whether ``value`` names a zoo entry (``zoo:NAME``) rather than a folder."""
    return isinstance(value, str) and value.startswith(PREFIX)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def names() -> list[str]:
    """The names of the entries that ship with this genzoo, sorted."""
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/card.json"))


def get(name: str) -> Entry:
    """The entry ``name`` (with or without ``zoo:``); a GenzooError lists the known names otherwise."""
    name = name[len(PREFIX):] if is_zoo_name(name) else name
    folder = ZOO_DIR / name
    if not name or "/" in name or name.startswith(".") or not (folder / "card.json").is_file():
        known = ", ".join(names()) or "none"
        raise GenzooError(f"no zoo model {name!r}; the zoo has: {known} (genzoo zoo list)")
    try:
        card = json.loads((folder / "card.json").read_text())
    except (OSError, ValueError) as e:
        raise GenzooError(f"zoo model {name}: cannot read {folder / 'card.json'}: {e}") from None
    return Entry(name, folder, card)


def entries() -> list[Entry]:
    """Every entry that ships with this genzoo."""
    return [get(n) for n in names()]


def verify(entry: Entry) -> None:
    """Check the entry's files against the sha256s of its card; a GenzooError names the file that differs."""
    pinned = entry.card.get("sha256") or {}
    for rel in VERIFIED:
        path = entry.path / rel
        if rel not in pinned:
            raise GenzooError(f"zoo model {entry.name}: its card pins no sha256 for {rel}")
        if not path.is_file():
            raise GenzooError(f"zoo model {entry.name}: {path} is missing; reinstall genzoo")
        actual = _sha256(path)
        if actual != pinned[rel]:
            raise GenzooError(f"zoo model {entry.name}: {path} has sha256 {actual[:12]}..., its card pins "
                              f"{pinned[rel][:12]}...: the file was changed or damaged; reinstall genzoo")


def resolve(value: str | Path) -> Path:
    """The folder to read for ``value``: a verified zoo entry's folder for ``zoo:NAME``, else ``value`` itself."""
    if not is_zoo_name(value):
        return Path(value)
    entry = get(str(value))
    verify(entry)
    return entry.path


def recipe_path(name: str) -> Path:
    """The recipe an entry was trained from, as shipped inside the entry (a copy of ``recipes/NAME.yaml``)."""
    return get(name).path / "recipe.yaml"


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def summary_line(entry: Entry) -> str:
    """One line: the entry's headline figure with its floor, how long it trained, and its grid."""
    h, c = entry.headline, entry.card
    floor = f" (real-data floor {_fmt(h['floor'])})" if h.get("floor") is not None else ""
    return (f"zoo:{entry.name}: {h['metric']} {_fmt(h['value'])}{floor}, {c.get('iterations', '?')} iterations in "
            f"{c.get('train_minutes', 0):.0f} minutes on {c.get('trained_on', {}).get('device', '?')}; "
            f"its samples: {entry.path / c.get('grid', 'grid.png')}")


def list_table() -> str:
    """One line per entry: name, model, headline figure with its spread and floor, training, size."""
    rows = [("name", "model", "headline (± spread; real-data floor)", "trained", "size")]
    for e in entries():
        h, c = e.headline, e.card
        fig = f"{h['metric']} {_fmt(h['value'])} ± {_fmt(h.get('spread'))}"
        if h.get("floor") is not None:
            fig += f" (floor {_fmt(h['floor'])})"
        trained = f"{c.get('iterations', '?')} it, {c.get('train_minutes', 0):.0f} min on {c.get('trained_on', {}).get('device', '?')}"
        rows.append((e.name, c.get("model", "?"), fig, trained, f"{e.size_bytes() / 2**20:.1f} MB"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.append("")
    lines.append("use a zoo model wherever a run goes: genzoo sample zoo:NAME; genzoo.load('zoo:NAME'); "
                 "the card: genzoo zoo show NAME")
    return "\n".join(lines)
