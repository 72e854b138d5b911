"""Small builders shared by the tests."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from genzoo.config import RunConfig, TrainConfig, from_dict
from genzoo.data.base import DataConfig
from genzoo.registry import get_model_class


def run_config(model: str, model_cfg: dict | None = None, data: str = "digits", **train) -> RunConfig:
    """A RunConfig with quiet defaults for tests (no TensorBoard, no progress grids unless asked)."""
    cls = get_model_class(model)
    defaults = dict(steps=10, batch_size=32, log_every=5, sample_every=10**6, checkpoint_every=10**6, tensorboard=False)
    defaults.update(train)
    return RunConfig(model, from_dict(cls.Config, model_cfg or {}), DataConfig(name=data), TrainConfig(**defaults))


def load_script(path: str):
    """A script of the repository (``benchmarks/...``, ``scripts/...``) imported as a module."""
    file = Path(__file__).resolve().parent.parent / path
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
