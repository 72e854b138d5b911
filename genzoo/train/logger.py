"""Scalars to a JSONL file (always) and TensorBoard (when installed); main process only."""
from __future__ import annotations

import json
import math
from pathlib import Path


class ScalarLogger:
    """Appends one JSON object per logged step to ``log.jsonl``; mirrors to TensorBoard if present."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, enabled: bool = True) -> None:
        self.enabled = enabled
        self.file = open(run_dir / "log.jsonl", "a") if enabled else None
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tensorboard"))
            except Exception:  # tensorboard is optional
                self.tb = None

    def log(self, step: int, scalars: dict[str, float], **extra) -> None:
        if not self.enabled:
            return
        row = {"step": step, **extra, **{k: (v if math.isfinite(v) else str(v)) for k, v in scalars.items()}}
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
