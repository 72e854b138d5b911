"""PacGAN on the toy sets in a plain loop, with each of genzoo's departures from the authors' code switchable.

genzoo's packed generators did not sharpen on the grid (docs/reproductions.md): with ``pack=4`` and
the paper's networks its discriminator stayed at chance (loss 2 ln 2, scores near 0) for 30,000
iterations, where the unpacked one left chance after about 2,000. This script trains the paper
preset of ``benchmarks/toy_modes.py`` (genzoo's ``gan`` model, the same G and D modules and
initialisation) in a loop written out here, so that each place where genzoo's trainer departs from
the authors' code (PacGAN, Lin et al. 2018; ALI's ``ali_algorithm``) can be switched on its own:

- ``--update``: ``alternating`` (genzoo: a D step, then a G step on a fresh latent batch against
  the updated D) or ``simultaneous`` (the authors: both players' gradients taken at the same
  parameters, on the same batch and latent draw, then both applied);
- ``--real-packs``: ``regrouped`` (genzoo: consecutive points of each epoch's shuffle form a pack)
  or ``fixed`` (the authors: m independent resamplings with replacement of the 100,000 points,
  drawn once, the packs' order shuffled each epoch);
- ``--bn``: ``one-call`` (genzoo: the 100 m fakes of a batch in one call of G) or ``per-member``
  (the authors: member j of every pack in its own call, so batch statistics over 100).

It evaluates G in eval mode every ``--eval-every`` iterations on 2,500 samples from one fixed latent
draw with genzoo's mode metrics (``genzoo.metrics.toy.mode_metrics``) and logs D's loss and
accuracy averaged over the window; one JSON line per evaluation is appended to ``--out``:

    python benchmarks/pacgan_departures.py --pack 4 --update simultaneous --steps 8000 --out F.jsonl

``--probe-blur S`` asks the question under all of them: can the paper's D, from its initialisation,
learn to tell the data from the same mixture blurred (each mode's std S instead of the data's), when
it judges packs of m? It trains D alone (no G) on fresh draws of both for ``--steps`` iterations and
appends D's loss, averaged over every 500 iterations, to ``--out`` (2 ln 2 = 1.386: chance):

    python benchmarks/pacgan_departures.py --probe-blur 0.3 --pack 1 --steps 3000 --out probe.jsonl

``--plot PNG LABEL=FILE[@PACK[,SEED]] ...`` draws D's loss and the high-quality fraction against
iterations for each series (rows of FILE with ``step``, ``d_loss`` and ``hq``; ``@PACK,SEED`` keeps
the rows of one packing and seed).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import toy_modes  # noqa: E402
from pacgan_bn_members import generate_per_member  # noqa: E402
from genzoo.config import from_dict  # noqa: E402
from genzoo.data.toy2d import sample_toy  # noqa: E402
from genzoo.metrics.toy import mode_metrics  # noqa: E402
from genzoo.registry import get_model_class  # noqa: E402

PACKS_PER_BATCH = toy_modes.PAPER_PACKS_PER_BATCH
EVAL_N = 2500


def real_pack_batches(x: torch.Tensor, m: int, mode: str, g: torch.Generator):
    """Endless batches of 100 real packs (100, 2 m), epoch after epoch."""
    n = x.shape[0]
    if mode == "fixed":
        packs = torch.cat([x[torch.randint(0, n, (n,), generator=g)] for _ in range(m)], dim=1)
    while True:
        order = torch.randperm(n, generator=g)
        if mode == "fixed":
            for i in range(0, n - PACKS_PER_BATCH + 1, PACKS_PER_BATCH):
                yield packs[order[i:i + PACKS_PER_BATCH]]
        else:
            step = PACKS_PER_BATCH * m
            for i in range(0, n - step + 1, step):
                yield x[order[i:i + step]].reshape(PACKS_PER_BATCH, 2 * m)


def generate(model, z: torch.Tensor, bn: str) -> torch.Tensor:
    """G's fakes for a batch: in one call, or member by member (benchmarks/pacgan_bn_members.py)."""
    return model.generate(z) if bn == "one-call" else generate_per_member(model, z)


def paper_model(args):
    """(genzoo's ``gan`` with the paper preset at packing ``args.pack``, its config, an Adam for D),
    seeded by ``args.seed``; ``args.init_std`` (0: PyTorch's default init) replaces the paper's if given."""
    cfg, _ = toy_modes.setting("paper", "nonsaturating", args.pack)
    if args.init_std is not None:
        cfg = {**cfg, "init_std": args.init_std}
    cls = get_model_class("gan")
    torch.manual_seed(args.seed)
    model = cls(from_dict(cls.Config, cfg), (2,))
    return model, cfg, adam(model.D, cfg)


def adam(net: torch.nn.Module, cfg: dict) -> torch.optim.Adam:
    return torch.optim.Adam(net.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))


def step_once(model, opt_d, opt_g, real: torch.Tensor, z: torch.Tensor, update: str, bn: str):
    """One iteration of both players on the real packs ``real`` and latents ``z``: (D's loss, scores)."""
    n = real.shape[0]
    if update == "simultaneous":
        fake = model.pack_inputs(generate(model, z, bn))
        d = model.D(torch.cat([real, fake])).squeeze(1)
        d_real, d_fake = d[:n], d[n:]
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        loss_g = F.softplus(-d_fake).mean()
        params_d, params_g = list(model.D.parameters()), list(model.G.parameters())
        grads_d = torch.autograd.grad(loss_d, params_d, retain_graph=True)
        grads_g = torch.autograd.grad(loss_g, params_g)
        for p, gr in zip(params_d + params_g, grads_d + grads_g):
            p.grad = gr
        opt_d.step()
        opt_g.step()
        return loss_d.detach(), d_real.detach(), d_fake.detach()
    with torch.no_grad():
        fake = model.pack_inputs(generate(model, z, bn))
    d = model.D(torch.cat([real, fake])).squeeze(1)
    d_real, d_fake = d[:n], d[n:]
    loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    fake = model.pack_inputs(generate(model, torch.randn_like(z), bn))
    loss_g = F.softplus(-model.D(fake).squeeze(1)).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_d.detach(), d_real.detach(), d_fake.detach()


def train(args) -> list[dict]:
    m = args.pack
    model, cfg, opt_d = paper_model(args)
    opt_g = adam(model.G, cfg)
    data = sample_toy(args.data, 100_000, 0)
    g = torch.Generator().manual_seed(args.seed + 1)
    batches = real_pack_batches(data.x, m, args.real_packs, g)
    z_eval = torch.randn(EVAL_N, 2, generator=torch.Generator().manual_seed(1234))
    B = PACKS_PER_BATCH * m
    rows, window, t0 = [], [], time.time()
    for step in range(1, args.steps + 1):
        real = next(batches)
        loss_d, d_real, d_fake = step_once(model, opt_d, opt_g, real, torch.randn(B, 2), args.update, args.bn)
        acc = 0.5 * ((d_real > 0).float().mean() + (d_fake < 0).float().mean())
        window.append((float(loss_d), float(acc)))
        if step % args.eval_every == 0:
            model.G.eval()
            with torch.no_grad():
                x = model.G(z_eval)
            model.G.train()
            mm = mode_metrics(x, data.modes, data.mode_std)
            row = {"data": args.data, "pack": m, "seed": args.seed, "init_std": cfg["init_std"], "update": args.update,
                   "real_packs": args.real_packs, "bn": args.bn, "step": step,
                   "modes": mm["modes_covered"], "hq": mm["high_quality_fraction"], "kl": mm["mode_kl"],
                   "d_loss": sum(w[0] for w in window) / len(window),
                   "d_accuracy": sum(w[1] for w in window) / len(window),
                   "seconds": round(time.time() - t0, 1), "cpu": toy_modes.cpu_name(), "torch": torch.__version__}
            window = []
            rows.append(row)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
            print(f"{args.update} {args.real_packs} {args.bn} pack={m} seed={args.seed} step {step}: "
                  f"modes {row['modes']}, hq {row['hq']:.3f}, kl {row['kl']:.2f}, "
                  f"D loss {row['d_loss']:.3f}, D accuracy {row['d_accuracy']:.3f}", flush=True)
    return rows


def probe(args) -> list[dict]:
    """D alone against the data blurred: D's mean loss every 500 iterations."""
    m = args.pack
    model, cfg, opt_d = paper_model(args)
    data = sample_toy(args.data, 1, 0)
    modes = data.modes.float()
    B, rows, window = PACKS_PER_BATCH * m, [], []

    def draw(std: float) -> torch.Tensor:
        return modes[torch.randint(0, len(modes), (B,))] + std * torch.randn(B, 2)

    for step in range(1, args.steps + 1):
        real, fake = model.pack_inputs(draw(data.mode_std)), model.pack_inputs(draw(args.probe_blur))
        d = model.D(torch.cat([real, fake])).squeeze(1)
        loss = F.softplus(-d[:PACKS_PER_BATCH]).mean() + F.softplus(d[PACKS_PER_BATCH:]).mean()
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        window.append(float(loss.detach()))
        if step % 500 == 0 or step == args.steps:
            row = {"probe_blur": args.probe_blur, "init_std": cfg["init_std"], "data": args.data, "pack": m,
                   "seed": args.seed, "step": step,
                   "d_loss": sum(window) / len(window), "cpu": toy_modes.cpu_name(), "torch": torch.__version__}
            window = []
            rows.append(row)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
            print(f"probe blur {args.probe_blur} pack={m} seed={args.seed} step {step}: D loss {row['d_loss']:.4f}",
                  flush=True)
    return rows


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def read_series(spec: str) -> tuple[str, list[dict]]:
    """``LABEL=FILE[@PACK[,SEED]]`` -> (label, rows of that packing and seed sorted by step)."""
    label, sep, rest = spec.partition("=")
    if not sep or not label or not rest:
        raise SystemExit(f"a series is LABEL=FILE[@PACK[,SEED]], not {spec!r}")
    path, _, keep = rest.partition("@")
    if not Path(path).is_file():
        raise SystemExit(f"{path}: no such file (series {label!r})")
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    for key, value in zip(("pack", "seed"), keep.split(",") if keep else ()):
        rows = [r for r in rows if str(r.get(key)) == value]
    rows = sorted((r for r in rows if "d_loss" in r and "hq" in r), key=lambda r: r["step"])
    if not rows:
        raise SystemExit(f"{path}: no rows with step, d_loss and hq{f' at pack, seed {keep}' if keep else ''} "
                         f"(series {label!r})")
    return label, rows


def plot(png: str, specs: list[str]) -> Path:
    """Two panels over iterations: D's loss (chance 2 ln 2 dashed) and the high-quality %."""
    from PIL import Image, ImageDraw

    series = [read_series(sp) for sp in specs]
    W, left, right, top, ph, gap = 760, 60, 230, 30, 170, 50
    H = top + 2 * ph + gap + 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    pw = W - left - right
    x1 = max(r["step"] for _, rows in series for r in rows)
    panels = [("D's loss (2 ln 2 = chance)", "d_loss", 0.8, 1.45, top),
              ("high-quality samples (%)", "hq", 0.0, 100.0, top + ph + gap)]
    for title, key, y0, y1, t in panels:
        scale = 100.0 if key == "hq" else 1.0

        def Y(v: float, y0=y0, y1=y1, t=t) -> float:
            return t + ph - ph * (min(max(v, y0), y1) - y0) / (y1 - y0)

        def X(step: float) -> float:
            return left + pw * step / x1

        d.rectangle([left, t, left + pw, t + ph], outline="black")
        d.text((left, t - 16), title, fill="black")
        for i in range(5):
            v = y0 + (y1 - y0) * i / 4
            d.text((8, Y(v) - 6), f"{v:.2f}" if key == "d_loss" else f"{v:.0f}", fill="black")
            xs = x1 * i / 4
            d.text((X(xs) - 12, t + ph + 4), f"{xs / 1000:.0f}k", fill="black")
        if key == "d_loss":
            for x in range(left, left + pw, 8):
                d.line([x, Y(math.log(4)), x + 4, Y(math.log(4))], fill="grey")
        for k, (label, rows) in enumerate(series):
            colour = COLOURS[k % len(COLOURS)]
            pts = [(X(r["step"]), Y(scale * r[key])) for r in rows]
            if len(pts) > 1:
                d.line(pts, fill=colour, width=2)
            d.text((left + pw + 8, top + 14 * k), label, fill=colour)
    d.text((left + pw // 2 - 20, H - 16), "iterations", fill="black")
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="2d-grid", choices=("2d-ring", "2d-grid"))
    p.add_argument("--pack", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--update", default="alternating", choices=("alternating", "simultaneous"))
    p.add_argument("--real-packs", default="regrouped", choices=("regrouped", "fixed"))
    p.add_argument("--bn", default="one-call", choices=("one-call", "per-member"))
    p.add_argument("--init-std", type=float, metavar="S",
                   help="weights ~ N(0, S^2) instead of the paper's 0.02 (0: PyTorch's default initialisation)")
    p.add_argument("--probe-blur", type=float, metavar="S",
                   help="train D alone against the data with each mode's std S (no G)")
    p.add_argument("--out", help="JSON lines file (appended)")
    p.add_argument("--plot", metavar="PNG", help="draw the series given as LABEL=FILE[@PACK[,SEED]] instead of training")
    p.add_argument("series", nargs="*", help="with --plot: LABEL=FILE[@PACK[,SEED]]")
    a = p.parse_args(argv)
    if a.series and not a.plot:
        p.error("series are drawn only with --plot PNG")
    if a.plot and not a.series:
        p.error("--plot needs at least one series LABEL=FILE[@PACK[,SEED]]")
    if a.pack < 1 or a.steps < 1 or a.eval_every < 1:
        p.error("--pack, --steps and --eval-every must be positive")
    if a.init_std is not None and not a.init_std >= 0:
        p.error(f"--init-std must be 0 or positive, not {a.init_std}")
    if a.probe_blur is not None and not a.probe_blur > 0:
        p.error(f"--probe-blur must be positive, not {a.probe_blur}")
    return a


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(1)
    args = parse(argv)
    if args.plot:
        print(plot(args.plot, args.series))
    elif args.probe_blur is not None:
        probe(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
