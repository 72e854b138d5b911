"""The core figure: trainer against a plain PyTorch loop for the classic ``gan`` and ``vae`` at batch 64.

    python benchmarks/trainer_overhead.py               # MNIST, batch 64, 30 s per model

See benchmarks/throughput.py for the method (alternating blocks, medians of per-round ratios).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["--seconds", "30"], default_models=["gan", "vae"]))
