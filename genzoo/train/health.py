"""Health warnings: once per condition, when it persists, with a summary at the end of the run.

A model reports what one log window shows (:meth:`~genzoo.models.base.GenerativeModel.health`);
the :class:`HealthMonitor` decides when that is worth a warning. A condition warns the first
time it has held in ``windows`` consecutive log windows spanning ``steps`` steps, and never
again in the run; :meth:`HealthMonitor.summary` then says, per condition that warned, when it
started, in how many windows it held and whether it still held at the end. A GAN's discriminator
that wins for a few hundred steps while the generator finds its feet is the normal first phase
of training, not a warning.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..models.base import Health


@dataclass
class _Condition:
    message: str
    first: int  # the step of the current streak's first window
    windows: int = 0  # windows in the current streak
    total: int = 0  # windows it held in, over the whole run
    warned_at: int | None = None
    last: int = 0  # the last window it held in


class HealthMonitor:
    """Tracks the conditions a model reports window by window; warns once per condition."""

    def __init__(self) -> None:
        self.conditions: dict[str, _Condition] = {}
        self.last_step = 0

    def update(self, step: int, report: Health | str | None) -> str | None:
        """Record the window ending at ``step``; the warning to print now, if one is due (else None)."""
        if isinstance(report, str):
            report = Health(report, report)
        self.last_step = step
        for key, c in self.conditions.items():
            if report is None or key != report.key:
                c.windows = 0  # the streak is broken
        if report is None:
            return None
        c = self.conditions.get(report.key)
        if c is None:
            c = self.conditions[report.key] = _Condition(report.message, step)
        if c.windows == 0:
            c.first = step
        c.windows += 1
        c.total += 1
        c.last = step
        c.message = report.message
        if c.warned_at is None and c.windows >= report.windows and step - c.first >= report.steps:
            c.warned_at = step
            return report.message
        return None

    def warned(self) -> dict[str, _Condition]:
        return {k: c for k, c in self.conditions.items() if c.warned_at is not None}

    def summary(self) -> list[str]:
        """One line per condition that warned: when, how often, and whether it held to the end."""
        lines = []
        for key, c in self.warned().items():
            end = "still at the end" if c.last == self.last_step and c.windows else f"last seen at step {c.last}"
            lines.append(f"{key}: warned at step {c.warned_at}, held in {c.total} log window(s), {end}")
        return lines
