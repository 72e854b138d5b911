"""The contract every genzoo model follows, and saving/loading a trained model.

A model declares its optimizer groups (:meth:`GenerativeModel.optimizer_groups`), computes
the loss of one group on a batch (:meth:`GenerativeModel.losses`) and samples
(:meth:`GenerativeModel.sample`). The trainer needs nothing else, so it never knows which
model it trains. A saved model is a folder: ``config.json`` + ``model.safetensors``.

Two rules keep N processes, one process and any number of micro-batches equal: every random
draw goes through the model's ``randn``/``rand``/``randint`` (per example) or
``randn_shared``/``rand_shared``/``randint_shared`` (per step), which read the source the
trainer sets (see "randomness" below); and an update that is not a gradient step is declared
as a :class:`StatisticsGroup`, whose batch statistics the trainer sums across micro-batches
and processes before :meth:`GenerativeModel.apply_statistics`. A model whose loss couples the
examples of a batch says so (:attr:`GenerativeModel.couples_batch`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, NamedTuple

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..errors import ConfigError, GenzooError
from ..files import atomic_write, write_error

# 2: config.json holds the resolved settings (no null/auto) and the step the weights are from.
# Format 1 folders (nulls resolved when loaded) load the same way.
FORMAT_VERSION = 2


class Batch(NamedTuple):
    """What a model sees: data ``x`` (images in [0, 1] or 2-D points) and optional labels ``y``."""

    x: torch.Tensor
    y: torch.Tensor | None = None


@dataclass
class OptimGroup:
    """One optimizer: its parameters, its settings and how often it steps per iteration.

    ``name`` is the key of this group's loss in :meth:`GenerativeModel.losses`. ``steps`` > 1
    gives e.g. the k discriminator steps per generator step of Goodfellow et al. (2014).
    ``fresh_batch=False`` reuses the iteration's last batch (a generator step needs no new data).
    """

    name: str
    params: list[nn.Parameter]
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8  # Adam's, AdamW's and RMSprop's denominator term
    steps: int = 1
    fresh_batch: bool = True
    kind: ClassVar[str] = "gradient"  # "statistics" for a StatisticsGroup

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The group's optimizer. Adam, AdamW and SGD run PyTorch's fused kernel (one call updates
        every parameter, where the default takes ~10 small ops per parameter: the same update, and
        for the MLP GAN and VAE on a CPU the optimizer was a third of a step), RMSprop its multi-tensor
        form; where the parameters do not allow it (a device without fused kernels) the default."""
        common = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.optimizer == "adam":
            make, kw, fast = torch.optim.Adam, {**common, "betas": self.betas, "eps": self.eps}, {"fused": True}
        elif self.optimizer == "adamw":
            make, kw, fast = torch.optim.AdamW, {**common, "betas": self.betas, "eps": self.eps}, {"fused": True}
        elif self.optimizer == "rmsprop":
            make, kw, fast = torch.optim.RMSprop, {**common, "eps": self.eps}, {"foreach": True}
        elif self.optimizer == "sgd":
            make, kw, fast = torch.optim.SGD, {**common, "momentum": self.betas[0]}, {"fused": True}
        else:
            raise ConfigError(f"unknown optimizer {self.optimizer!r} (adam, adamw, rmsprop or sgd)")
        try:
            return make(self.params, **kw, **fast)
        except (RuntimeError, ValueError):  # e.g. parameters on a device without fused kernels
            return make(self.params, **kw)


@dataclass
class StatisticsGroup(OptimGroup):
    """A group updated without gradients, from sufficient statistics (EM's M-step, for example).

    For such a group the trainer never calls ``losses``: it calls
    :meth:`GenerativeModel.batch_statistics` on each micro-batch, adds the results, sums them
    over the processes, and hands the global batch's statistics to
    :meth:`GenerativeModel.apply_statistics`, which every process applies alike. N processes,
    one process and any number of micro-batches then make the same update. ``lr`` and the
    optimizer fields are unused (its optimizer never steps).
    """

    kind: ClassVar[str] = "statistics"
    lr: float = 0.0
    optimizer: str = "sgd"
    betas: tuple[float, float] = (0.0, 0.0)


class Health(NamedTuple):
    """A condition :meth:`GenerativeModel.health` reports for one window of logged means.

    The trainer warns once per ``key``, when the condition has held in ``windows`` consecutive
    log windows spanning at least ``steps`` steps, and lists every condition that warned at the
    end of the run; a model reports what it sees in each window and keeps no state of its own.
    """

    key: str  # names the condition (stable across windows: the message may carry numbers)
    message: str
    windows: int = 3  # consecutive windows it must hold: one bad window is noise
    steps: int = 0  # ... spanning at least this many steps


class NoiseSource(NamedTuple):
    """Where a model's draws come from (:meth:`GenerativeModel.drawing_from`): a generator, and
    which shard of the global batch per-example draws are for."""

    generator: torch.Generator
    shard: int = 0
    shards: int = 1


class GenerativeModel(nn.Module):
    """Base class of every genzoo model.

    Subclasses define a frozen ``Config`` dataclass, register with ``@register(name)`` and
    implement :meth:`optimizer_groups`, :meth:`losses` and :meth:`sample`. Where the maths
    allows they add ``encode``/``decode``, ``elbo``, ``log_prob`` and
    ``log_importance_weights``.
    """

    Config: ClassVar[type]
    registry_name: ClassVar[str] = ""
    # Training settings of the model's measured recipe (e.g. dcgan's {"ema": 0.999}): the values a
    # run of this model gets where its config does not set the field (genzoo train NAME, a config
    # file without it); an explicit setting always wins, and config.yaml records what was used.
    train_defaults: ClassVar[dict[str, Any]] = {}
    # The same, added where the data are images (every dataset but the toy 2-D sets): a recipe
    # measured on MNIST that the 2-D learning tests do not share (e.g. bigan's learning-rate half-life).
    image_train_defaults: ClassVar[dict[str, Any]] = {}
    # Whether sample() draws for given labels (class-conditional models). Every model is told the
    # dataset's num_classes; only conditional ones use labels, and only they take --label.
    conditional: bool = False
    # Capabilities, declared by each model (class attributes, or set in __init__ where the config
    # decides) and read by the metrics and pictures, which never probe with hasattr:
    # likelihood: "discrete"      log_prob(x) is the exact log-probability of discrete data (nats);
    #             "density"       log_prob(x) is a continuous density (nats; genzoo.metrics.nll
    #                             reports it dequantised, with the data's bin width);
    #             "bound"         log_importance_weights(x, k, [labels,] generator=) bound log P(x) of
    #                             discrete data (IWAE; Burda et al. 2016);
    #             "density-bound" the same weights, bounding a continuous density;
    #             None            no likelihood.
    likelihood: str | None = None
    # inpaint: "autoregressive"  sample(n, generator, x=, known=) draws the unknown pixels;
    #          "latent"          iterated encode/decode completes them; None: cannot inpaint.
    inpaint: str | None = None
    # has_encoder: encode(x) (a code, or the posterior's (mu, logvar)) and decode(z) -> images.
    has_encoder: bool = False
    # code_traversal: compose(z, categorical, continuous) builds the latent from structured codes (InfoGAN).
    code_traversal: bool = False

    def __init__(self, config: Any, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        from ..config import check_config

        super().__init__()
        if dataclasses.is_dataclass(config):
            check_config(config, "model")  # values out of their declared ranges never build a model
        self.config = config
        self.data_shape = tuple(int(s) for s in data_shape)
        self.num_classes = int(num_classes)

    # -- the contract -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimGroup]:
        raise NotImplementedError

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        """Scalars for optimizer group ``group``: ``out[group]`` is minimised, the rest are logged."""
        raise NotImplementedError

    def forward(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        # Routing the loss through forward() lets DistributedDataParallel wrap any model.
        return self.losses(batch, group)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Prior noise for ``n`` samples, or None for models without a latent (autoregressive)."""
        return None

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        z: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n`` samples in data space: images (n, C, H, W) in [0, 1] or points (n, 2)."""
        raise NotImplementedError

    def prepare_data(self, data) -> None:
        """Called once by the trainer with the training :class:`~genzoo.data.base.Dataset` before
        training; most models need nothing (the semi-supervised GAN keeps its labelled subset)."""

    def on_step_end(self, group: str) -> None:
        """Called after each optimizer step of ``group`` (e.g. WGAN's weight clipping)."""

    # -- non-gradient updates: declared with a StatisticsGroup ---------------------------
    # losses() must not change parameters (the trainer checks): an update that is not a
    # gradient step goes through these two methods, so ranks and micro-batches agree.
    def batch_statistics(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        """For a :class:`StatisticsGroup`: sufficient statistics of ``batch`` as SUMS over its
        examples (never means; float64 keeps the sums exact enough), under the current parameters.
        The trainer adds them over micro-batches and processes: what :meth:`apply_statistics`
        receives is the same sum over the global batch, however the batch was split."""
        raise NotImplementedError(f"{type(self).__name__} declares statistics group {group!r} but no batch_statistics()")

    def apply_statistics(self, group: str, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Update the parameters from the global batch's summed ``stats`` (no gradient; every
        process makes the same update). Returns the scalars to log; ``out[group]`` is the group's
        figure of merit (what a NaN check reports)."""
        raise NotImplementedError(f"{type(self).__name__} declares statistics group {group!r} but no apply_statistics()")

    @property
    def couples_batch(self) -> bool:
        """Whether an example's loss depends on the other examples of its batch (batch norm, a
        softmax or a mean over the batch). Such a model trained on N processes computes what one
        process computes with ``train.micro_batches=N`` (each shard is a "ghost batch"), not one
        process on the whole batch; other models match one process on the whole batch. Models
        declare it; this default, whether the model has a batch-norm layer, is only a fallback."""
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules())

    def health(self, scalars: dict[str, float]) -> "Health | str | None":
        """Given the logged means of the last window, the condition it shows if training looks broken
        (a :class:`Health`; a plain string is a condition keyed by its text), else None.

        E.g. a GAN whose discriminator accuracy is pinned at 1. The trainer prints and logs it.
        """
        return None

    # -- randomness -------------------------------------------------------------------
    # A model draws every random number through the methods below, never from torch's global
    # RNG (no torch.randn/randn_like/dropout of its own):
    #   randn(*shape), rand(*shape), randint(high, n)  per-example draws; dim 0 is this shard's
    #       batch. During a training step each shard (rank x micro-batch) draws for the global
    #       batch and keeps its rows, so an example gets the same noise however the batch is split.
    #   randn_shared(*shape), rand_shared(*shape), randint_shared(high, n=1)  one draw for the
    #       whole step, identical on every shard (a per-step choice such as a random mask).
    # The trainer owns the source: a torch.Generator seeded from train.seed and saved in every
    # checkpoint, replayed for each micro-batch, so shards stay in lockstep. The number and shapes
    # of the draws must therefore not depend on the data. prepare_data() draws from the same
    # generator, unsliced (every rank sees the whole data). Outside training, drawing_from(g)
    # makes the methods draw from generator g; with no source at all they use the global RNG,
    # as torch.randn would (the caller's choice, e.g. a direct call to elbo()).
    global_step: int = 0  # set by the trainer before each iteration (e.g. for annealed instance noise)
    _noise: "NoiseSource | None" = None  # the current source, set by drawing_from()

    @contextlib.contextmanager
    def drawing_from(self, generator: torch.Generator, shard: int = 0, shards: int = 1) -> Iterator[None]:
        """Within the block, the model's draws come from ``generator``: per-example draws as shard
        ``shard`` of ``shards`` (the trainer's use), shared draws whole."""
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not one of {shards}")
        previous, self._noise = self._noise, NoiseSource(generator, shard, shards)
        try:
            yield
        finally:
            self._noise = previous

    @property
    def noise_slice(self) -> tuple[int, int]:
        """(shard, shards) of the current draws: (rank * micro_batches + m, world_size * micro_batches)
        in a training step, (0, 1) otherwise. A model that splits a global quantity (ssgan's labelled
        batch) reads it; per-example draws need not."""
        return (0, 1) if self._noise is None else (self._noise.shard, self._noise.shards)

    # Drawn eagerly under torch.compile: a draw from an explicit generator breaks the graph anyway,
    # and the compiled graph then installs no guard on the (per-micro-batch) source.
    @torch.compiler.disable
    def _draw(self, fn: Callable[..., torch.Tensor], shape: tuple[int, ...], per_example: bool) -> torch.Tensor:
        src = self._noise
        if src is None:
            return fn(shape, None, self.device)
        g = src.generator
        if not per_example or src.shards == 1:
            return fn(shape, g, g.device).to(self.device)
        n = shape[0]
        whole = fn((n * src.shards, *shape[1:]), g, g.device)
        return whole[src.shard * n : (src.shard + 1) * n].to(self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal training noise of ``shape`` (dim 0: this shard's examples)."""
        return self._draw(lambda s, g, d: torch.randn(s, generator=g, device=d), shape, True)

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) training noise of ``shape`` (dim 0: this shard's examples)."""
        return self._draw(lambda s, g, d: torch.rand(s, generator=g, device=d), shape, True)

    def randint(self, high: int, n: int) -> torch.Tensor:
        """``n`` training indices in [0, high), one per example of this shard."""
        return self._draw(lambda s, g, d: torch.randint(high, s, generator=g, device=d), (n,), True)

    def randn_shared(self, *shape: int) -> torch.Tensor:
        """Standard normal draws of ``shape``, the same on every rank and micro-batch of the step."""
        return self._draw(lambda s, g, d: torch.randn(s, generator=g, device=d), shape, False)

    def rand_shared(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) draws of ``shape``, the same on every rank and micro-batch of the step."""
        return self._draw(lambda s, g, d: torch.rand(s, generator=g, device=d), shape, False)

    def randint_shared(self, high: int, n: int = 1) -> torch.Tensor:
        """``n`` integers in [0, high), the same on every rank and micro-batch (e.g. a mask's seed)."""
        return self._draw(lambda s, g, d: torch.randint(high, s, generator=g, device=d), (n,), False)

    def randn_from(self, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
        """Standard normal noise from ``generator`` (on its own device), moved to the model's device;
        from the current source (:meth:`randn`) when ``generator`` is None."""
        if generator is None:
            return self.randn(*shape)
        return torch.randn(*shape, generator=generator, device=generator.device).to(self.device)

    # -- helpers --------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3

    @property
    def data_dim(self) -> int:
        d = 1
        for s in self.data_shape:
            d *= s
        return d

    # -- persistence ----------------------------------------------------------------
    def resolved_config(self) -> Any:
        """The config with every ``auto``/``None`` setting replaced by the value this model uses.

        Saved next to the weights and in ``config.yaml``, so a record says what ran (building
        a model from it gives the same model). Models without such settings return ``config``.
        """
        return self.config

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        """Write ``model.safetensors`` then ``config.json`` into folder ``path``, each replaced atomically.

        ``extra``: more top-level entries of ``config.json`` (the trainer records the step).
        """
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(path, e) from None
        meta = {
            "genzoo_model": self.registry_name,
            "format_version": FORMAT_VERSION,
            "data_shape": list(self.data_shape),
            "num_classes": self.num_classes,
            "config": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in dataclasses.asdict(self.resolved_config()).items()},
            **(extra or {}),
        }
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        atomic_write(path / "model.safetensors", safetensors_bytes(state))
        atomic_write(path / "config.json", json.dumps(meta, indent=2))
        return path


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """Load a saved model folder, or a run folder (its ``model/``), without knowing the model's name."""
    from ..config import from_dict
    from ..registry import get_model_class

    if isinstance(path, str) and path.startswith("zoo:"):  # a model shipped with genzoo, sha256-checked
        from ..zoo import resolve

        path = resolve(path)
    path = Path(path)
    if not (path / "config.json").exists() and (path / "model" / "config.json").exists():
        path = path / "model"
    cfg_file, weights = path / "config.json", path / "model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise GenzooError(f"{path} is not a saved genzoo model (expected config.json and model.safetensors)")
    try:
        meta = json.loads(cfg_file.read_text())
        name = meta["genzoo_model"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise GenzooError(f"{cfg_file} is not a genzoo model config: {e}") from None
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise GenzooError(f"{cfg_file} is not a genzoo model config: format_version {version!r}")
    if version > FORMAT_VERSION:
        raise GenzooError(f"{cfg_file} has format_version {version}, newer than this genzoo reads "
                          f"(up to {FORMAT_VERSION}): upgrade genzoo to load it")
    shape, num_classes = meta.get("data_shape"), meta.get("num_classes", 0)
    if not isinstance(name, str):
        raise GenzooError(f"{cfg_file}: genzoo_model must be a model name, not {name!r}")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise GenzooError(f"{cfg_file}: data_shape must be 1 to 3 positive integers, not {shape!r}")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 0:
        raise GenzooError(f"{cfg_file}: num_classes must be an integer >= 0, not {num_classes!r}")
    cls = get_model_class(name)
    try:  # a value out of its declared range names the file (and the field)
        model = cls(from_dict(cls.Config, meta.get("config") or {}), tuple(shape), num_classes)
    except GenzooError as e:
        raise type(e)(f"{cfg_file}: {e}") from None
    try:
        state = load_file(str(weights))
        # Key prefixes a saved model may leave out, e.g. a zoo GAN's discriminator (config.json "omitted").
        omitted = tuple(meta.get("omitted") or ())
        missing, unexpected = model.load_state_dict(state, strict=not omitted)
        if unexpected or any(not k.startswith(omitted) for k in missing):
            raise RuntimeError(f"missing keys {missing}, unexpected keys {unexpected}")
    except Exception as e:  # a truncated file or mismatched shapes
        raise GenzooError(f"cannot load weights from {weights}: {e}") from None
    return model.to(device).eval()
