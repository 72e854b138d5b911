"""Model registry: name -> class, filled by ``@register``; the CLI, ``genzoo.load`` and the tests share it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    from .models.base import GenerativeModel

_MODELS: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a model available as ``name``."""

    def wrap(cls: T) -> T:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        if not hasattr(cls, "Config"):
            raise TypeError(f"{cls.__name__} needs a nested Config dataclass")
        cls.registry_name = name
        _MODELS[name] = cls
        return cls

    return wrap


def _ensure_loaded() -> None:
    from . import models  # noqa: F401  (importing the package registers every model)


def model_names() -> list[str]:
    """All registered model names, sorted."""
    _ensure_loaded()
    return sorted(_MODELS)


def get_model_class(name: str) -> type["GenerativeModel"]:
    """The class registered as ``name``; a ConfigError lists the known names otherwise."""
    _ensure_loaded()
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(_MODELS))}") from None
