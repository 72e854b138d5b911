"""Evaluation entry points: a run, real data (the floor), a folder of PNGs, and the trainer hook.

Every result names the feature network (name, short hash, layer), the reference split, ``n`` and
the seed, and carries the real-data floor (``n`` training images against the same reference) so
each number can be read against what real data scores. ``evaluate_run`` writes RUN/metrics.json.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from ..errors import GenzooError
from ..files import require_run_folder, runs_inside
from .base import eval_mode
from .cache import Reference, metrics_cache_dir, reference
from .features import FeatureExtractor, feature_extractor

IMAGE_METRICS = ("fid", "kid", "prdc", "classifier_score")
TOY_METRICS = ("modes", "mmd")
# Samples drawn when none is given: the image metrics' usual 10,000, and the 2,500 of the standard
# 2-D mode metric (VEEGAN, PacGAN; genzoo/metrics/toy.py) for toy data.
IMAGE_N, TOY_N = 10_000, 2_500
KNOWN_METRICS = IMAGE_METRICS + TOY_METRICS + ("nll", "label_accuracy")
# The samples (or images) one evaluation takes: at least 10 (the classifier score's 10 splits, PRDC's
# k = 5 neighbours), at most 100,000 (their features are kept for KID and PRDC, whose cost grows as n^2).
MIN_N, MAX_N = 10, 100_000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
K_PR, K_DC = 3, 5
CLASSIFIER_DATA = ("mnist",)  # datasets the pinned classifier's labels mean something for
RESULT_VERSION = 1

# What a metric name produces, in table order, and whether lower is better.
_OUTPUTS = {
    "fid": [("fid", None)], "kid": [("kid", "kid_std")],
    "prdc": [("precision", None), ("recall", None), ("density", None), ("coverage", None)],
    "classifier_score": [("classifier_score", "classifier_score_std")],
    "label_accuracy": [("label_accuracy", None)],
    "modes": [("modes_covered", None), ("high_quality_fraction", None), ("mode_kl", None)],
    "mmd": [("mmd", None)],
    "nll": [("nll", None), ("nll_bits_per_dim", None), ("neg_elbo", None)],
}


def parse_metrics(metrics: str | list[str] | None, toy: bool) -> list[str]:
    """A list of known metric names (comma-separated string accepted); the default per data kind."""
    if metrics is None or metrics == "" or metrics == []:
        return list(TOY_METRICS if toy else IMAGE_METRICS)
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in names if m not in KNOWN_METRICS]
    if unknown:
        raise GenzooError(f"unknown metric(s) {', '.join(unknown)}: choose from {', '.join(KNOWN_METRICS)}")
    misfit = [m for m in names if m in (IMAGE_METRICS + ("label_accuracy",) if toy else TOY_METRICS)]
    if misfit:
        kind, fits = ("2-D points", TOY_METRICS) if toy else ("images", IMAGE_METRICS + ("label_accuracy",))
        raise GenzooError(f"metric(s) {', '.join(misfit)} do not apply to {kind}; choose from "
                          f"{', '.join(fits + ('nll',))}")
    return names


def refuse_unanswerable(names: list[str], data: str, model=None) -> None:
    """Metrics asked for by name that cannot be computed here fail with one line saying why (defaults
    that do not apply are dropped quietly instead): the likelihood and label accuracy need a model,
    label accuracy a class-conditional one, and the pinned classifier's metrics MNIST-like data."""
    if model is None and ({"nll", "label_accuracy"} & set(names)):
        raise GenzooError("nll and label_accuracy need the model: evaluate a run folder")
    if model is not None and "label_accuracy" in names and not model.conditional:
        raise GenzooError(f"label_accuracy needs a class-conditional model; {model.registry_name} is not one")
    classifier = [m for m in names if m in ("classifier_score", "label_accuracy")]
    if classifier and data not in CLASSIFIER_DATA:
        raise GenzooError(f"{', '.join(classifier)} read the pinned MNIST classifier's classes, which mean "
                          f"nothing for {data}; they apply to {', '.join(CLASSIFIER_DATA)}")


def _floor_names(names: list[str], data: str) -> list[str]:
    """Of ``names``, those real data have a floor for."""
    return [m for m in names if m not in ("nll", "label_accuracy")
            and (m != "classifier_score" or data in CLASSIFIER_DATA)]


def _is_toy(data: str) -> bool:
    from ..data import DataConfig, load_dataset

    return load_dataset(DataConfig(name=data, toy_size=10), "test").x.dim() == 2


# ---------------------------------------------------------------- computing from samples


def image_metrics(
    fake: torch.Tensor,
    ref: Reference,
    extractor: FeatureExtractor,
    metrics: list[str],
    seed: int = 0,
    labels: torch.Tensor | None = None,
    progress: bool = True,
) -> dict:
    """Sample-quality metrics of images ``fake`` (N, C, H, W) in [0, 1] against ``ref``: a flat dict."""
    feats, logits = extractor.extract(fake, progress=progress, desc="features (samples)")
    return metrics_from_features(feats, logits, ref, metrics, seed, labels)


def metrics_from_features(feats: torch.Tensor, logits: torch.Tensor | None, ref: Reference, metrics: list[str],
                          seed: int = 0, labels: torch.Tensor | None = None) -> dict:
    """Sample-quality metrics from the samples' features (N, D) and class logits (N, K) or None."""
    from .classifier import classifier_score, label_accuracy
    from .fid import FeatureStats, fid_from_stats, kid
    from .prdc import prdc

    out: dict = {}
    if "fid" in metrics:
        stats = FeatureStats()
        stats.update(feats)
        out["fid"] = fid_from_stats(ref.stats, stats)
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kid(ref.features, feats, KID_SUBSETS, KID_SUBSET_SIZE, seed)
    if "prdc" in metrics:
        out.update(prdc(ref.features, feats, K_PR, K_DC))
    if "classifier_score" in metrics and logits is not None:
        out["classifier_score"], out["classifier_score_std"] = classifier_score(logits)
    if "label_accuracy" in metrics and logits is not None and labels is not None:
        acc = label_accuracy(logits, labels)
        out["label_accuracy"], out["label_accuracy_per_label"] = acc["accuracy"], acc["per_label"]
    return out


def toy_metrics(fake: torch.Tensor, data: str, metrics: list[str], n_ref: int, seed: int = 0) -> dict:
    """Mode metrics and MMD of 2-D points ``fake`` (N, 2) against the toy dataset's test split."""
    from ..data import DataConfig, load_dataset
    from .toy import mmd, mode_metrics

    ds = load_dataset(DataConfig(name=data, toy_size=max(n_ref, 1000)), "test")
    out: dict = {}
    if "modes" in metrics:
        if ds.modes is None:
            raise GenzooError(f"{data} has no known modes: the mode metrics need a toy set with modes")
        out.update(mode_metrics(fake, ds.modes, ds.mode_std))
    if "mmd" in metrics:
        out["mmd"] = mmd(ds.x[:n_ref], fake, seed=seed)
    return out


def _rows(values: dict, metrics: list[str], floor: dict | None) -> list[dict]:
    rows = []
    for m in metrics:
        for key, std_key in _OUTPUTS.get(m, []):
            if key in values:
                rows.append({
                    "metric": key, "value": values[key],
                    "std": values.get(std_key) if std_key else None,
                    "floor": (floor or {}).get(key),
                })
    return rows


# ---------------------------------------------------------------- the floor


def evaluate_real(
    data: str = "mnist",
    n: int = 10_000,
    metrics: str | list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    feature: str = "lenet",
    feature_weights: str | Path | None = None,
    use_cache: bool = True,
) -> dict:
    """The real-data floor: ``n`` training images (a seeded subset) against the test set.

    The result (cached per data, n, seed and feature network) has the same shape as
    ``evaluate_run``'s, so it reads in the same table.
    """
    toy = _is_toy(data)
    names = parse_metrics(metrics, toy)
    if metrics:
        refuse_unanswerable(names, data)
    names = [m for m in names if m not in ("nll", "label_accuracy")]
    t0 = time.time()
    if toy:
        from ..data import DataConfig, load_dataset

        real = load_dataset(DataConfig(name=data, toy_size=max(n, 1000)), "train").x[:n]
        values = toy_metrics(real, data, names, n, seed)
        result = _result(values, names, None, data=data, n=len(real), seed=seed, extractor=None, t0=t0)
        result["source"] = f"{len(real)} {data} train points vs the test split"
        return result
    extractor = feature_extractor(feature, feature_weights)
    ref = reference(extractor, data, "test", use_cache=use_cache, progress=progress)
    real = reference(extractor, data, "train", n=n, seed=seed, use_cache=use_cache, progress=progress)
    # The data checksums are in the key so a changed dataset never reuses an old floor.
    sums = f"{ref.info['data_checksum'][:8]}{real.info['data_checksum'][:8]}"
    key = metrics_cache_dir() / f"floor-{data}-n{n}-seed{seed}-{extractor.id}-{sums}-{'_'.join(sorted(names))}.json"
    if use_cache and key.is_file():
        return json.loads(key.read_text())
    # Reuse the cached features instead of re-extracting the training images.
    values = _metrics_from_features(real, ref, names, seed, data)
    result = _result(values, names, None, data=data, n=real.info["n"], seed=seed, extractor=extractor, t0=t0)
    result["source"] = f"{real.info['n']} {data} train images (subset seed {seed}) vs the test split"
    if use_cache:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(json.dumps(result, indent=2))
    return result


def _metrics_from_features(real: Reference, ref: Reference, names: list[str], seed: int, data: str) -> dict:
    from .classifier import classifier_score
    from .fid import fid_from_stats, kid
    from .prdc import prdc

    out: dict = {}
    if "fid" in names:
        out["fid"] = fid_from_stats(ref.stats, real.stats)
    if "kid" in names:
        out["kid"], out["kid_std"] = kid(ref.features, real.features, KID_SUBSETS, KID_SUBSET_SIZE, seed)
    if "prdc" in names:
        out.update(prdc(ref.features, real.features, K_PR, K_DC))
    if "classifier_score" in names and real.logits is not None and data in CLASSIFIER_DATA:
        out["classifier_score"], out["classifier_score_std"] = classifier_score(real.logits)
    return out


def _result(values: dict, names: list[str], floor: dict | None, *, data: str, n: int, seed: int,
            extractor: FeatureExtractor | None, t0: float) -> dict:
    return {
        "genzoo_metrics": RESULT_VERSION,
        "data": data,
        "reference_split": "test",
        "n": n,
        "seed": seed,
        "feature_network": extractor.describe() if extractor is not None else None,
        "metrics": values,
        "floor": floor,
        "rows": _rows(values, names, floor),
        "settings": {"kid_subsets": KID_SUBSETS, "kid_subset_size": KID_SUBSET_SIZE, "k_pr": K_PR, "k_dc": K_DC},
        "time_s": round(time.time() - t0, 2),
    }


# ---------------------------------------------------------------- evaluating samples, runs, folders


def evaluate_samples(
    fake: torch.Tensor,
    data: str = "mnist",
    metrics: str | list[str] | None = None,
    seed: int = 0,
    labels: torch.Tensor | None = None,
    progress: bool = True,
    feature: str = "lenet",
    feature_weights: str | Path | None = None,
    floor: bool = True,
) -> dict:
    """Evaluate generated samples (images (N, C, H, W) in [0, 1] or points (N, 2)) against ``data``."""
    t0 = time.time()
    toy = fake.dim() == 2
    names = [m for m in parse_metrics(metrics, toy) if m != "nll"]
    if not toy:
        extractor = feature_extractor(feature, feature_weights)
        feats, logits = extractor.extract(fake, progress=progress, desc="features (samples)")
        return evaluate_features(feats, logits, extractor, data, names, seed, labels, progress, floor, t0,
                                 feature, feature_weights)
    if not _is_toy(data):
        raise GenzooError(f"2-D points are compared with a 2-D toy dataset (e.g. 8gaussians), not {data}")
    floor_result = evaluate_real(data, len(fake), _floor_names(names, data), seed, progress) if floor else None
    floor_values = floor_result["metrics"] if floor_result else None
    values = toy_metrics(fake, data, names, len(fake), seed)
    result = _result(values, names, floor_values, data=data, n=len(fake), seed=seed, extractor=None, t0=t0)
    if floor_result:
        result["floor_source"] = floor_result.get("source")
    return result


def evaluate_features(
    feats: torch.Tensor,
    logits: torch.Tensor | None,
    extractor: FeatureExtractor,
    data: str,
    names: list[str],
    seed: int = 0,
    labels: torch.Tensor | None = None,
    progress: bool = True,
    floor: bool = True,
    t0: float | None = None,
    feature: str = "lenet",
    feature_weights: str | Path | None = None,
) -> dict:
    """The result of :func:`evaluate_samples` from the samples' features and logits (already extracted
    by ``extractor``, e.g. batch by batch as the samples were drawn). ``feature``/``feature_weights``
    name that extractor for the real-data floor."""
    t0 = time.time() if t0 is None else t0
    n = len(feats)
    if n < MIN_N:
        raise GenzooError(f"{n} samples are too few: the metrics need at least {MIN_N}")
    if _is_toy(data):
        raise GenzooError(f"{data} is 2-D point data; images are compared with an image dataset (e.g. mnist)")
    floor_result = evaluate_real(data, n, _floor_names(names, data), seed, progress, feature, feature_weights) if floor else None
    ref = reference(extractor, data, "test", progress=progress)
    if data not in CLASSIFIER_DATA:
        names = [m for m in names if m not in ("classifier_score", "label_accuracy")]
    values = metrics_from_features(feats, logits, ref, names, seed, labels)
    floor_values = floor_result["metrics"] if floor_result else None
    result = _result(values, names, floor_values, data=data, n=n, seed=seed, extractor=extractor, t0=t0)
    if floor_result:
        result["floor_source"] = floor_result.get("source")
    return result


@torch.no_grad()
def sample_model(model, n: int, seed: int = 0, batch_size: int = 500, labels: torch.Tensor | None = None,
                 progress: bool = True) -> torch.Tensor:
    """``n`` samples from ``model.sample`` in batches, from one seeded generator, on the CPU.

    The model samples in eval mode and is left in the mode it was found in; the global RNG is not used.
    """
    return torch.cat(list(_sample_batches(model, n, seed, batch_size, labels, progress)))


def _sample_batches(model, n: int, seed: int, batch_size: int, labels: torch.Tensor | None, progress: bool):
    from tqdm.auto import tqdm

    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    device = param.device if param is not None else torch.device("cpu")
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad(), eval_mode(model):
        for i in tqdm(range(0, n, batch_size), desc="sampling", disable=not progress, leave=False):
            b = min(batch_size, n - i)
            if labels is not None:
                x = model.sample(b, generator=g, labels=labels[i : i + b].to(device))
            else:
                x = model.sample(b, generator=g)
            x = x.detach().float().cpu()
            yield x.clamp(0, 1) if x.dim() == 4 else x


def sample_features(model, n: int, extractor: FeatureExtractor, seed: int = 0, batch_size: int = 500,
                    labels: torch.Tensor | None = None, progress: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The features (n, D) and logits of ``n`` samples, drawn as :func:`sample_model` draws them; only
    the features are kept, so memory grows with n x D, not with n images."""
    feats, logits = [], []
    for x in _sample_batches(model, n, seed, batch_size, labels, progress):
        f, l = extractor.extract(x)
        feats.append(f)
        if l is not None:
            logits.append(l)
    return torch.cat(feats), (torch.cat(logits) if logits else None)


def evaluate_run(
    run: str | Path,
    n: int | None = None,
    metrics: str | list[str] | None = None,
    seed: int = 0,
    batch_size: int = 500,
    progress: bool = True,
    nll_k: int = 5000,
    nll_n: int | None = None,
    feature: str = "lenet",
    feature_weights: str | Path | None = None,
    write: bool = True,
) -> dict:
    """Evaluate a run: sample ``n`` from ``RUN/model``, compute ``metrics``, write ``RUN/metrics.json``.

    ``n`` None: 2,500 samples for 2-D toy data (the standard mode metric), 10,000 for images.

    ``nll`` (only when asked: it is slow) uses the test split as the run prepared its data,
    dynamically binarized when the run trained on binarized data; ``nll_k`` importance samples for
    bound models (VAE family), ``nll_n`` test examples (default all). Samples are drawn in batches
    of ``batch_size`` and only their features are kept, so memory grows with n x feature size.
    """
    import genzoo

    from ..config import RunConfig

    run = Path(run)
    t0 = time.time()
    require_run_folder(run)
    cfg = RunConfig.load(run / "config.yaml", record=True)
    data = cfg.data.name
    model = genzoo.load(run / "model")
    toy = len(model.data_shape) == 1
    n = n if n is not None else (TOY_N if toy else IMAGE_N)
    if not MIN_N <= n <= MAX_N:
        raise GenzooError(f"n must be in {MIN_N}..{MAX_N}, not {n}")
    names = parse_metrics(metrics, toy)
    if "nll" in names:
        from .nll import likelihood_kind

        likelihood_kind(model)  # a model without a likelihood fails now, not after the sampling
    if metrics:
        refuse_unanswerable(names, data, model)
    # Only class-conditional models are sampled per label (every model knows the dataset's classes).
    num_classes = model.num_classes if model.conditional else 0
    labels = None
    if num_classes and not toy:
        labels = torch.arange(n) % num_classes
        if data in CLASSIFIER_DATA and "label_accuracy" not in names and metrics is None:
            names.append("label_accuracy")
    sample_names = [m for m in names if m != "nll"]
    result: dict
    if sample_names and toy:
        fake = sample_model(model, n, seed, batch_size, labels, progress)
        t_sample = time.time() - t0
        result = evaluate_samples(fake, data, sample_names, seed, labels, progress, feature, feature_weights)
        result["time_sampling_s"] = round(t_sample, 2)
    elif sample_names:
        extractor = feature_extractor(feature, feature_weights)
        feats, logits = sample_features(model, n, extractor, seed, batch_size, labels, progress)
        t_sample = time.time() - t0
        result = evaluate_features(feats, logits, extractor, data, sample_names, seed, labels, progress,
                                   feature=feature, feature_weights=feature_weights)
        result["time_sampling_s"] = round(t_sample, 2)  # sampling and feature extraction
    else:
        result = _result({}, [], None, data=data, n=None, seed=seed, extractor=None, t0=t0)  # no samples drawn
    if "nll" in names:
        import dataclasses

        from ..data import load_dataset
        from .nll import evaluate_nll

        # The test split prepared as the run's data (resized, converted), whole and not binarized here.
        test = load_dataset(dataclasses.replace(cfg.data, limit=None, binarize="none"), "test")
        x = test.x if nll_n is None else test.x[:nll_n]
        y = None if not num_classes or test.y is None else test.y[: len(x)]
        binarization = "dynamic" if cfg.data.binarize in ("dynamic", "static") else "none"
        nll = evaluate_nll(model, x, k=nll_k, binarization=binarization, seed=seed, progress=progress, labels=y,
                           levels=test.levels)
        result["metrics"].update({k: v for k, v in nll.items()
                                  if k in ("nll", "nll_bits_per_dim", "neg_elbo") and v is not None})
        result["nll"] = nll
        result["rows"] += _rows(result["metrics"], ["nll"], None)
    result.update({"run": str(run), "model": cfg.model, "metrics_requested": names,
                   "time_s": round(time.time() - t0, 2)})
    if write:  # atomically; a failed write still hands the results to the caller (WriteError.partial)
        from ..errors import WriteError
        from ..files import atomic_write

        try:
            atomic_write(run / "metrics.json", json.dumps(result, indent=2))
        except WriteError as e:
            raise WriteError(f"{e}; the results were not saved", partial=result) from None
    return result


def evaluate_folder(
    folder: str | Path,
    data: str = "mnist",
    n: int | None = None,
    metrics: str | list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    feature: str = "lenet",
    feature_weights: str | Path | None = None,
) -> dict:
    """Evaluate a folder of PNG (or JPEG) images, e.g. samples from another codebase, against ``data``.

    Images are read in sorted order (sub-folders included); RGB is averaged to grey and resized
    to the feature network's input by the extractor. ``n`` keeps the first ``n``. They are read
    ``FOLDER_CHUNK`` at a time and only their features are kept.
    """
    import numpy as np
    from PIL import Image

    t0 = time.time()
    root = Path(folder)
    files = image_files(root)
    files = files[:n] if n else files
    if len(files) < MIN_N:
        raise GenzooError(f"{root} has {len(files)} image(s); the metrics need at least {MIN_N}")
    names = parse_metrics(metrics, toy=False)
    if metrics:
        refuse_unanswerable(names, data)
    extractor = feature_extractor(feature, feature_weights)
    feats, logits, first = [], [], None
    for i in range(0, len(files), FOLDER_CHUNK):
        arrays = []
        for p in files[i : i + FOLDER_CHUNK]:
            try:
                with Image.open(p) as im:
                    a = np.asarray(im.convert("L"), dtype=np.uint8)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                raise GenzooError(f"cannot read image {p}: {e}") from None
            first = first or (p, a.shape)
            if a.shape != first[1]:
                raise GenzooError(f"{p} is {a.shape[1]}x{a.shape[0]} but {first[0]} is {first[1][1]}x{first[1][0]}: "
                                  "the images of one folder must share a size")
            arrays.append(a)
        x = torch.from_numpy(np.stack(arrays)).float().div(255).unsqueeze(1)  # (B, 1, H, W)
        f, l = extractor.extract(x)
        feats.append(f)
        if l is not None:
            logits.append(l)
    result = evaluate_features(torch.cat(feats), torch.cat(logits) if logits else None, extractor, data, names,
                               seed, None, progress, True, t0, feature, feature_weights)
    result["folder"] = str(root)
    return result


FOLDER_CHUNK = 1000  # images of a folder decoded at once
FOLDER_SUFFIXES = (".png", ".jpg", ".jpeg")


def image_files(root: Path) -> list[Path]:
    """The images under ``root`` in sorted order (sub-folders included, hidden files skipped); a
    folder that holds none says what it is instead (run folders, or nothing to read)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in FOLDER_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if runs := runs_inside(root):
        raise GenzooError(f"{root} is neither a run folder (no config.yaml) nor a folder of images: it holds run "
                          f"folders ({runs}); name one of them")
    if not files:
        raise GenzooError(f"{root} is neither a run folder (no config.yaml) nor a folder of images "
                          f"(no {', '.join(FOLDER_SUFFIXES)} files in it)")
    return files


def evaluate_command(
    target: str | Path | None = None,
    real: bool = False,
    data: str = "mnist",
    n: int | None = None,
    metrics: str | list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    **kwargs,
) -> dict:
    """What ``genzoo evaluate`` does: a run folder, a folder of images, or (``real``) the floor.

    ``target`` with a ``config.yaml`` is a run (``evaluate_run``); any other folder is read as
    images (``evaluate_folder``, against ``data``). Extra keyword arguments go to that function.
    """
    if real:
        n = n if n is not None else (TOY_N if _is_toy(data) else IMAGE_N)
        return evaluate_real(data, n, metrics, seed, progress, **kwargs)
    if target is None:
        raise GenzooError("evaluate needs a run folder, a folder of images, or --real")
    path = Path(target)
    if (path / "config.yaml").is_file():
        return evaluate_run(path, n, metrics, seed, progress=progress, **kwargs)
    if path.is_dir():
        return evaluate_folder(path, data, IMAGE_N if n is None else n, metrics, seed, progress, **kwargs)
    raise GenzooError(f"{path} is neither a run folder (with config.yaml) nor a folder of images")


# ---------------------------------------------------------------- presentation and the trainer hook


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


def format_table(result: dict) -> str:
    """A plain-text table: metric, value (+- std), real-data floor; then what was measured how."""
    rows = result.get("rows") or []
    lines = [f"{'metric':<22}{'value':>22}{'real-data floor':>18}"]
    for r in rows:
        value = _fmt(r["value"]) + (f" ± {_fmt(r['std'])}" if r.get("std") is not None else "")
        lines.append(f"{r['metric']:<22}{value:>22}{_fmt(r.get('floor')):>18}")
    fn = result.get("feature_network")
    lines.append("")
    lines.append(("" if result.get("n") is None else f"n={result.get('n')} ") + f"seed={result.get('seed')} data={result.get('data')} "
                 f"reference={result.get('data')}/{result.get('reference_split')}")
    if fn:
        lines.append(f"features: {fn['name']} ({fn['hash']}), layer {fn['layer']} ({fn['dim']}-d)")
    if result.get("floor_source") or result.get("source"):
        lines.append(f"floor: {result.get('floor_source') or result.get('source')}")
    if result.get("nll"):
        nll = result["nll"]
        lines.append(f"nll: {nll['nll_method']} on {nll['n']} test examples, binarization {nll['binarization']}")
    return "\n".join(lines)


def make_periodic_evaluator(
    metrics: str | list[str] | None = None,
    n: int = 2000,
    data: str = "mnist",
    seed: int = 0,
    batch_size: int = 500,
) -> Callable[..., dict[str, float]]:
    """A callable ``evaluate(model) -> {name: float}`` for the trainer to call every N steps.

    The feature network and reference statistics load on the first call and are reused; the
    same seed is used every time so successive values differ only because the model changed.
    No floor and no progress bars: it must be cheap and quiet. Samples become features batch by
    batch; the model is left in the train/eval mode it was in.
    """
    state: dict = {}

    def evaluate(model) -> dict[str, float]:
        toy = len(model.data_shape) == 1
        names = periodic_metrics(metrics, toy)
        if toy:
            values = toy_metrics(sample_model(model, n, seed, batch_size, progress=False), data, names, n, seed)
        else:
            if "extractor" not in state:
                state["extractor"] = feature_extractor("lenet")
                state["ref"] = reference(state["extractor"], data, "test", progress=False)
            feats, logits = sample_features(model, n, state["extractor"], seed, batch_size, progress=False)
            values = metrics_from_features(feats, logits, state["ref"], names, seed)
        return {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}

    return evaluate


def periodic_metrics(metrics: str | list[str] | None, toy: bool) -> list[str]:
    """The metric names ``train.eval_metrics`` asks for, checked: known, fitting the data, and not
    the ones only ``genzoo evaluate`` computes (nll and label_accuracy)."""
    try:
        names = parse_metrics(metrics, toy)
    except GenzooError as e:
        raise GenzooError(f"train.eval_metrics: {e}") from None
    later = [m for m in names if m in ("nll", "label_accuracy")]
    if later:
        raise GenzooError(f"train.eval_metrics: {', '.join(later)} are not computed during training; "
                          "genzoo evaluate RUN computes them")
    return names
