"""Frozen, typed configuration: dataclasses that round-trip to YAML/JSON and take dotted overrides.

A run's configuration has three sections: ``model`` (the model's own dataclass, found through
the registry), ``data`` (:class:`~genzoo.data.base.DataConfig`) and ``train``
(:class:`TrainConfig`). ``--set model.z_dim=64`` style overrides address fields by section.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable

import yaml

from .errors import ConfigError

# ---------------------------------------------------------------- allowed values, declared on the fields
# A field states what it accepts in its annotation, e.g. ``z_dim: Annotated[int, Range(1)] = 64``
# (or the alias ``PositiveInt``); :func:`check_config` reads these declarations, and it runs on
# construction (``__post_init__`` of the train and data sections, ``RunConfig`` and every model's
# ``__init__``), in :func:`from_dict` (config files) and in :func:`replace_field` (``--set``).
# Defined before anything else in this module so that genzoo.data and genzoo.models can import them.


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Range:
    """The interval a number (or each number of a tuple) must lie in: ``low <= v <= high``.

    ``low_open``/``high_open`` make an end strict (``Range(0, low_open=True)``: v > 0). NaN is
    never allowed, and infinities only with ``finite=False``.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_num(self.low)}, "
                    f"{_num(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "a finite number"

    def check(self, v: Any, where: str) -> None:
        ok = v == v and (not self.finite or math.isfinite(v))  # v == v is False for NaN
        if ok and self.low is not None:
            ok = v > self.low if self.low_open else v >= self.low
        if ok and self.high is not None:
            ok = v < self.high if self.high_open else v <= self.high
        if not ok:
            raise ConfigError(f"{where} must be {self.describe()}, not {v!r}")


class OneOf:
    """The values a field may take: ``Annotated[str, OneOf("adam", "sgd")]``."""

    def __init__(self, *choices: Any) -> None:
        self.choices = choices

    def __repr__(self) -> str:
        return f"OneOf{self.choices!r}"

    def check(self, v: Any, where: str) -> None:
        if v not in self.choices:
            names = [str(c) for c in self.choices]
            listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            raise ConfigError(f"{where} must be {listed}, not {v!r}")


@dataclass(frozen=True)
class Length:
    """How many items a tuple field holds: ``min <= len <= max``."""

    min: int = 0
    max: int | None = None

    def check(self, v: tuple, where: str) -> None:
        if len(v) < self.min or (self.max is not None and len(v) > self.max):
            most = f" and at most {self.max}" if self.max is not None else ""
            raise ConfigError(f"{where} must hold at least {self.min}{most} value(s), not {list(v)}")


@dataclass(frozen=True)
class Satisfies:
    """A named condition on a value: ``Satisfies(lambda v: v % 2 == 1, "odd")``."""

    test: Callable[[Any], bool]
    description: str

    def check(self, v: Any, where: str) -> None:
        if not self.test(v):
            raise ConfigError(f"{where} must be {self.description}, not {v!r}")


_ELEMENT_CHECKS = (Range, OneOf, Satisfies)  # applied to each item of a tuple field

# Aliases for the common declarations.
PositiveInt = Annotated[int, Range(1)]
NonNegativeInt = Annotated[int, Range(0)]
PositiveFloat = Annotated[float, Range(0, low_open=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]
Seed = Annotated[int, Range(0, 2**32 - 1)]  # also leaves room for the offsets the trainer adds
Width = Annotated[int, Range(1, 65_536)]  # a layer's width, or a latent's dimension
Widths = Annotated[tuple[int, ...], Range(1, 65_536), Length(1)]  # hidden-layer widths: at least one layer
LayerWidths = Annotated[tuple[int, ...], Range(1, 65_536)]  # hidden-layer widths, none allowed (a linear map)
OddKernel = Annotated[int, Range(1), Satisfies(lambda v: v % 2 == 1, "an odd number")]
Optimizer = Annotated[str, OneOf("adam", "adamw", "rmsprop", "sgd")]
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: budgets, batch, seed, logging and checkpoint cadence, EMA, device."""

    steps: NonNegativeInt = 10_000  # optimisation iterations (one iteration steps every optimizer group)
    minutes: PositiveFloat | None = None  # wall-clock training budget (evaluations excluded); stops at whichever comes first
    batch_size: PositiveInt = 64  # the global batch (split across ranks under torchrun)
    seed: Seed = 0
    ema: Annotated[float, Range(0, 1, high_open=True)] = 0.0  # decay of an EMA of the weights; 0 turns it off
    lr_halflife: NonNegativeInt = 0  # iterations in which every learning rate halves (0: constant); a function of the step, so a longer run keeps the same schedule
    log_every: PositiveInt = 100
    sample_every: PositiveInt = 1000  # write a progress grid from fixed noise every N steps
    checkpoint_every: PositiveInt = 1000
    keep_checkpoints: PositiveInt = 2
    grid_size: Annotated[int, Range(1, 10_000)] = 64  # images in each progress grid
    device: Annotated[str, Satisfies(DEVICE_PATTERN.fullmatch, "auto, cpu, mps, cuda or cuda:N")] = "auto"
    precision: Annotated[str, OneOf("fp32", "bf16", "fp16")] = "fp32"
    micro_batches: PositiveInt = 1  # split each rank's batch, accumulating gradients (batch norm sees each part alone)
    # under torchrun: the longest a collective waits for another process before the job stops naming it
    dist_timeout_minutes: Annotated[float, Range(0, 24 * 60, low_open=True)] = 5.0
    compile: bool = False  # torch.compile the model; checked against eager gradients on the first step
    channels_last: bool = False  # NHWC memory layout for convolutional models
    # image folders larger than this (as float32) stream from disk (inf: never)
    stream_above_mb: Annotated[float, Range(0, finite=False)] = 2048.0
    data_workers: NonNegativeInt = 2  # DataLoader worker processes for a streamed folder
    eval_every: NonNegativeInt = 0  # evaluate every N steps (0: never); see genzoo.metrics
    eval_metrics: str = ""  # comma-separated metric names for periodic evaluation
    eval_n: Annotated[int, Range(10, 100_000)] = 2000  # samples per periodic evaluation (the limits of evaluate --n)
    tensorboard: bool = True  # also log to TensorBoard when it is installed

    def __post_init__(self) -> None:
        check_config(self, "train")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as ``config.yaml`` in the run folder."""

    model: str
    model_config: Any  # the registered model's Config dataclass
    data: DataConfig = field(default_factory=lambda: _data_config_class()())
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise ConfigError(f"model must be the name of a registered model, not {self.model!r}")
        for section, obj in (("model", self.model_config), ("data", self.data), ("train", self.train)):
            if dataclasses.is_dataclass(obj):
                check_config(obj, section)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_config": to_dict(self.model_config),
            "data": to_dict(self.data),
            "train": to_dict(self.train),
        }

    @classmethod
    def from_dict(cls, d: dict, record: bool = False) -> "RunConfig":
        """Build from plain types; unknown sections, wrong types and values out of range are ConfigErrors.

        A model's ``train_defaults`` fill the train fields a recipe leaves out. A ``record`` (a run
        folder's ``config.yaml``, written in full) takes the fields' own defaults instead: a field it
        lacks is newer than the run, and what the run trained with is the field's original default,
        whatever the model's defaults have become since.
        """
        from .registry import get_model_class

        if not isinstance(d, dict):
            raise ConfigError(f"a run config is a mapping of sections, not {type(d).__name__}")
        sections = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in d if k not in sections and k not in RECORD_KEYS]
        if unknown:
            raise ConfigError(f"unknown section(s) {', '.join(map(repr, unknown))}; a run config has "
                              f"{', '.join(sections)}")
        if not isinstance(d.get("model"), str):
            raise ConfigError(f"'model' must name a registered model (see genzoo list), not {d.get('model')!r}")
        for key in ("model_config", "data", "train"):
            if d.get(key) is not None and not isinstance(d[key], dict):
                raise ConfigError(f"section {key!r} must be a mapping of field: value, not {type(d[key]).__name__}")
        model_cls = get_model_class(d["model"])
        data = from_dict(_data_config_class(), d.get("data") or {}, "data")
        defaults = {} if record else model_cls.train_defaults
        if not record and model_cls.image_train_defaults and not _is_toy(data.name):
            defaults = {**defaults, **model_cls.image_train_defaults}
        return cls(
            model=d["model"],
            model_config=from_dict(model_cls.Config, d.get("model_config") or {}, "model"),
            data=data,
            train=from_dict(TrainConfig, {**defaults, **(d.get("train") or {})}, "train"),
        )

    @classmethod
    def for_model(cls, name: str) -> "RunConfig":
        """The default run of model ``name``: its default config and its training defaults
        (``train_defaults``, e.g. dcgan's EMA, and on images ``image_train_defaults``) on the default dataset."""
        return cls.from_dict({"model": name})

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
    def load(cls, path: str | Path, record: bool = False) -> "RunConfig":
        """Read a YAML or JSON run config (``record``: a run folder's own, see :meth:`from_dict`)."""
        path = Path(path)
        try:
            d = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config {path}: {' '.join(str(e).split())}") from None
        except (UnicodeDecodeError, ValueError) as e:
            raise ConfigError(f"cannot read config {path}: not a text (YAML or JSON) file ({e})") from None
        if not isinstance(d, dict) or "model" not in d:
            raise ConfigError(f"{path} is not a genzoo run config (no 'model' key)")
        try:
            return cls.from_dict(d, record)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

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
            try:
                value = yaml.safe_load(raw) if raw.strip() else None
            except yaml.YAMLError as e:
                raise ConfigError(f"--set {item!r}: the value is not YAML ({' '.join(str(e).split())})") from None
            cfg = dataclasses.replace(cfg, **{attr: replace_field(getattr(cfg, attr), name, value, section)})
        return cfg


# Top-level keys of a saved config.yaml that record history rather than settings (the resumes).
RECORD_KEYS = ("resumed",)


def _data_config_class() -> type:
    from .data.base import DataConfig  # imported late: genzoo.data imports this module's declarations

    return DataConfig


def _is_toy(name: str) -> bool:
    """Whether dataset ``name`` is one of the toy 2-D sets (points, not images)."""
    from .data.toy2d import SAMPLERS  # imported late, as above

    return name in SAMPLERS


def _section(cls: type) -> str:
    return {"TrainConfig": "train", "DataConfig": "data"}.get(cls.__name__, "model")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def check_config(obj: Any, section: str | None = None) -> None:
    """Check every field of config dataclass ``obj`` against its declared type and allowed values.

    Raises a ConfigError naming ``section.field`` and the value (``section`` defaults to model,
    data or train by the class).
    """
    section = section or _section(type(obj))
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        if f.init:
            _coerce(getattr(obj, f.name), hints[f.name], f"{section}.{f.name}")


def to_dict(obj: Any) -> dict:
    """A dataclass as plain JSON/YAML types (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def from_dict(cls: type, d: dict, section: str | None = None) -> Any:
    """Build dataclass ``cls`` from a dict, checking names, coercing types and checking allowed values."""
    section = section or _section(cls)
    if not isinstance(d, dict):
        raise ConfigError(f"section {section!r} must be a mapping of field: value, not {type(d).__name__}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [k for k in d if k not in names]
    if unknown:
        raise ConfigError(f"unknown {section} field(s) {', '.join(map(repr, unknown))}; known: {', '.join(names)}")
    obj = cls(**{k: _coerce(v, hints[k], f"{section}.{k}") for k, v in d.items()})
    check_config(obj, section)  # defaults and fields not given are checked too
    return obj


def replace_field(obj: Any, name: str, value: Any, section: str = "") -> Any:
    """``dataclasses.replace`` for one field, with the value coerced to its declared type and checked."""
    section = section or _section(type(obj))
    hints = _hints(type(obj))
    if name not in hints or name not in {f.name for f in dataclasses.fields(obj)}:
        known = ", ".join(f.name for f in dataclasses.fields(obj))
        raise ConfigError(f"unknown field {section}.{name}; {section} has: {known}")
    return dataclasses.replace(obj, **{name: _coerce(value, hints[name], f"{section}.{name}")})


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp`` (plain YAML/JSON types accepted), checked against its declarations."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        value = _coerce(value, args[0], where)
        for rule in tp.__metadata__:
            if isinstance(value, tuple) and isinstance(rule, _ELEMENT_CHECKS):
                for item in value:
                    rule.check(item, where)
            elif hasattr(rule, "check"):
                rule.check(value, where)
        return value
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
        if len(args) == 2 and args[1] is Ellipsis or not args:
            inner = args[0] if args else Any
            return tuple(_coerce(v, inner, where) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{where} must hold {len(args)} values, not {list(value)}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
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
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:  # YAML 1.1 reads "2e-4" (no dot) as a string
                return float(value)
            except (ValueError, OverflowError):
                pass
        raise ConfigError(f"{where} must be a number, not {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return value
