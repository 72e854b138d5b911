"""Small builders shared by the tests."""
from __future__ import annotations

from genzoo.config import RunConfig, TrainConfig, from_dict
from genzoo.data.base import DataConfig
from genzoo.registry import get_model_class


def run_config(model: str, model_cfg: dict | None = None, data: str = "digits", **train) -> RunConfig:
    """A RunConfig with quiet defaults for tests (no TensorBoard, no progress grids unless asked)."""
    cls = get_model_class(model)
    defaults = dict(steps=10, batch_size=32, log_every=5, sample_every=10**6, checkpoint_every=10**6, tensorboard=False)
    defaults.update(train)
    return RunConfig(model, from_dict(cls.Config, model_cfg or {}), DataConfig(name=data), TrainConfig(**defaults))
