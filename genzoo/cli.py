"""The ``genzoo`` command: parse arguments, build a config, call one library function.

Nothing runs at import. Every user error ends as one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

from .errors import GenzooError

# Files a picture may be written as (Pillow picks the format from the suffix).
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (and a pointer to --help), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _sub(subparsers, name: str, help: str, example: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name, help=help, description=help, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="genzoo",
        description="Classic deep generative models: train, sample, evaluate.",
        epilog="example:\n  genzoo train gan --data mnist --steps 5000\n  genzoo sample runs/gan-mnist-001 --n 64 --out grid.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    _sub(sub, "list", "list the models and datasets", "genzoo list")

    t = _sub(sub, "train", "train a model; prints the run folder",
             "genzoo train vae --data mnist --steps 10000 --set model.z_dim=2")
    t.add_argument("model", nargs="?", help="a registered model (see genzoo list); omit with --resume")
    t.add_argument("--data", default=None, help="dataset name or path to an image folder / .npz (default mnist)")
    t.add_argument("--data-path", default=None, help="a directory that holds the dataset's raw files")
    t.add_argument("--steps", type=int, default=None, help="iterations to train (total, also when resuming)")
    t.add_argument("--minutes", type=float, default=None, help="wall-clock training budget in minutes (periodic evaluations do not count)")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--config", default=None, help="a YAML/JSON run config to start from")
    t.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field, e.g. model.z_dim=64, train.ema=0.999, data.binarize=dynamic")
    t.add_argument("--out", default="runs", help="parent folder of the new run folder (default runs/)")
    t.add_argument("--resume", default=None, metavar="RUN", help="continue the run in folder RUN from its latest checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the model (checked against eager gradients on the first step; falls back)")

    s = _sub(sub, "sample", "draw samples from a trained model into a PNG grid",
             "genzoo sample runs/gan-mnist-001 --n 64 --out grid.png --seed 1")
    s.add_argument("run", help="a run folder or a saved model folder")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", default=None, help="PNG path (default RUN/sample.png)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--label", type=int, default=None, help="class to sample (class-conditional models)")
    s.add_argument("--npz", default=None, help="also save the raw samples as .npz (array x)")

    i = _sub(sub, "interpolate", "decode a row of images between pairs of latent points",
             "genzoo interpolate runs/vae-mnist-001 --rows 8 --steps 10 --method slerp")
    i.add_argument("run")
    i.add_argument("--rows", type=int, default=8)
    i.add_argument("--steps", type=int, default=10)
    i.add_argument("--method", choices=["linear", "slerp"], default="slerp")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--out", default=None, help="PNG path (default RUN/interpolation.png)")

    v = _sub(sub, "traverse", "InfoGAN code traversal: one row per categorical value, one column per continuous value",
             "genzoo traverse runs/infogan-mnist-001 --code 0 --steps 10 --span 2")
    v.add_argument("run")
    v.add_argument("--code", type=int, default=0, help="the continuous code that varies along a row (default 0)")
    v.add_argument("--steps", type=int, default=10, help="columns: values of the continuous code")
    v.add_argument("--span", type=float, default=2.0, help="the code runs from -SPAN to SPAN (training draws U(-1, 1))")
    v.add_argument("--seed", type=int, default=0, help="seed of the noise shared by the grid")
    v.add_argument("--out", default=None, help="PNG path (default RUN/traversal.png)")

    ip = _sub(sub, "inpaint", "complete the hidden part of an image (autoregressive and VAE-family models)",
              "genzoo inpaint runs/pixelcnn-mnist-001 --image 7 --mask bottom --n 8")
    ip.add_argument("run")
    ip.add_argument("--image", required=True, help="a test-set index of the run's dataset, or an image file")
    ip.add_argument("--mask", default="bottom", help="hidden region: top|bottom|left|right|centre, or a PNG (dark = hidden)")
    ip.add_argument("--n", type=int, default=8, help="completions to draw")
    ip.add_argument("--seed", type=int, default=0)
    ip.add_argument("--label", type=int, default=None,
                    help="the image's class, for class-conditional models (default: the test set's label)")
    ip.add_argument("--out", default=None, help="PNG path (default RUN/inpaint.png)")

    la = _sub(sub, "latent", "pictures of an encoder's latent space: 2-D manifold, test-set scatter, traversals",
              "genzoo latent runs/conv-vae-mnist-001 --kind manifold --n 15")
    la.add_argument("run")
    la.add_argument("--kind", choices=["manifold", "scatter", "traverse", "interpolate"], default="manifold")
    la.add_argument("--n", type=int, default=15, help="grid side (manifold), steps (traverse, interpolate)")
    la.add_argument("--image", type=int, default=0, help="test-set index to traverse from / interpolate from")
    la.add_argument("--to", type=int, default=1, help="test-set index to interpolate to")
    la.add_argument("--out", default=None, help="PNG path (default RUN/latent-KIND.png)")

    ev = _sub(sub, "evaluate", "sample-quality and likelihood metrics of a run, a folder of images, or real data",
              "genzoo evaluate runs/gan-mnist-001 --n 10000 --metrics fid,kid,prdc\n  genzoo evaluate --real --data mnist")
    ev.add_argument("target", nargs="?", help="a run folder, or a folder of PNG/JPG images")
    ev.add_argument("--real", action="store_true", help="the real-data floor: training images against the test set")
    ev.add_argument("--data", default=None,
                    help="the reference dataset for a folder of images or --real (default mnist); a run uses its own")
    ev.add_argument("--n", type=int, default=None,
                    help="samples to draw / images to use (default 10000; 2500 for 2-D toy data, the standard mode metric)")
    ev.add_argument("--metrics", default=None, help="comma-separated: fid,kid,prdc,classifier_score,label_accuracy,nll,modes,mmd")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--nll-k", type=int, default=None, help="importance samples for the IWAE bound (default 5000)")
    ev.add_argument("--nll-n", type=int, default=None, help="test images for NLL (default all)")
    ev.add_argument("--feature", choices=["lenet", "inception"], default=None, help="feature network (default lenet)")
    ev.add_argument("--feature-weights", default=None, help="a local weights file (needed for inception)")
    ev.add_argument("--no-progress", action="store_true")

    rp = _sub(sub, "report", "write a self-contained report.html for a run (config, curves, grids, metrics)",
              "genzoo report runs/gan-mnist-001")
    rp.add_argument("run")
    rp.add_argument("--out", default=None, help="HTML path (default RUN/report.html)")

    d = _sub(sub, "data", "fetch a dataset or describe it", "genzoo data fetch mnist")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    f = _sub(dsub, "fetch", "make a dataset present in the cache (verified by checksum)", "genzoo data fetch mnist")
    f.add_argument("name")
    f.add_argument("--path", default=None, help="a directory holding the raw files")
    n = _sub(dsub, "info", "sizes, value range, source and checksum of a dataset", "genzoo data info digits")
    n.add_argument("name")
    n.add_argument("--path", default=None)

    z = _sub(sub, "zoo", "trained models that ship with genzoo: list them, read a card, retrain one from its recipe",
             "genzoo zoo list\n  genzoo sample zoo:vae-mnist        (any command that takes a run takes zoo:NAME)")
    zsub = z.add_subparsers(dest="zoo_command", metavar="ACTION", parser_class=_Parser)
    _sub(zsub, "list", "every zoo model with its headline figure", "genzoo zoo list")
    zs = _sub(zsub, "show", "print a zoo model's card (how it was trained, what it measures)", "genzoo zoo show vae-mnist")
    zs.add_argument("name")
    zs.add_argument("--summary", action="store_true", help="one line: the headline figure, the training, the grid's path")
    zt = _sub(zsub, "train", "train a zoo model again from its recipe (= genzoo train --config recipes/NAME.yaml)",
              "genzoo zoo train vae-mnist --out runs")
    zt.add_argument("name")
    zt.add_argument("--out", default="runs", help="parent folder of the new run folder (default runs/)")
    zt.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------- checking what the user gave, before work starts


def _int_in(flag: str, value: int, low: int, high: int | None = None, why: str = "") -> int:
    """``value`` if ``low <= value <= high``; else a GenzooError naming the flag and the allowed range."""
    if value < low or (high is not None and value > high):
        allowed = f"in {low}..{high}" if high is not None else f">= {low}"
        raise GenzooError(f"{flag} must be {allowed}{why}, not {value}")
    return value


def _seed(value: int) -> int:
    return _int_in("--seed", value, 0, 2**32 - 1)


def _out_file(path: str | Path, flag: str, suffixes: tuple[str, ...]) -> Path:
    """``path`` if a file can be written there: not a folder, a known suffix, a writable folder above."""
    p = Path(path)
    if p.is_dir():
        raise GenzooError(f"{flag} {p} is a folder; name a file in it, e.g. {p / ('out' + suffixes[0])}")
    if p.suffix.lower() not in suffixes:
        raise GenzooError(f"{flag} {p}: the file name must end in {', '.join(suffixes)}")
    folder = p.parent
    while not folder.exists() and folder != folder.parent:  # the nearest folder that exists
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise GenzooError(f"{flag} {p}: cannot write into {folder} ({'not a folder' if not folder.is_dir() else 'permission denied'})")
    return p


@contextlib.contextmanager
def _writing(path: Path):
    """A failed write (disk full, read-only or vanished folder) becomes one line naming the path."""
    try:
        yield
    except OSError as e:
        raise GenzooError(f"cannot write {path}: {e.strerror or e}") from None


def _check_runnable(cfg) -> None:
    """What a config file cannot know: the device exists here and the data hold a batch and fit in memory."""
    import torch

    from .data import dataset_size
    from .train.distributed import dist_info

    device, tc = cfg.train.device, cfg.train
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenzooError(f"train.device={device}, but torch sees no CUDA device on this machine; "
                              "use --set train.device=cpu (or auto)")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise GenzooError(f"train.device={device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                              f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if device == "mps" and not torch.backends.mps.is_available():
        raise GenzooError("train.device=mps, but torch sees no MPS device on this machine; use cpu or auto")
    world = dist_info().world_size
    if tc.batch_size % world:
        raise GenzooError(f"train.batch_size={tc.batch_size} does not divide among the {world} processes")
    n, shape, num_classes = dataset_size(cfg.data, "train")
    if tc.eval_every:
        from .metrics.evaluate import periodic_metrics

        periodic_metrics(tc.eval_metrics or None, toy=len(shape) == 1)  # fails now, not at the first evaluation
    if n < tc.batch_size:
        raise GenzooError(f"train.batch_size={tc.batch_size} is larger than the {n} training examples of "
                          f"{cfg.data.name}; use --batch-size {n} or less, or more data")
    folder = Path(cfg.data.name).expanduser().is_dir()  # a big image folder streams from disk instead
    nbytes = n * math.prod(shape) * 4
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    if not folder and ram and nbytes > ram / 2:
        raise GenzooError(f"{cfg.data.name}: {n} training examples of shape {tuple(shape)} take "
                          f"{nbytes / 2**30:.1f} GiB as float32, more than half of this machine's "
                          f"{ram / 2**30:.0f} GiB; use a smaller data.resize or data.limit")
    _check_model(cfg, tuple(shape), num_classes, ram)


def _check_model(cfg, shape: tuple[int, ...], num_classes: int, ram: int) -> None:
    """Build the model on the meta device, which allocates nothing: a config the model refuses for
    these data fails before a run folder exists, and weights that would not fit in memory are refused."""
    import torch

    from .registry import get_model_class

    cls = get_model_class(cfg.model)
    try:
        with torch.device("meta"):
            model = cls(cfg.model_config, shape, num_classes)
    except GenzooError:
        raise
    except Exception:  # a model that needs real tensors to be built: the trainer builds it for real
        return
    nbytes = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    # Training holds the weights, their gradients and two optimizer moments: about four copies.
    if ram and 4 * nbytes > ram / 2:
        raise GenzooError(f"{cfg.model}: {nbytes / 2**30:.1f} GiB of weights (about four times that to train) "
                          f"do not fit in half of this machine's {ram / 2**30:.0f} GiB; use smaller model settings")


def _train_config(args: argparse.Namespace):
    from .config import RunConfig, replace_field

    if args.resume:
        if args.model or args.config or args.data:
            raise GenzooError("--resume continues a run with its own config; give only --steps/--minutes/--set")
        cfg = RunConfig.load(Path(args.resume) / "config.yaml", record=True)
    elif args.config:
        cfg = RunConfig.load(args.config)
        if args.model and args.model != cfg.model:
            raise GenzooError(f"--config {args.config} is for model {cfg.model!r}, not {args.model!r}")
    elif args.model:
        cfg = RunConfig.for_model(args.model)
    else:
        raise GenzooError("name a model to train (see genzoo list), or --resume RUN")
    data, train = cfg.data, cfg.train
    if args.data is not None:
        data = dataclasses.replace(data, name=args.data)
    if args.data_path:
        data = dataclasses.replace(data, path=args.data_path)
    for flag, field in (("steps", "steps"), ("minutes", "minutes"), ("batch_size", "batch_size"), ("seed", "seed")):
        value = getattr(args, flag)
        if value is not None:
            train = replace_field(train, field, value, "train")
    if args.compile:
        train = replace_field(train, "compile", True, "train")
    return dataclasses.replace(cfg, data=data, train=train).override(args.set)


def cmd_train(args) -> None:
    from .errors import RunInterrupted
    from .train import train

    cfg = _train_config(args)
    if not args.resume:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise GenzooError(f"--out {out} is a file; --out names the folder that holds run folders")
        _out_file(out / "config.yaml", "--out", (".yaml",))  # its folder must be creatable and writable
    _check_runnable(cfg)
    try:
        run = train(cfg, out=args.out, resume=args.resume, progress=not args.no_progress)
    except RunInterrupted as e:  # saved; the folder is still the output, the exit status says it is unfinished
        with contextlib.suppress(BrokenPipeError):  # a parent that was stopped too no longer reads
            print(e.run_dir, flush=True)
        raise
    print(run)


def cmd_list(args) -> None:
    from .data import dataset_names
    from .registry import get_model_class, model_names

    print("models:")
    for name in model_names():
        doc = (get_model_class(name).__doc__ or "").strip().splitlines()[0]
        print(f"  {name:16s} {doc}")
    print("datasets (or a path to an image folder / .npz):")
    for name, desc in dataset_names().items():
        print(f"  {name:16s} {desc}")


def cmd_sample(args) -> None:
    import torch

    from .metrics.evaluate import sample_model
    from .models import load
    from .viz.grid import MAX_IMAGES, save_samples

    _int_in("--n", args.n, 1, MAX_IMAGES, " (the images of one picture)")
    _seed(args.seed)
    model = load(args.run)
    out = _out_file(args.out or _run_root(args.run) / "sample.png", "--out", PICTURE_SUFFIXES)
    npz = _out_file(args.npz, "--npz", (".npz",)) if args.npz else None
    labels = None
    if args.label is not None:
        if not (model.conditional and model.num_classes):
            raise GenzooError(f"{args.run}: {model.registry_name} is not class-conditional; drop --label")
        if not 0 <= args.label < model.num_classes:
            raise GenzooError(f"--label must be in 0..{model.num_classes - 1}, not {args.label}")
        labels = torch.full((args.n,), args.label, dtype=torch.long)
    nrow = None
    if labels is None and model.conditional and model.num_classes:
        nrow = math.ceil(math.sqrt(args.n))  # one class per row of the grid: 0, 1, 2, ...
        labels = (torch.arange(args.n) // nrow) % model.num_classes
    x = sample_model(model, args.n, args.seed, labels=labels, progress=False)  # in bounded batches
    with _writing(out):
        save_samples(x, out, **_toy_reference(args.run) if x.dim() == 2 else {"nrow": nrow})
    if npz:
        import numpy as np

        with _writing(npz):
            np.savez_compressed(npz, x=x.cpu().numpy())
    print(out)


def cmd_interpolate(args) -> None:
    import torch

    from .models import load
    from .viz.grid import MAX_IMAGES, save_grid
    from .viz.latent import interpolate

    _int_in("--rows", args.rows, 1)
    _int_in("--steps", args.steps, 2)
    if args.rows * args.steps > MAX_IMAGES:
        raise GenzooError(f"--rows {args.rows} x --steps {args.steps} is {args.rows * args.steps} images; "
                          f"one picture holds at most {MAX_IMAGES}")
    _seed(args.seed)
    model = load(args.run)
    out = _out_file(args.out or _run_root(args.run) / "interpolation.png", "--out", PICTURE_SUFFIXES)
    if not model.is_image:
        raise GenzooError(f"{args.run}: interpolate draws rows of images, and {model.registry_name} models "
                          f"points of shape {model.data_shape}")
    x = interpolate(model, args.rows, args.steps, args.method, torch.Generator().manual_seed(args.seed))
    with _writing(out):
        save_grid(x, out, nrow=args.steps)
    print(out)


def cmd_traverse(args) -> None:
    import torch

    from .models import load
    from .viz.grid import MAX_IMAGES, save_grid, save_samples
    from .viz.latent import code_traversal

    _int_in("--steps", args.steps, 1, MAX_IMAGES)
    if not math.isfinite(args.span) or args.span <= 0:
        raise GenzooError(f"--span must be a positive number, not {args.span}")
    _seed(args.seed)
    model = load(args.run)
    out = _out_file(args.out or _run_root(args.run) / "traversal.png", "--out", PICTURE_SUFFIXES)
    x = code_traversal(model, args.code, args.steps, args.span, torch.Generator().manual_seed(args.seed))
    with _writing(out):
        if x.dim() == 4:
            save_grid(x, out, nrow=args.steps)
        else:  # 2-D points: one scatter plot
            save_samples(x, out)
    print(out)


def _test_set(run: str):
    from .config import RunConfig
    from .data import load_dataset

    cfg_file = _run_root(run) / "config.yaml"
    if not cfg_file.exists():
        raise GenzooError(f"{run}: no config.yaml next to the model, so its dataset is unknown; give --image FILE")
    return load_dataset(RunConfig.load(cfg_file).data, "test")


def cmd_inpaint(args) -> None:
    import torch

    from .models import load
    from .viz.grid import save_grid
    from .viz.inpaint import MASKS, MAX_COMPLETIONS, inpaint_grid, load_image

    _int_in("--n", args.n, 1, MAX_COMPLETIONS, " (completions in one row)")
    _seed(args.seed)
    model = load(args.run)
    out = _out_file(args.out or _run_root(args.run) / "inpaint.png", "--out", PICTURE_SUFFIXES)
    if args.mask not in MASKS and args.mask != "center" and not Path(args.mask).is_file():
        raise GenzooError(f"--mask must be one of {', '.join(MASKS)} or an existing PNG, not {args.mask!r}")
    if model.inpaint is None or not model.is_image:
        raise GenzooError(f"{model.registry_name} cannot complete images (autoregressive and VAE-family models "
                          "of images can)")
    label = None
    if args.image.lstrip("-").isdigit():
        data = _test_set(args.run)
        index = _int_in("--image", int(args.image), 0, len(data.x) - 1, " (an index of the run's test set)")
        x = data.x[index]
        label = int(data.y[index]) if data.y is not None and model.conditional else None
    else:
        x = load_image(args.image, model.data_shape)
    if args.label is not None:
        if not (model.conditional and model.num_classes):
            raise GenzooError(f"{args.run}: {model.registry_name} is not class-conditional; drop --label")
        label = _int_in("--label", args.label, 0, model.num_classes - 1)
    if model.conditional and label is None:
        raise GenzooError(f"{model.registry_name} is class-conditional: give the image's class with --label")
    grid = inpaint_grid(model, x, args.mask, args.n, args.seed, label)
    with _writing(out):
        save_grid(grid, out, nrow=len(grid))
    print(out)


def cmd_latent(args) -> None:
    from .models import load
    from .viz import latent
    from .viz.grid import MAX_IMAGES, save_grid

    if args.kind == "manifold":
        _int_in("--n", args.n, 2, math.isqrt(MAX_IMAGES), " (the side of the grid)")
    elif args.kind in ("traverse", "interpolate"):
        _int_in("--n", args.n, 2, MAX_IMAGES // latent.TRAVERSE_DIMS, " (the steps of a row)")
    model = load(args.run)
    out = _out_file(args.out or _run_root(args.run) / f"latent-{args.kind}.png", "--out", PICTURE_SUFFIXES)
    if not model.has_encoder:
        raise GenzooError(f"{model.registry_name} has no encoder and decoder (a VAE-family model has)")
    if args.kind != "scatter" and not model.is_image:
        raise GenzooError(f"--kind {args.kind} draws images, and {model.registry_name} models points of shape "
                          f"{model.data_shape}; --kind scatter works")
    with _writing(out):
        if args.kind == "manifold":
            save_grid(latent.manifold(model, args.n).cpu(), out, nrow=args.n)
            print(out)
            return
        data = _test_set(args.run)
        for flag in ("image", "to"):
            _int_in(f"--{flag}", getattr(args, flag), 0, len(data.x) - 1, " (an index of the run's test set)")
        if args.kind == "scatter":
            latent.save_code_scatter(model, data.x, data.y, out)
        else:
            def label(i: int):  # a class-conditional model encodes an image with its label
                return data.y[i : i + 1] if model.conditional and data.y is not None else None

            a, b = data.x[args.image : args.image + 1], data.x[args.to : args.to + 1]
            if args.kind == "traverse":
                x = latent.traverse(model, a, steps=args.n, label=label(args.image))
            else:
                x = latent.interpolate_images(model, a, b, args.n, label(args.image), label(args.to))
            save_grid(x.cpu(), out, nrow=args.n)
    print(out)


def cmd_evaluate(args) -> None:
    from .metrics.evaluate import MAX_N, MIN_N, evaluate_command, format_table

    if args.n is not None:
        _int_in("--n", args.n, MIN_N, MAX_N)
    for flag, value in (("--nll-k", args.nll_k), ("--nll-n", args.nll_n)):
        if value is not None:
            _int_in(flag, value, 1)
    _seed(args.seed)
    extra = {k: v for k, v in (("nll_k", args.nll_k), ("nll_n", args.nll_n), ("feature", args.feature),
                                ("feature_weights", args.feature_weights)) if v is not None}
    if getattr(args, "zoo", None):
        extra["write"] = False  # a zoo model's figures are on its card; nothing is written into the package
    is_run = args.target is not None and not args.real and (Path(args.target) / "config.yaml").is_file()
    if is_run and args.data is not None:
        raise GenzooError(f"--data applies to a folder of images or --real; {args.target} is compared with the "
                          "dataset it trained on")
    if not is_run and ({"nll_k", "nll_n"} & set(extra)):
        raise GenzooError("--nll-k/--nll-n apply to a run folder (likelihood needs the model)"
                          + (f", and {args.target} has no config.yaml" if args.target and not args.real else ""))
    from .errors import WriteError

    try:
        result = evaluate_command(args.target, real=args.real, data=args.data or "mnist", n=args.n, metrics=args.metrics,
                                  seed=args.seed, progress=not args.no_progress, **extra)
    except WriteError as e:  # metrics.json could not be written: print the results, then name the path
        if isinstance(e.partial, dict):
            print(format_table(e.partial))
        raise
    print(format_table(result))


def cmd_report(args) -> None:
    from .files import require_run_folder
    from .viz.report import write_report

    run = require_run_folder(args.run)  # report needs the folder train made
    out = _out_file(args.out or run / "report.html", "--out", (".html", ".htm"))
    with _writing(out):
        print(write_report(run, out))


def cmd_data(args) -> None:
    from . import data

    if args.data_command == "fetch":
        for f in data.fetch(args.name, args.path):
            print(f)
    elif args.data_command == "info":
        print(json.dumps(data.info(args.name, args.path), indent=2))
    else:
        raise GenzooError("genzoo data needs an action: fetch or info")


def _toy_reference(run: str) -> dict:
    """The run's 2-D training data and mode centres, drawn behind toy samples (empty if unknown)."""
    from .config import RunConfig
    from .data import load_dataset

    cfg_file = _run_root(run) / "config.yaml"
    if not cfg_file.is_file():
        return {}
    data = load_dataset(RunConfig.load(cfg_file).data, "train")
    return {"reference": data.x[:5000], "modes": data.modes}


def _run_root(path: str) -> Path:
    p = Path(path)
    return p.parent if p.name == "model" else p


# Where a command writes by default, for a zoo model given as its run (never into the installed package).
_ZOO_OUT = {"sample": "sample.png", "interpolate": "interpolation.png", "traverse": "traversal.png",
            "inpaint": "inpaint.png", "report": "report.html"}


def _zoo_args(args) -> None:
    """``zoo:NAME`` where a run goes: the entry's folder, sha256-checked; outputs go to the current
    folder as NAME-<what>.png, and evaluate prints without writing metrics.json."""
    attr = "target" if args.command == "evaluate" else "run"
    value = getattr(args, attr, None)
    if not (isinstance(value, str) and value.startswith("zoo:")):
        return
    from .zoo import resolve

    setattr(args, attr, str(resolve(value)))
    args.zoo = value[len("zoo:"):]
    default = f"latent-{args.kind}.png" if args.command == "latent" else _ZOO_OUT.get(args.command)
    if default and getattr(args, "out", None) is None:
        args.out = f"{args.zoo}-{default}"


def cmd_zoo(args) -> None:
    from . import zoo

    if args.zoo_command == "list":
        print(zoo.list_table())
    elif args.zoo_command == "show":
        entry = zoo.get(args.name)
        if args.summary:
            print(zoo.summary_line(entry))
            return
        print((entry.path / "card.md").read_text().rstrip())
        print(f"\n(folder: {entry.path})")
    elif args.zoo_command == "train":
        recipe = zoo.recipe_path(args.name)
        argv = ["train", "--config", str(recipe), "--out", args.out] + (["--no-progress"] if args.no_progress else [])
        cmd_train(build_parser().parse_args(argv))
    else:
        raise GenzooError("genzoo zoo needs an action: list, show or train")


COMMANDS = {
    "train": cmd_train, "list": cmd_list, "sample": cmd_sample,
    "interpolate": cmd_interpolate, "traverse": cmd_traverse, "data": cmd_data,
    "inpaint": cmd_inpaint, "latent": cmd_latent, "evaluate": cmd_evaluate, "report": cmd_report, "zoo": cmd_zoo,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genzoo`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .errors import RunInterrupted

    try:
        _zoo_args(args)
        COMMANDS[args.command](args)
    except RunInterrupted as e:  # the run saved and said how to continue: 130 after SIGINT, 143 after SIGTERM
        return e.exit_status
    except GenzooError as e:
        print(f"genzoo {args.command}: error: {' '.join(str(e).split())}", file=sys.stderr)  # one line, always
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`| head`, a killed parent): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141
    return 0
