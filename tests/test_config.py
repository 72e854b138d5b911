import pytest

from genzoo.config import RunConfig, TrainConfig
from genzoo.errors import ConfigError
from helpers import run_config


def test_yaml_and_json_round_trip(tmp_path):
    cfg = run_config("gan", {"g_hidden": [32, 32], "loss": "minimax"}, steps=7)
    for name in ("c.yaml", "c.json"):
        cfg.save(tmp_path / name)
        assert RunConfig.load(tmp_path / name) == cfg


def test_overrides_are_typed():
    cfg = run_config("vae").override(["model.z_dim=2", "train.ema=0.999", "data.binarize=dynamic", "model.hidden=[64,32]"])
    assert cfg.model_config.z_dim == 2 and cfg.train.ema == 0.999
    assert cfg.data.binarize == "dynamic" and cfg.model_config.hidden == (64, 32)
    assert run_config("vae").override(["model.lr=2e-4"]).model_config.lr == 2e-4  # YAML reads 2e-4 as a string


@pytest.mark.parametrize(
    "item, needle",
    [("model.nope=1", "model.nope"), ("model.z_dim=abc", "model.z_dim"), ("foo.z_dim=1", "foo"),
     ("z_dim=1", "section.field=value"), ("train.ema=1.5", "train.ema"), ("data.binarize=maybe", "binarize")],
)
def test_bad_overrides_name_the_field(item, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        run_config("vae").override([item])


def test_configs_are_frozen():
    with pytest.raises(Exception):
        TrainConfig().steps = 3  # type: ignore[misc]
