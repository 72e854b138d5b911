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


def test_a_models_training_defaults_apply_where_the_config_is_silent(tmp_path):
    assert RunConfig.for_model("dcgan").train.ema == 0.999  # dcgan's measured recipe samples from an EMA
    assert RunConfig.for_model("vae").train.ema == 0.0  # the field's own default elsewhere
    (tmp_path / "silent.yaml").write_text("model: dcgan\ntrain: {steps: 5}\n")
    (tmp_path / "explicit.yaml").write_text("model: dcgan\ntrain: {steps: 5, ema: 0.0}\n")
    assert RunConfig.load(tmp_path / "silent.yaml").train.ema == 0.999
    assert RunConfig.load(tmp_path / "explicit.yaml").train.ema == 0.0  # an explicit setting wins
    cfg = RunConfig.load(tmp_path / "explicit.yaml")
    cfg.save(tmp_path / "saved.yaml")  # what a run records is explicit, so a resume keeps it
    assert "ema: 0.0" in (tmp_path / "saved.yaml").read_text() and RunConfig.load(tmp_path / "saved.yaml") == cfg


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


# -- allowed values are declared on the fields and checked wherever a value enters ---------------
import dataclasses  # noqa: E402
import math  # noqa: E402
import typing  # noqa: E402

from genzoo.config import OneOf, Range, check_config, from_dict  # noqa: E402
from genzoo.data.base import DataConfig  # noqa: E402
from genzoo.registry import get_model_class, model_names  # noqa: E402


@pytest.mark.parametrize(
    "item, needle",
    [("model.z_dim=0", "model.z_dim must be in [1, 65536], not 0"), ("model.lr=-1", "model.lr must be > 0"),
     ("model.lr=nan", "model.lr must be > 0, not nan"), ("model.hidden=[]", "model.hidden must hold at least 1"),
     ("model.hidden=[16,-4]", "model.hidden must be in [1, 65536], not -4"), ("train.minutes=.nan", "train.minutes"),
     ("train.minutes=.inf", "train.minutes"), ("train.device=tpu", "train.device must be auto, cpu"),
     ("train.seed=-1", "train.seed"), ("train.eval_n=0", "train.eval_n"), ("data.resize=0", "data.resize"),
     ("data.channels=2", "data.channels must be 1 or 3"), ("model.decoder=poisson", "model.decoder must be bernoulli")],
)
def test_set_checks_the_declared_range(item, needle):
    with pytest.raises(ConfigError) as e:
        run_config("vae").override([item])
    assert needle in str(e.value)


def test_construction_and_files_check_the_same_declarations(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.minutes must be > 0, not nan"):
        TrainConfig(minutes=math.nan)
    with pytest.raises(ConfigError, match=r"model\.d_steps must be >= 1, not 0"):
        get_model_class("gan")(get_model_class("gan").Config(d_steps=0), (2,))  # a model never builds from it
    with pytest.raises(ConfigError, match=r"model\.betas must hold 2 values"):
        from_dict(get_model_class("dcgan").Config, {"betas": [0.5]})
    for text, needle in [('{"model": "vae", "model_config": {"z_dim": -3}}', "model.z_dim must be in [1, 65536], not -3"),
                         ('{"model": "vae", "train": {"steps": [1, 2]}}', "train.steps must be an integer, not [1, 2]"),
                         ("model: vae\nmodels_config: {z_dim: 2}\n", "unknown section(s) 'models_config'"),
                         ("model: [vae]\n", "'model' must name a registered model"),
                         ("model: vae\ntrain: [1, 2]\n", "section 'train' must be a mapping")]:
        path = tmp_path / "c.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as e:
            RunConfig.load(path)
        assert str(e.value).startswith(f"{path}: ") and needle in str(e.value), str(e.value)
    binary = tmp_path / "model.safetensors"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match="not a text"):
        RunConfig.load(binary)


def test_a_resumed_runs_history_is_not_an_unknown_section(tmp_path):
    d = run_config("vae").to_dict()
    d["resumed"] = [{"step": 10, "changes": {}}]
    assert RunConfig.from_dict(d) == run_config("vae")


def _numeric(tp) -> bool:
    tp = typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return any(a in (int, float) or typing.get_origin(a) is tuple for a in args)


def _declared(tp) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        return any(isinstance(m, (Range, OneOf)) for m in tp.__metadata__)
    return any(_declared(a) for a in typing.get_args(tp))


@pytest.mark.parametrize("section", ["train", "data", *model_names()])
def test_every_numeric_field_declares_its_range(section):
    """A new model's Config cannot forget: each int, float or tuple-of-numbers field carries a Range or OneOf."""
    cls = {"train": TrainConfig, "data": DataConfig}.get(section) or get_model_class(section).Config
    hints = typing.get_type_hints(cls, include_extras=True)
    missing = [f.name for f in dataclasses.fields(cls) if _numeric(hints[f.name]) and not _declared(hints[f.name])]
    assert not missing, f"{section}: declare the allowed values of {missing} (genzoo.config.Range / OneOf)"
    check_config(cls())  # and the defaults satisfy them
