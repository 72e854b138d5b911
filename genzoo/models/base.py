"""The contract every genzoo model follows, and saving/loading a trained model.

A model declares its optimizer groups (:meth:`GenerativeModel.optimizer_groups`), computes
the loss of one group on a batch (:meth:`GenerativeModel.losses`) and samples
(:meth:`GenerativeModel.sample`). The trainer needs nothing else, so it never knows which
model it trains. A saved model is a folder: ``config.json`` + ``model.safetensors``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import ConfigError, GenzooError

FORMAT_VERSION = 1


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
    steps: int = 1
    fresh_batch: bool = True

    def make_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(self.params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(self.params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(self.params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            return torch.optim.SGD(self.params, lr=self.lr, momentum=self.betas[0], weight_decay=self.weight_decay)
        raise ConfigError(f"unknown optimizer {self.optimizer!r} (adam, adamw, rmsprop or sgd)")


class GenerativeModel(nn.Module):
    """Base class of every genzoo model.

    Subclasses define a frozen ``Config`` dataclass, register with ``@register(name)`` and
    implement :meth:`optimizer_groups`, :meth:`losses` and :meth:`sample`. Where the maths
    allows they add ``encode``/``decode``, ``elbo``, ``log_prob`` and
    ``log_importance_weights``.
    """

    Config: ClassVar[type]
    registry_name: ClassVar[str] = ""
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

    def health(self, scalars: dict[str, float]) -> str | None:
        """Given the logged means of the last window, a warning if training looks broken (else None).

        E.g. a GAN whose discriminator accuracy is pinned at 1. The trainer prints and logs it.
        """
        return None

    # -- helpers --------------------------------------------------------------------
    # Training noise goes through randn() so that data-parallel ranks can draw slices of one
    # global noise tensor (the trainer sets noise_slice); the result then does not depend on
    # how many processes share the batch.
    noise_slice: tuple[int, int] = (0, 1)  # (rank, world_size)
    global_step: int = 0  # set by the trainer before each iteration (e.g. for annealed instance noise)

    def _sliced(self, draw: Callable[..., torch.Tensor], shape: tuple[int, ...]) -> torch.Tensor:
        """``draw(shape)`` on one rank; under DDP this rank's slice of one global draw along dim 0."""
        rank, world = self.noise_slice
        if world == 1:
            return draw(shape)
        return draw((shape[0] * world, *shape[1:]))[rank * shape[0] : (rank + 1) * shape[0]]

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal training noise of ``shape`` on the model's device (rank-sliced under DDP)."""
        return self._sliced(lambda s: torch.randn(s, device=self.device), shape)

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) training noise of ``shape`` (rank-sliced under DDP)."""
        return self._sliced(lambda s: torch.rand(s, device=self.device), shape)

    def randint(self, high: int, n: int) -> torch.Tensor:
        """``n`` training indices in [0, high) (rank-sliced under DDP)."""
        return self._sliced(lambda s: torch.randint(high, s, device=self.device), (n,))

    def randn_from(self, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
        """Standard normal noise from ``generator`` (on its own device), moved to the model's device."""
        if generator is None:
            return self.randn(*shape)
        return torch.randn(*shape, generator=generator, device=generator.device).to(self.device)

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
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into folder ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "genzoo_model": self.registry_name,
            "format_version": FORMAT_VERSION,
            "data_shape": list(self.data_shape),
            "num_classes": self.num_classes,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self.config).items()},
        }
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp = path / "model.safetensors.tmp"
        save_file(state, str(tmp))
        tmp.replace(path / "model.safetensors")
        (path / "config.json").write_text(json.dumps(meta, indent=2))
        return path


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """Load a saved model folder, or a run folder (its ``model/``), without knowing the model's name."""
    from ..config import from_dict
    from ..registry import get_model_class

    path = Path(path)
    if not (path / "config.json").exists() and (path / "model" / "config.json").exists():
        path = path / "model"
    cfg_file, weights = path / "config.json", path / "model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise GenzooError(f"{path} is not a saved genzoo model (expected config.json and model.safetensors)")
    try:
        meta = json.loads(cfg_file.read_text())
        name = meta["genzoo_model"]
    except (json.JSONDecodeError, KeyError) as e:
        raise GenzooError(f"{cfg_file} is not a genzoo model config: {e}") from None
    cls = get_model_class(name)
    model = cls(from_dict(cls.Config, meta["config"]), tuple(meta["data_shape"]), meta.get("num_classes", 0))
    try:
        state = load_file(str(weights))
        model.load_state_dict(state)
    except Exception as e:  # a truncated file or mismatched shapes
        raise GenzooError(f"cannot load weights from {weights}: {e}") from None
    return model.to(device).eval()
