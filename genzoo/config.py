"""Frozen, typed configuration: dataclasses that round-trip to YAML/JSON and take dotted overrides.

A run's configuration has three sections: ``model`` (the model's own dataclass, found through
the registry), ``data`` (:class:`~genzoo.data.base.DataConfig`) and ``train``
(:class:`TrainConfig`). ``--set model.z_dim=64`` style overrides address fields by section.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .data.base import DataConfig
from .errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """How to train: budgets, batch, seed, logging and checkpoint cadence, EMA, device."""

    steps: int = 10_000  # optimisation iterations (one iteration steps every optimizer group)
    minutes: float | None = None  # wall-clock training budget (evaluations excluded); stops at whichever comes first
    batch_size: int = 64  # the global batch (split across ranks under torchrun)
    seed: int = 0
    ema: float = 0.0  # decay of an exponential moving average of the weights; 0 turns it off
    log_every: int = 100
    sample_every: int = 1000  # write a progress grid from fixed noise every N steps
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    grid_size: int = 64  # images in each progress grid
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 | fp16
    micro_batches: int = 1  # split each rank's batch, accumulating gradients (batch norm sees each part alone)
    compile: bool = False  # torch.compile the model; checked against eager gradients on the first step
    channels_last: bool = False  # NHWC memory layout for convolutional models
    stream_above_mb: float = 2048.0  # image folders larger than this (as float32) stream from disk
    data_workers: int = 2  # DataLoader worker processes for a streamed folder
    eval_every: int = 0  # evaluate every N steps (0: never); see genzoo.metrics
    eval_metrics: str = ""  # comma-separated metric names for periodic evaluation
    eval_n: int = 2000
    tensorboard: bool = True  # also log to TensorBoard when it is installed

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ConfigError(f"train.steps must be >= 0, not {self.steps}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, not {self.batch_size}")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"train.minutes must be positive, not {self.minutes}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"train.ema is a decay in [0, 1), not {self.ema}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"train.precision must be fp32, bf16 or fp16, not {self.precision!r}")
        for name in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size", "micro_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as ``config.yaml`` in the run folder."""

    model: str
    model_config: Any  # the registered model's Config dataclass
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_config": to_dict(self.model_config),
            "data": to_dict(self.data),
            "train": to_dict(self.train),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        from .registry import get_model_class

        model_cls = get_model_class(d["model"])
        return cls(
            model=d["model"],
            model_config=from_dict(model_cls.Config, d.get("model_config") or {}),
            data=from_dict(DataConfig, d.get("data") or {}),
            train=from_dict(TrainConfig, d.get("train") or {}),
        )

    def save(self, path: str | Path) -> None:
        """Write YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        text = (
            yaml.safe_dump(self.to_dict(), sort_keys=False)
            if path.suffix in (".yaml", ".yml")
            else json.dumps(self.to_dict(), indent=2)
        )
        path.write_text(text)

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        try:
            d = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from None
        if not isinstance(d, dict) or "model" not in d:
            raise ConfigError(f"{path} is not a genzoo run config (no 'model' key)")
        return cls.from_dict(d)

    def override(self, assignments: list[str]) -> "RunConfig":
        """Apply ``section.field=value`` strings, e.g. ``model.z_dim=64`` or ``train.ema=0.999``."""
        cfg = self
        for item in assignments:
            key, sep, raw = item.partition("=")
            section, dot, name = key.strip().partition(".")
            if not sep or not dot:
                raise ConfigError(f"--set expects section.field=value (e.g. model.z_dim=64), got {item!r}")
            attr = {"model": "model_config", "data": "data", "train": "train"}.get(section)
            if attr is None:
                raise ConfigError(f"--set {item!r}: unknown section {section!r} (model, data or train)")
            value = yaml.safe_load(raw) if raw.strip() else None
            cfg = dataclasses.replace(cfg, **{attr: replace_field(getattr(cfg, attr), name, value, section)})
        return cfg


def to_dict(obj: Any) -> dict:
    """A dataclass as plain JSON/YAML types (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def from_dict(cls: type, d: dict) -> Any:
    """Build dataclass ``cls`` from a dict, checking names and coercing types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(d) - names
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(names)}")
    return cls(**{k: _coerce(v, hints[k], f"{cls.__name__}.{k}") for k, v in d.items()})


def replace_field(obj: Any, name: str, value: Any, section: str = "") -> Any:
    """``dataclasses.replace`` for one field, with the value coerced to its declared type."""
    hints = typing.get_type_hints(type(obj))
    if name not in hints:
        known = ", ".join(f.name for f in dataclasses.fields(obj))
        raise ConfigError(f"unknown field {section}.{name}; {section} has: {known}")
    return dataclasses.replace(obj, **{name: _coerce(value, hints[name], f"{section}.{name}")})


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, where) for v in value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where} must be an integer, not {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "2e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number, not {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return value
