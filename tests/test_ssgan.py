"""The semi-supervised GAN's paper protocol: weight norm, noise layers drawn through the model, the recipe.

Learning on digits is in test_gan_family.py; the MNIST reproduction is benchmarks/ssgan_accuracy.py
(docs/reproductions.md).
"""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genzoo.config import RunConfig
from genzoo.errors import ConfigError
from genzoo.models.base import Batch
from genzoo.models.nets import GaussianNoise, MLPBody, WeightNormLinear
from genzoo.registry import get_model_class

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "ssgan-salimans2016.yaml"
PROTOCOL = dict(arch="mlp", z_dim=8, g_hidden=(16,), d_hidden=(24, 12), weight_norm=True, d_activation="relu",
                g_activation="softplus", z_prior="uniform", labelled_per_class=2, labelled_draw="all")


def _ssgan(data_shape=(1, 8, 8), num_classes=4, **cfg):
    cls = get_model_class("ssgan")
    return cls(cls.Config(**cfg), data_shape, num_classes)


def test_weight_norm_data_init_standardises_each_unit_and_keeps_hidden_scales_fixed():
    torch.manual_seed(0)
    layer = WeightNormLinear(6, 4, train_scale=False)
    x = 3 * torch.randn(200, 6) + 1
    out = layer.data_init(x)
    torch.testing.assert_close(out, layer(x))
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(4), atol=1e-5, rtol=0)
    assert [n for n, _ in layer.named_parameters()] == ["v", "b"] and "g" in dict(layer.named_buffers())
    torch.testing.assert_close(layer.weight.norm(dim=1), layer.g)  # ||w|| = g, whatever v's length
    assert "g" in dict(WeightNormLinear(6, 4).named_parameters())  # trainable scale (the heads)


def test_weight_norm_forward_and_gradients_are_those_of_the_normalised_weight():
    """The layer scales its output, not its weight: the same function and gradients as x w^T + b."""
    torch.manual_seed(0)
    layer = WeightNormLinear(6, 4)
    with torch.no_grad():
        layer.g.uniform_(0.5, 2)
        layer.b.normal_()
    x = torch.randn(5, 6)
    layer(x).pow(2).sum().backward()
    fast = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    F.linear(x, layer.weight, layer.b).pow(2).sum().backward()
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.b))
    for a, p in zip(fast, layer.parameters()):
        torch.testing.assert_close(a, p.grad)


def test_noise_layers_draw_only_through_the_given_source():
    noise = GaussianNoise(0.5)
    x = torch.zeros(3, 5)
    with pytest.raises(RuntimeError, match="needs randn="):
        noise(x)
    torch.testing.assert_close(noise(x, lambda *s: torch.ones(*s)), torch.full((3, 5), 0.5))
    assert torch.equal(noise.eval()(x), x)  # no noise at test time
    body = MLPBody(5, (4, 3), noise=(0.3, 0.5))
    x = torch.rand(2, 5)
    state = torch.get_rng_state()
    body(x, randn=lambda *s: torch.zeros(*s))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is never touched


def test_a_d_step_split_into_shards_gives_the_gradient_of_the_whole_batch():
    # Noise layers, the uniform prior and the labelled examples are drawn per example, so D's
    # loss (means over the batch) splits exactly: the mean of the shards' gradients is the whole one.
    torch.manual_seed(0)
    m = _ssgan(**PROTOCOL)
    x = torch.rand(8, 1, 8, 8)
    m.labelled_x.copy_(torch.rand(8, 1, 8, 8))
    m.labelled_y.copy_(torch.arange(8) % 4)
    m.G.eval()  # G's batch norm is the one part that couples a batch; D has none
    params = list(m.D.parameters())

    def grads(shard, shards):
        m.zero_grad()
        with m.drawing_from(torch.Generator().manual_seed(1), shard, shards):
            part = x.chunk(shards)[shard]
            m.losses(Batch(part, None), "discriminator")["discriminator"].backward()
        return [p.grad.clone() for p in params]

    whole = grads(0, 1)
    halves = [grads(s, 2) for s in range(2)]
    for w, a, b in zip(whole, *halves):
        torch.testing.assert_close((a + b) / 2, w, atol=1e-6, rtol=1e-5)


def test_feature_matching_reads_the_last_hidden_layer_before_its_noise():
    m = _ssgan(**PROTOCOL)
    x = torch.rand(5, 1, 8, 8)
    ones = lambda *s: torch.ones(*s)  # noqa: E731
    logits, f = m.class_logits(x, ones)
    torch.testing.assert_close(logits, m.D["head"](f + 0.5))  # the head classifies f plus its noise
    torch.testing.assert_close(f, m.D["body"](x, randn=ones))  # f itself is the clean last layer
    m.eval()
    logits, f = m.class_logits(x)
    torch.testing.assert_close(logits, m.D["head"](f))  # at test time nothing is added


def test_the_recipe_builds_the_papers_networks():
    cfg = RunConfig.load(RECIPE)
    c = cfg.model_config
    m = get_model_class("ssgan")(c, (1, 28, 28), 10)
    linears = [l for l in m.D["body"].net if isinstance(l, WeightNormLinear)] + [m.D["head"]]
    assert [tuple(l.v.shape) for l in linears] == [(1000, 784), (500, 1000), (250, 500), (250, 250), (250, 250), (10, 250)]
    assert [n.std for n in m.D["body"].net if isinstance(n, GaussianNoise)] == [0.3, 0.5, 0.5, 0.5, 0.5]
    assert m.head_noise.std == 0.5
    assert all(isinstance(a, torch.nn.ReLU) for a in m.D["body"].net[2::3])
    g = list(m.G.net)
    assert [type(l).__name__ for l in g] == ["Linear", "ShiftOnlyBatchNorm1d", "Softplus"] * 2 + ["WeightNormLinear"]
    assert abs(float(g[3].weight.detach().std()) / (2 / 1000) ** 0.5 - 1) < 0.02  # Glorot uniform, 500 -> 500
    assert (g[0].out_features, g[3].out_features, g[-1].v.shape[0]) == (500, 500, 784)
    groups = {gr.name: gr for gr in m.optimizer_groups()}
    assert groups["discriminator"].lr == groups["generator"].lr == 0.003
    assert groups["discriminator"].betas == (0.5, 0.999) and groups["generator"].fresh_batch
    assert cfg.train.batch_size == 100 and cfg.train.steps == 300 * 600 and cfg.train.ema == 0.9999
    assert m.couples_batch


def test_mlp_only_options_are_refused_on_conv_networks_and_names_are_checked():
    with pytest.raises(ConfigError, match="model.weight_norm applies to the MLP networks"):
        _ssgan(weight_norm=True)
    with pytest.raises(ConfigError, match="model.z_prior must be normal or uniform, not 'gauss'"):
        _ssgan(z_prior="gauss")
    with pytest.raises(ConfigError, match="unknown activation 'tanh'"):
        _ssgan(arch="mlp", d_activation="tanh")
    m = _ssgan(**PROTOCOL)
    with m.drawing_from(torch.Generator().manual_seed(0), 0, 3):
        with pytest.raises(ConfigError, match="8 labelled examples .* 3 data-parallel shards"):
            m.labelled_batch()


def test_accuracy_is_measured_without_noise_and_restores_the_mode():
    m = _ssgan(**PROTOCOL)
    x, y = torch.rand(20, 1, 8, 8), torch.arange(20) % 4
    acc = m.accuracy(x, y)
    assert m.training and acc == float((m.eval().classify(x) == y).float().mean())


def test_accuracy_watch_scores_every_checkpoint_once_and_a_restart_keeps_the_curve(tmp_path):
    """benchmarks/ssgan_accuracy.py --watch: a run's rotated-away checkpoints stay in the curve."""
    from helpers import load_script, run_config
    from tiny_configs import TINY

    from genzoo.data import DataConfig, load_dataset
    from genzoo.train import train

    acc = load_script("benchmarks/ssgan_accuracy.py")
    cfg = run_config("ssgan", TINY["ssgan"][0], steps=6, batch_size=8, checkpoint_every=2, ema=0.9)
    run = train(cfg, out=tmp_path, progress=False)
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == ["step_00000004.pt", "step_00000006.pt"]
    test = load_dataset(DataConfig(name="digits"), "test")
    curve = tmp_path / "curve.json"
    earlier = {"step": 2, "raw_errors": 300, "averaged_errors": 250}  # scored before it rotated away
    curve.write_text(json.dumps({"rows": [{"run": str(run), "curve": [earlier]}]}))
    row = acc.watch(run, test, curve, every=0.0)
    assert [c["step"] for c in row["curve"]] == [2, 4, 6] and row["curve"][0] == earlier
    assert row["step"] == 6 and 0 <= row["averaged_errors"] <= len(test.y)
    assert json.loads(curve.read_text())["rows"][0]["curve"] == row["curve"]
    acc.curve_png([row], str(tmp_path / "curve.png"))
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_accuracy_names_the_runs_inside_a_folder_that_is_not_one(tmp_path):
    """train's --out folder given where a run is meant: one line naming the runs in it, no traceback."""
    from helpers import load_script

    acc = load_script("benchmarks/ssgan_accuracy.py")
    (tmp_path / "ssgan-mnist-001").mkdir()
    (tmp_path / "ssgan-mnist-001" / "config.yaml").write_text("model: ssgan\n")
    with pytest.raises(SystemExit, match=r"is not a run folder \(no config.yaml\) but holds runs: ssgan-mnist-001"):
        acc.require_run(tmp_path)
    with pytest.raises(SystemExit, match="no such folder"):
        acc.require_run(tmp_path / "missing")
    acc.require_run(tmp_path / "ssgan-mnist-001")  # a run folder passes


def test_accuracy_compare_draws_labelled_curve_files_and_names_a_bad_one(tmp_path):
    from helpers import load_script

    acc = load_script("benchmarks/ssgan_accuracy.py")
    ours, ref, bad = tmp_path / "ours.json", tmp_path / "ref.json", tmp_path / "bad.json"
    ours.write_text(json.dumps({"rows": [{"run": "r", "seed": 0, "curve": [
        {"step": 6000, "averaged_errors": 900, "raw_errors": 700}, {"step": 12000, "averaged_errors": 400, "raw_errors": 300}]}]}))
    ref.write_text(json.dumps({"rows": [{"run": "port", "seed": 0, "curve": [{"step": 6000, "averaged_errors": 1260}]}]}))
    bad.write_text("{not json")
    rows = acc.compared_rows([f"genzoo={ours}", f"the port={ref}"])
    assert [r["label"] for r in rows] == ["genzoo", "the port"] and rows[1]["curve"][0]["averaged_errors"] == 1260
    acc.curve_png(rows, str(tmp_path / "both.png"))
    assert (tmp_path / "both.png").stat().st_size > 0
    with pytest.raises(SystemExit, match="bad.json: not a curve file"):
        acc.compared_rows([f"x={bad}"])
    with pytest.raises(SystemExit, match="LABEL=FILE"):
        acc.compared_rows([str(ours)])


def test_authors_code_settings_reach_the_layers_the_loss_and_the_optimizers():
    """d_init_std (v's entries), feature_matching=mean (sum / features) and adam_eps (every optimizer)."""
    torch.manual_seed(0)
    wide = {**PROTOCOL, "d_hidden": (400, 300), "d_init_std": 0.1}
    m = _ssgan(**wide, feature_matching="mean", adam_eps=1e-4)
    layers = [l for l in m.D["body"].net if isinstance(l, WeightNormLinear)] + [m.D["head"]]
    assert all(abs(float(l.v.detach().std()) - 0.1) < 0.01 for l in layers[:2])
    assert {g.eps for g in m.optimizer_groups()} == {1e-4}
    assert {type(o).__name__: o.defaults["eps"] for o in (g.make_optimizer() for g in m.optimizer_groups())} == {"Adam": 1e-4}
    x = torch.rand(6, 1, 8, 8)
    summed = _ssgan(**wide)
    summed.load_state_dict(m.state_dict())
    torch.testing.assert_close(_generator_loss(m, x) * 300, _generator_loss(summed, x))
    with pytest.raises(ConfigError, match="feature_matching"):
        _ssgan(**PROTOCOL, feature_matching="max")


def _generator_loss(m, x):
    """G's feature-matching loss on x from a fixed noise stream."""
    g = torch.Generator().manual_seed(0)
    with m.drawing_from(g, 0, 1):
        return m.losses(Batch(x=x, y=None), "generator")["generator"]


def test_unsupervised_weight_scales_only_the_gan_term_of_d():
    torch.manual_seed(0)
    full = _ssgan(**PROTOCOL)
    half = _ssgan(**PROTOCOL, unsupervised_weight=0.5)
    half.load_state_dict(full.state_dict())
    x = torch.rand(6, 1, 8, 8)
    out = []
    for m in (full, half):
        with m.drawing_from(torch.Generator().manual_seed(0), 0, 1):
            out.append(m.losses(Batch(x=x, y=None), "discriminator"))
    gan_term = out[0]["discriminator"] - out[0]["supervised_loss"]
    torch.testing.assert_close(out[1]["discriminator"], 0.5 * gan_term + out[0]["supervised_loss"])


def test_generator_batch_norm_without_scale_and_glorot_init():
    """g_bn_scale=False: G's batch norm learns only a shift (the scale is a buffer of ones, same state
    dict keys); g_init=glorot: Glorot-uniform weights, zero biases, the output directions too."""
    torch.manual_seed(0)
    wide = {**PROTOCOL, "g_hidden": (300, 200)}
    default, code = _ssgan(**wide), _ssgan(**wide, g_bn_scale=False, g_init="glorot")
    assert default.state_dict().keys() == code.state_dict().keys()
    bns = [m for m in code.G.net if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) == 2 and all("weight" not in dict(m.named_parameters()) and m.weight.eq(1).all() for m in bns)
    assert {n.rsplit(".", 1)[1] for n, _ in code.G.named_parameters() if ".1." in n or ".4." in n} == {"bias"}
    linears = [m for m in code.G.net if isinstance(m, torch.nn.Linear)]
    for m in linears:  # Glorot uniform: std sqrt(2 / (fan_in + fan_out))
        expected = (2 / sum(m.weight.shape)) ** 0.5
        assert abs(float(m.weight.detach().std()) / expected - 1) < 0.05 and m.bias.eq(0).all()
    head = code.G.net[-1]
    assert abs(float(head.v.detach().std()) / (2 / sum(head.v.shape)) ** 0.5 - 1) < 0.05
    # PyTorch's default for the 300 -> 200 layer is U(+-1/sqrt(300)): std 1/30, not Glorot's 0.063
    assert abs(float(default.G.net[3].weight.detach().std()) * 30 - 1) < 0.05
    # a training step moves the shift and leaves the scale at one
    opt = torch.optim.Adam([p for p in code.G.parameters()], lr=0.1)
    code.G(torch.rand(16, 8)).pow(2).mean().backward()
    opt.step()
    assert all(m.weight.eq(1).all() and m.bias.ne(0).any() for m in bns)
    with pytest.raises(ConfigError, match="g_init"):
        _ssgan(**PROTOCOL, g_init="he")
    with pytest.raises(ConfigError, match="g_bn_scale applies to the MLP networks"):
        _ssgan(arch="conv", g_bn_scale=False, data_shape=(1, 28, 28), num_classes=10)
