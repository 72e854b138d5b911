"""The GAN family's learning tests over several seeds: the figure each test asserts, per seed.

The tests (tests/test_gan_family.py, tests/test_learning.py) run one seed; their thresholds sit
below the worst seed measured here. The figures come from the tests' own ``*_figures`` functions,
so the script measures exactly what the tests assert. Prints one JSON line per (test, seed) and a
Markdown table (worst seed last column)::

    python benchmarks/gan_learning_seeds.py --seeds 0 1 2 3 4                # every test
    python benchmarks/gan_learning_seeds.py --tests ring:lsgan ring:softmax infogan --seeds 0 1 2 3 4

Test names: ``ring:LOSS`` (every objective on 2d-ring; ``ring:nonsaturating`` is
tests/test_learning.py's GAN test), ``infogan``, ``bigan``, ``ssgan``, ``cgan`` (needs MNIST).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_gan_family as fam  # noqa: E402


def figures(test: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        if test.startswith("ring:"):
            return fam.ring_figures(test.split(":", 1)[1], seed, Path(d))
        return getattr(fam, f"{test}_figures")(seed, Path(d))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tests", nargs="+", default=[f"ring:{k}" for k in fam.RING_RECIPES] + ["infogan", "bigan", "ssgan", "cgan"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--out", help="also append the JSON lines to this file")
    args = p.parse_args()
    rows = []
    for test in args.tests:
        for seed in args.seeds:
            t0 = time.time()
            f = figures(test, seed)
            row = {"test": test, "seed": seed, **f, "seconds": round(time.time() - t0, 1)}
            rows.append(row)
            line = json.dumps(row)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")
    print("\n| test | figure | " + " | ".join(f"seed {s}" for s in args.seeds) + " | worst |")
    print("|---|---|" + "---|" * (len(args.seeds) + 1))
    for test in args.tests:
        mine = [r for r in rows if r["test"] == test]
        for k in mine[0]:
            if k in ("test", "seed", "seconds", "modes_total"):
                continue
            vals = [r[k] for r in mine]
            worst = max(vals) if k == "mode_kl" else min(vals)
            fmt = (lambda v: f"{v:.3g}") if isinstance(vals[0], float) else str
            print(f"| {test} | {k} | " + " | ".join(fmt(v) for v in vals) + f" | {fmt(worst)} |")


if __name__ == "__main__":
    main()
