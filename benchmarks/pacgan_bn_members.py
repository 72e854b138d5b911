"""PacGAN on the grid with G's batch norm per pack member, as the authors' code computes it.

genzoo generates the 100 m samples of a packed batch in one call of G, so G's batch-norm
statistics are over 100 m samples; the authors' code (PacGAN, Lin et al. 2018) calls G once per
member of the packs, 100 samples each. This experiment swaps genzoo's ``GAN.generate`` for one that
draws member j of every pack (rows j, j + m, j + 2m, ...) in its own call while G trains, and runs
``benchmarks/toy_modes.py``'s paper preset otherwise unchanged, appending its JSON lines to
``--out`` (one run; in evaluation mode batch norm uses its running statistics, so sampling is
unchanged). It asks whether this departure is why genzoo's packed generators do not sharpen on
the grid (docs/reproductions.md):

    python benchmarks/pacgan_bn_members.py --pack 4 --steps 12000 --out bn-members.jsonl
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import toy_modes  # noqa: E402
from genzoo.models.gan import GAN  # noqa: E402

_generate = GAN.generate


def generate_per_member(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    m = self.config.pack
    if m == 1 or not self.training or not self.config.g_batch_norm:
        return _generate(self, z, y)
    out = torch.empty(z.shape[0], *self.data_shape, dtype=z.dtype, device=z.device)
    for j in range(m):  # pack i is rows i m .. i m + m - 1, so its member j is row i m + j
        out[j::m] = _generate(self, z[j::m], y)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="2d-grid", choices=("2d-ring", "2d-grid"))
    p.add_argument("--pack", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=12_000)
    p.add_argument("--eval-every", type=int, default=2000)
    p.add_argument("--out", required=True, help="JSON lines file (appended)")
    a = p.parse_args(argv)
    GAN.generate = generate_per_member
    toy_modes.run_one("paper", a.data, "nonsaturating", a.pack, a.seed, a.steps, a.eval_every, Path(a.out), None)


if __name__ == "__main__":
    main()
