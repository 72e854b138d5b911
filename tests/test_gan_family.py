"""The GAN family: objectives, packing, instance noise, health warnings, the models' own behaviour, and learning.

Learning tests assert numbers: every objective on the PacGAN/VEEGAN ring (the standard mode metric),
InfoGAN and BiGAN on 8gaussians, ssgan on digits, cgan on MNIST (the pinned LeNet labels its
samples). Each runs through a ``*_figures(seed, run_dir)`` function, which
benchmarks/gan_learning_seeds.py runs over seeds 0-4; the per-seed figures are in
docs/benchmarks.md and each assertion sits with a margin below the worst seed.
"""
import json
import math

import pytest
import torch
from scipy.optimize import linear_sum_assignment

import genzoo
from genzoo.cli import main
from genzoo.config import RunConfig
from genzoo.data import DataConfig, load_dataset
from genzoo.errors import ConfigError, GenzooError
from genzoo.metrics.toy import mode_metrics
from genzoo.models.base import Batch
from genzoo.models.objectives import get_objective, objective_names
from genzoo.models.ssgan import labelled_subset
from genzoo.registry import get_model_class
from genzoo.train import Trainer
from genzoo.viz.latent import code_traversal
from helpers import run_config


def _model(name, data_shape=(2,), num_classes=0, **cfg):
    cls = get_model_class(name)
    return cls(cls.Config(**cfg), data_shape, num_classes)


# ---------------------------------------------------------------- objectives


def test_every_objective_is_registered():
    assert set(objective_names()) >= {"minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge", "softmax"}
    with pytest.raises(ConfigError, match="unknown GAN loss 'nope'.*wgan-gp"):
        get_objective("nope")


def test_objective_values_at_known_points():
    r, f = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0])
    assert float(get_objective("lsgan").discriminator(r, f)) == 0.0  # D exactly on its targets
    assert float(get_objective("lsgan").generator(torch.ones(3))) == 0.0
    assert float(get_objective("wgan").discriminator(torch.tensor([3.0]), torch.tensor([1.0]))) == -2.0
    assert float(get_objective("hinge").discriminator(torch.tensor([1.5]), torch.tensor([-1.0]))) == 0.0
    assert float(get_objective("hinge").discriminator(torch.tensor([0.0]), torch.tensor([0.0]))) == 2.0
    # Softmax GAN: equal scores everywhere give log(|B|) for D and G alike.
    s = get_objective("softmax")
    z = torch.zeros(4)
    assert abs(float(s.discriminator(z, z)) - torch.log(torch.tensor(8.0)).item()) < 1e-6
    assert abs(float(s.generator(z, z)) - torch.log(torch.tensor(8.0)).item()) < 1e-6
    with pytest.raises(ValueError, match="needs d_real"):
        s.generator(z)


def test_gradient_penalty_is_zero_for_a_unit_lipschitz_critic_and_pulls_others_to_one():
    gp = get_objective("wgan-gp")
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    w = torch.tensor([0.6, 0.8])
    assert float(gp.penalty(lambda v: v @ w, real, fake)) == pytest.approx(0.0, abs=1e-10)
    w = torch.tensor([3.0, 4.0], requires_grad=True)  # |grad| = 5: penalty 10 * (5 - 1)^2
    p = gp.penalty(lambda v: v @ w, real, fake)
    assert float(p.detach()) == pytest.approx(160.0)
    p.backward()
    torch.testing.assert_close(w.grad, torch.tensor([48.0, 64.0]))
    # Joint inputs (BiGAN's (x, z)): the norm is over both parts together.
    p = gp.penalty(lambda a, b: a @ torch.tensor([0.6, 0.0]) + b @ torch.tensor([0.8]), (real, real[:, :1]),
                   (fake, fake[:, :1]))
    assert float(p) == pytest.approx(0.0, abs=1e-10)


def test_accuracy_uses_the_objectives_threshold():
    r, f = torch.tensor([0.6, 0.7]), torch.tensor([0.4, 0.45])
    assert float(get_objective("lsgan").accuracy(r, f)) == 1.0  # threshold 0.5
    assert float(get_objective("nonsaturating").accuracy(r, f)) == 0.5  # logits: all > 0
    assert float(get_objective("wgan").accuracy(r + 10, f + 10)) == 1.0  # critic: the midpoint


def test_paper_settings_apply_unless_the_config_says_otherwise():
    groups = _model("dcgan", (1, 28, 28), loss="wgan").optimizer_groups()
    d = groups[0]
    assert (d.optimizer, d.lr, d.steps) == ("rmsprop", 5e-5, 5)
    d = _model("dcgan", (1, 28, 28), loss="wgan-gp").optimizer_groups()[0]
    assert (d.optimizer, d.lr, d.betas, d.steps) == ("adam", 1e-4, (0.5, 0.9), 5)
    d = _model("dcgan", (1, 28, 28), loss="wgan-gp", lr=3e-4, d_steps=2).optimizer_groups()[0]
    assert (d.lr, d.steps) == (3e-4, 2)
    d = _model("dcgan", (3, 32, 32)).optimizer_groups()[0]
    assert (d.optimizer, d.lr, d.betas, d.steps) == ("adam", 2e-4, (0.5, 0.999), 1)  # Radford et al.
    assert _model("dcgan", (1, 28, 28)).optimizer_groups()[0].lr == 1e-3  # the tutorials' MNIST network
    d = _model("gan", (1, 8, 8)).optimizer_groups()[0]
    assert (d.lr, d.betas) == (1e-3, (0.9, 0.999))  # the tutorial's


def test_wgan_clips_every_critic_weight_after_its_step(tmp_path):
    trainer = Trainer(run_config("dcgan", {"z_dim": 8, "width": 8, "loss": "wgan"}, steps=2), tmp_path, progress=False)
    trainer.fit()
    assert all(float(p.detach().abs().max()) <= 0.01 for p in trainer.model.D.parameters())
    assert any(float(p.detach().abs().max()) > 0.01 for p in trainer.model.G.parameters())


def test_gradient_penalty_rules_out_batch_norm_in_the_critic():
    m = _model("dcgan", (3, 32, 32), loss="wgan-gp", width=8)
    assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in m.D.modules())
    assert any(isinstance(x, torch.nn.GroupNorm) for x in m.D.modules())
    with pytest.raises(ConfigError, match="d_norm=layer or none"):
        _model("dcgan", (3, 32, 32), loss="wgan-gp", d_norm="batch")


# ---------------------------------------------------------------- instance noise and health


def test_instance_noise_anneals_to_zero():
    m = _model("gan", (2,), instance_noise=0.5, instance_noise_steps=100)
    x = torch.zeros(4000, 2)
    m.global_step = 0
    assert float(m.perturb(x).std()) == pytest.approx(0.5, rel=0.05)
    m.global_step = 50
    assert float(m.perturb(x).std()) == pytest.approx(0.25, rel=0.05)
    m.global_step = 100
    assert torch.equal(m.perturb(x), x)
    assert torch.equal(_model("gan", (2,)).perturb(x), x)  # off by default


# Health warnings (when a GAN's D wins, G's gradient vanishes, D stops learning): tests/test_health.py


# ---------------------------------------------------------------- the models' own behaviour


def test_dcgan_layouts():
    m = _model("dcgan", (1, 28, 28), width=64, pack=1)  # the tutorials' MNIST network
    names = [type(x).__name__ for x in m.D[0].net]
    assert names == ["Conv2d", "Identity", "LeakyReLU", "MaxPool2d", "Conv2d", "Identity", "LeakyReLU", "MaxPool2d",
                     "Flatten", "Linear", "LeakyReLU"]
    assert [x.out_channels for x in m.D[0].net if isinstance(x, torch.nn.Conv2d)] == [32, 64]
    assert m.D[1].in_features == 1024 and m.G.project[0].out_features == 1024 and m.G.start == (128, 7, 7)
    assert m.config.z_dim == 96
    # The default: the same network at width 32, R1 on D; in training an EMA and a learning-rate half-life.
    m = _model("dcgan", (1, 28, 28))
    convs = [x for x in m.D[0].net if isinstance(x, torch.nn.Conv2d)]
    assert [(x.in_channels, x.out_channels) for x in convs] == [(1, 16), (16, 32)] and m.G.start == (64, 7, 7)
    assert m.resolved_config().width == 32 and m.config.r1 == 1.0 and m.config.pack == 1
    assert type(m).train_defaults == {"ema": 0.999, "lr_halflife": 10_000}
    assert get_model_class("softmax-gan").train_defaults == {"ema": 0.999}  # everywhere; on images Remedied adds the half-life
    for shape in [(3, 32, 32), (3, 64, 64), (1, 28, 28)]:
        m = _model("dcgan", shape, layout="allconv", width=8).eval()
        x = m.sample(3, torch.Generator().manual_seed(0))
        assert x.shape == (3, *shape) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert _model("dcgan", (3, 64, 64), layout="allconv").G.start == (512, 4, 4)  # Radford et al.: 4x4x1024 at w=128
    with pytest.raises(ConfigError, match="need images.*2-D toy data"):
        _model("dcgan", (2,))
    with pytest.raises(ConfigError, match="mnist layout needs images of at least"):
        _model("dcgan", (1, 8, 8), layout="mnist")


@pytest.mark.parametrize("name", ["bigan", "infogan", "softmax-gan"])
def test_remedied_models_take_dcgans_remedies_on_images_only(name):
    # On images: width 16, R1 with gamma 1, EMA and the learning-rate half-life (the zoo's measured
    # recipes); on the toy 2-D sets their plain defaults, which the 2-D learning tests measure.
    images = RunConfig.from_dict({"model": name})
    assert (images.train.ema, images.train.lr_halflife) == (0.999, 10_000)
    m = _model(name, (1, 28, 28))
    assert m.resolved_config().width == 16 and m.resolved_config().r1 == 1.0 and m.r1_gamma == 1.0
    assert _model(name, (3, 32, 32)).resolved_config().width == 64
    points = RunConfig.from_dict({"model": name, "data": {"name": "2d-ring"}})
    assert points.train.lr_halflife == 0 and points.train.ema == (0.999 if name == "softmax-gan" else 0.0)
    assert _model(name, (2,)).resolved_config().r1 == 0.0
    # An explicit setting wins on either kind of data, and a recorded run keeps what it recorded.
    assert _model(name, (1, 28, 28), r1=0.0, width=8).resolved_config().r1 == 0.0
    assert RunConfig.from_dict({"model": name, "train": {"lr_halflife": 0}}).train.lr_halflife == 0
    assert RunConfig.from_dict({"model": name}, record=True).train.lr_halflife == 0


def test_every_family_model_runs_on_points_and_images_without_code_changes():
    for name in ("cgan", "infogan", "bigan", "softmax-gan", "ssgan"):
        for shape in [(2,), (1, 28, 28), (3, 32, 32)]:
            m = _model(name, shape, 8, width=8, g_hidden=(16,), d_hidden=(16,))
            x = torch.rand(4, *shape)
            y = torch.arange(4)
            if name == "ssgan":
                m.labelled_y.copy_(torch.arange(len(m.labelled_y)) % 8)
            for g in m.optimizer_groups():
                out = m.losses(Batch(x, y), g.name)
                assert torch.isfinite(out[g.name]), (name, shape, g.name)
            assert m.eval().sample(2, torch.Generator().manual_seed(0)).shape == (2, *shape)


def test_conditioning_needs_labels_and_unconditional_models_take_none():
    with pytest.raises(ConfigError, match="cgan needs labelled data"):
        _model("cgan", (2,), 0)
    with pytest.raises(ConfigError, match="ssgan needs labelled data"):
        _model("ssgan", (2,), 0)
    assert not _model("dcgan", (1, 28, 28), 10).conditional  # nothing passes it labels it would ignore
    assert not _model("ssgan", (1, 28, 28), 10).conditional  # trained with labels, samples without
    assert _model("cgan", (1, 28, 28), 10).conditional
    with pytest.raises(ConfigError, match="loss=minimax or nonsaturating"):
        _model("ssgan", (2,), 8, loss="wgan")


def test_cgan_sample_follows_the_labels_it_is_given():
    m = _model("cgan", (2,), 8, conditioning="concat").eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    z = m.latent(5, g())
    a = m.sample(5, z=z, labels=torch.full((5,), 2))
    b = m.sample(5, z=z, labels=torch.full((5,), 3))
    assert not torch.equal(a, b)
    torch.testing.assert_close(m.sample(5, g()), m.sample(5, g()))  # labels drawn from the generator


def test_ssgan_labelled_subset_is_fixed_by_its_own_seed():
    y = torch.arange(1000) % 10
    a = labelled_subset(y, 10, 10, seed=0)
    assert len(a) == 100 and torch.equal(torch.bincount(y[a]), torch.full((10,), 10))
    assert torch.equal(a, labelled_subset(y, 10, 10, seed=0)) and not torch.equal(a, labelled_subset(y, 10, 10, 1))
    with pytest.raises(ConfigError, match="class 3 has only"):
        labelled_subset(torch.tensor([0, 0, 1, 1, 2, 2, 3]), 2, 4, 0)


def test_ssgan_keeps_its_labelled_subset_through_save_and_load(tmp_path):
    cfg = run_config("ssgan", {"z_dim": 8, "width": 8, "labelled_per_class": 3, "labelled_batch": 8}, steps=3, seed=5)
    trainer = Trainer(cfg, tmp_path, progress=False)
    trainer.fit()
    data = load_dataset(cfg.data, "train")
    idx = labelled_subset(data.y, 3, 10, seed=0)  # the training seed (5) does not change it
    loaded = genzoo.load(tmp_path)
    torch.testing.assert_close(loaded.labelled_x, data.x[idx])
    assert torch.equal(loaded.labelled_y, data.y[idx])
    assert loaded.classify(data.x[:7]).shape == (7,)


@pytest.mark.parametrize("name, cfg", [("dcgan", {"z_dim": 8, "width": 8}),
                                       ("ssgan", {"z_dim": 8, "width": 8, "labelled_per_class": 2,
                                                  "labelled_batch": 8})])
def test_batch_norm_gans_resume_bitwise(name, cfg, tmp_path):
    straight = Trainer(run_config(name, cfg, steps=8), tmp_path / "a", progress=False)
    straight.fit()
    Trainer(run_config(name, cfg, steps=4), tmp_path / "b", progress=False).fit()
    resumed = Trainer(run_config(name, cfg, steps=8), tmp_path / "b", progress=False)
    assert resumed.resume()
    resumed.fit()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_bigan_encodes_and_reconstructs():
    m = _model("bigan", (1, 28, 28), width=8).eval()
    x = torch.rand(3, 1, 28, 28)
    assert m.encode(x).shape == (3, 50) and m.reconstruct(x).shape == x.shape
    names = {n.split(".")[0] for n, _ in m.named_parameters()}
    assert names == {"G", "E", "D"}
    d, g = m.optimizer_groups()
    assert {id(p) for p in g.params} == {id(p) for p in [*m.G.parameters(), *m.E.parameters()]}


def test_infogan_traversal_grid_and_command(tmp_path):
    m = _model("infogan", (1, 8, 8), width=8, categorical=4, continuous=2).eval()
    x = code_traversal(m, code=1, steps=5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (20, 1, 8, 8)
    rows = x.view(4, 5, -1)
    assert not torch.equal(rows[0], rows[1]) and not torch.equal(rows[:, 0], rows[:, -1])
    # Labels fix the categorical code.
    z = m.latent(4, torch.Generator().manual_seed(1))
    assert torch.equal(m.split(m.compose(*m.split(z)))[1], m.split(z)[1])
    with pytest.raises(GenzooError, match="code must be in 0..1"):
        code_traversal(m, code=2)
    with pytest.raises(GenzooError, match="no structured codes"):
        code_traversal(_model("dcgan", (1, 8, 8), width=8), code=0)
    assert main(["train", "infogan", "--data", "digits", "--steps", "2", "--out", str(tmp_path), "--no-progress",
                 "--set", "model.width=8", "--set", "train.tensorboard=false"]) == 0
    assert main(["traverse", str(tmp_path / "infogan-digits-001"), "--steps", "6"]) == 0
    assert (tmp_path / "infogan-digits-001" / "traversal.png").stat().st_size > 100


# ---------------------------------------------------------------- packing (PacGAN)


def test_a_packed_discriminator_judges_m_consecutive_samples_together():
    m = _model("gan", (2,), pack=3, z_dim=2, g_hidden=(8,), d_hidden=(8,))
    assert m.D[0].in_features == 6 and m.d_input_shape == (6,)
    x = torch.arange(24.0).view(12, 2)
    packed = m.pack_inputs(x)
    assert packed.shape == (4, 6) and torch.equal(packed[1], x[3:6].flatten())  # pack j = samples 3j..3j+2
    assert torch.equal(m.pack_labels(torch.arange(12))[2], torch.tensor([6, 7, 8]))
    img = _model("dcgan", (1, 28, 28), pack=2, width=8)
    assert img.d_input_shape == (2, 28, 28) and img.pack_inputs(torch.rand(4, 1, 28, 28)).shape == (2, 2, 28, 28)
    # D's score of a pack changes with any member, and one score per pack reaches the objective.
    with torch.no_grad():
        d, _ = m.discriminate(packed)
        changed = packed.clone()
        changed[1, 4] += 1.0  # the third member of pack 1
        d2, _ = m.discriminate(changed)
    assert d.shape == (4,) and d[1] != d2[1] and torch.equal(d[[0, 2, 3]], d2[[0, 2, 3]])


@pytest.mark.parametrize("loss", objective_names())
def test_every_objective_trains_packed(loss):
    m = _model("gan", (2,), pack=2, loss=loss, z_dim=2, g_hidden=(8,), d_hidden=(8,))
    x = torch.randn(12, 2)
    for g in m.optimizer_groups():
        out = m.losses(Batch(x), g.name)
        assert torch.isfinite(out[g.name]), (loss, g.name)
        out[g.name].backward()
    if loss == "wgan-gp":
        assert "gradient_penalty" in m.losses(Batch(x), "discriminator")


def test_packing_in_conditional_and_infogan_models():
    cg = _model("cgan", (2,), 4, pack=2, g_hidden=(8,), d_hidden=(8,))
    x, y = torch.randn(8, 2), torch.arange(8) % 4
    f = cg.D["body"](cg.pack_inputs(x))
    s, _ = cg.discriminate(cg.pack_inputs(x), cg.pack_labels(y))
    # A pack's projection term sums its members': e_{y_0}^T f + e_{y_1}^T f.
    expected = cg.D["head"](f).squeeze(1) + ((cg.D["embed"](y[0::2]) + cg.D["embed"](y[1::2])) * f).sum(1)
    torch.testing.assert_close(s, expected)
    concat = _model("cgan", (2,), 4, pack=2, conditioning="concat", g_hidden=(8,), d_hidden=(8,))
    assert concat.D["body"].net[0].in_features == 2 * (2 + 4)
    info = _model("infogan", (2,), pack=2, categorical=4, continuous=1, g_hidden=(8,), d_hidden=(8,))
    out = info.losses(Batch(torch.randn(8, 2)), "generator")
    assert torch.isfinite(out["generator"]) and "info_categorical" in out
    logits, cont = info.infer_codes(torch.randn(8, 2))  # Q reads packs, answers for every member
    assert logits.shape == (8, 4) and cont.shape == (8, 1)


def test_packing_refusals_are_one_line():
    for name in ("bigan", "ssgan"):
        with pytest.raises(ConfigError, match=f"{name} has its own discriminator game.*model.pack must be 1"):
            _model(name, (2,), 8, pack=2)
    with pytest.raises(ConfigError, match="model.pack"):
        _model("gan", (2,), pack=0)
    m = _model("gan", (2,), pack=3)
    with pytest.raises(ConfigError, match=r"model.pack=3 needs each shard's batch .* divide by 3, but a shard has 8"):
        m.losses(Batch(torch.randn(8, 2)), "discriminator")


def test_a_packed_ring_run_from_the_command_line_and_its_standard_evaluation(tmp_path):
    assert main(["train", "gan", "--data", "2d-ring", "--steps", "3", "--batch-size", "12", "--out", str(tmp_path),
                 "--no-progress", "--set", "model.pack=3", "--set", "train.tensorboard=false"]) == 0
    run = next(tmp_path.glob("gan-2d-ring-*"))
    m = genzoo.load(run)
    assert m.config.pack == 3 and m.D[0].in_features == 6
    # genzoo evaluate on a toy run: the standard metric's 2,500 samples unless --n says otherwise.
    assert main(["evaluate", str(run), "--metrics", "modes", "--no-progress"]) == 0
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["n"] == 2500 and saved["metrics"]["modes_total"] == 8


def test_the_paper_toy_networks():
    # PacGAN/VEEGAN: G 4 x 400 ReLU with batch norm (bias-free hidden layers), D 3 maxout layers
    # of 200 units x 5 pieces, weights N(0, 0.02^2), zero biases.
    m = _model("gan", (2,), pack=2, z_dim=2, g_hidden=(400,) * 4, g_batch_norm=True, d_hidden=(200,) * 3,
               d_maxout=5, init_std=0.02)
    linears = [x for x in m.G.modules() if isinstance(x, torch.nn.Linear)]
    assert [x.out_features for x in linears] == [400] * 4 + [2]
    assert [x.bias is None for x in linears] == [True] * 4 + [False]
    assert sum(isinstance(x, torch.nn.BatchNorm1d) for x in m.G.modules()) == 4
    maxouts = [x for x in m.D if type(x).__name__ == "Maxout"]
    assert [(x.linear.in_features, x.out_features, x.pieces) for x in maxouts] == [(4, 200, 5), (200, 200, 5), (200, 200, 5)]
    w = torch.cat([x.weight.detach().flatten() for x in m.modules() if isinstance(x, torch.nn.Linear)])
    assert abs(float(w.std()) - 0.02) < 0.001
    x = torch.randn(5, 4)
    torch.testing.assert_close(maxouts[0](x), maxouts[0].linear(x).view(5, 200, 5).amax(2))


# ---------------------------------------------------------------- the standard 2-D mixtures


def test_the_pacgan_ring_and_grid():
    ring = load_dataset(DataConfig(name="2d-ring"), "train")
    assert len(ring) == 100_000 and ring.mode_std == 0.01 and ring.modes.shape == (8, 2)
    torch.testing.assert_close(ring.modes[1], torch.tensor([2**-0.5, 2**-0.5]))
    torch.testing.assert_close(ring.modes.norm(dim=1), torch.ones(8))
    grid = load_dataset(DataConfig(name="2d-grid"), "train")
    assert len(grid) == 100_000 and grid.mode_std == 0.05 and grid.modes.shape == (25, 2)
    assert sorted(set(grid.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    # The points scatter around their own mode with the stated std.
    err = ring.x - ring.modes[ring.y]
    assert abs(float(err.std()) - 0.01) < 2e-4


def test_the_standard_mode_metric_by_hand():
    modes, std = load_dataset(DataConfig(name="2d-ring", toy_size=10), "test").modes, 0.01
    x = torch.stack([modes[0], modes[0], modes[0] + torch.tensor([0.02, 0.0]),  # three on mode 0
                     modes[2] + torch.tensor([0.0, 0.029]),  # mode 2 at 2.9 std: high quality
                     modes[4] + torch.tensor([0.031, 0.0]),  # mode 4 at 3.1 std: not
                     torch.zeros(2)])
    m = mode_metrics(x, modes, std)
    assert m["modes_covered"] == 2 and m["high_quality_fraction"] == pytest.approx(4 / 6)
    # Histogram of the high-quality samples (3/4, 1/4) against uniform over 8 modes.
    assert m["mode_kl"] == pytest.approx(0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25))


# ---------------------------------------------------------------- every objective learns the ring

# One MLP GAN (z 2, G and D 2 x 256, batch 256) on 2d-ring, scored with the standard metric on
# 2,500 samples (genzoo/metrics/toy.py) from an exponential moving average of G's weights (decay
# 0.995, about the last 200 steps): the raw generator keeps oscillating between modes at these
# learning rates, the average does not. Per-seed figures (seeds 0-4) and their command:
# docs/benchmarks.md, "GAN learning tests, seeds 0-4". Wasserstein critics keep the objective's
# optimiser (RMSprop for wgan, Adam (0.5, 0.9) for wgan-gp) with 2 critic steps per generator step;
# WGAN-GP uses lambda 0.1, the authors' own setting for toy data.
RING_TOY = {"z_dim": 2, "g_hidden": [256, 256], "d_hidden": [256, 256]}
RING_TRAIN = {"batch_size": 256, "ema": 0.995}
ADAM = {"lr": 1e-3, "betas": [0.5, 0.999]}
RING_RECIPES = {  # loss: (extra model config, iterations)
    "nonsaturating": (ADAM, 2000),
    "minimax": (ADAM, 2000),
    "lsgan": (ADAM, 2000),
    "hinge": (ADAM, 2000),
    "softmax": (ADAM, 2000),
    "wgan": ({"lr": 1e-3, "d_steps": 2}, 2000),
    "wgan-gp": ({"penalty_weight": 0.1, "lr": 5e-4, "d_steps": 2}, 2000),
}
# loss: (n_std, min modes covered, min high-quality fraction, max reverse KL), the standard metric
# with a sample of high quality within n_std std of its mode. The worst of seeds 0-4 at 2,000
# iterations (docs/benchmarks.md): 8 modes, 0.52 high quality, KL 0.22 for the first four and
# wgan-gp; softmax 6 modes, 0.72, KL 0.42 (its samples sit on the modes, unevenly spread). WGAN's
# clipped critic does not resolve modes of std 0.01 (the WGAN-GP paper's Figure 1 shows the same):
# under 1 % of its samples are within 3 std; it is held to the ring at 10 std instead.
RING_BARS = {
    "nonsaturating": (3, 7, 0.4, 0.4),
    "minimax": (3, 7, 0.4, 0.4),
    "lsgan": (3, 7, 0.4, 0.4),
    "hinge": (3, 7, 0.4, 0.4),
    "softmax": (3, 5, 0.5, 0.6),
    "wgan": (10, 7, 0.04, 0.25),
    "wgan-gp": (3, 7, 0.4, 0.4),
}


def ring_recipe(loss: str) -> tuple[dict, int, dict]:
    """The learning test's settings for ``loss``: (model config beyond RING_TOY, iterations, train settings)."""
    extra, steps = RING_RECIPES[loss]
    return extra, steps, RING_TRAIN


def ring_figures(loss: str, seed: int, run_dir) -> dict:
    """Train the ring recipe of ``loss`` with ``seed``; the standard metric on 2,500 samples of the EMA generator."""
    torch.set_num_threads(1)
    extra, steps, train = ring_recipe(loss)
    cfg = run_config("gan", {**RING_TOY, **extra, "loss": loss}, "2d-ring", steps=steps, log_every=100, seed=seed,
                     **train)
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.fit()
    x = genzoo.load(run_dir).eval().sample(2500, torch.Generator().manual_seed(0))  # the exported EMA weights
    return mode_metrics(x, trainer.data.modes, trainer.data.mode_std, n_std=RING_BARS[loss][0])


@pytest.mark.parametrize("loss", [k for k in RING_RECIPES if k != "nonsaturating"])  # that one: test_learning.py
def test_every_objective_learns_the_ring(loss, tmp_path):
    m = ring_figures(loss, 0, tmp_path)
    _n_std, modes, hq, kl = RING_BARS[loss]
    assert m["modes_covered"] >= modes and m["high_quality_fraction"] >= hq and m["mode_kl"] <= kl, (loss, m)


# ---------------------------------------------------------------- the models learn what they are for


def _hungarian(codes, labels, k):
    counts = torch.zeros(k, k)
    counts.index_put_((codes.long(), labels.long()), torch.ones(len(codes)), accumulate=True)
    rows, cols = linear_sum_assignment(-counts.numpy())
    return float(counts[rows, cols].sum() / len(codes))


TOY = {"z_dim": 2, "g_hidden": [256, 256], "d_hidden": [256, 256]}


def infogan_figures(seed: int, run_dir) -> dict:
    """InfoGAN (8 categories) on 8gaussians: how well the code names the mode, and modes covered."""
    torch.set_num_threads(1)
    cfg = run_config("infogan", {**TOY, "categorical": 8, "continuous": 1}, "8gaussians", steps=1500,
                     batch_size=256, log_every=100, seed=seed)
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.fit()
    m = trainer.model.eval()
    z = m.latent(2000, torch.Generator().manual_seed(0))
    x = m.sample(2000, z=z)
    mode = torch.cdist(x, trainer.data.modes).argmin(1)
    return {"code_accuracy": _hungarian(m.split(z)[1], mode, 8),
            "modes_covered_20": mode_metrics(x, trainer.data.modes, trainer.data.mode_std, min_count=20)["modes_covered"]}


def test_infogan_categorical_code_finds_the_8_modes(tmp_path):
    # The categorical code (8 values), under the best one-to-one mapping, names the mode each
    # sample lands on; every mode holds at least 20 of 2,000 samples within 3 std.
    f = infogan_figures(0, tmp_path)
    assert f["code_accuracy"] >= 0.9 and f["modes_covered_20"] == 8, f


def bigan_figures(seed: int, run_dir) -> dict:
    """BiGAN on 8gaussians: the fraction of test points x whose G(E(x)) lands on x's own mode."""
    torch.set_num_threads(1)
    cfg = run_config("bigan", {**TOY, "z_dim": 2, "z_hidden": [64], "joint_hidden": [256]}, "8gaussians",
                     steps=1500, batch_size=256, log_every=100, seed=seed)
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.fit()
    test = load_dataset(DataConfig(name="8gaussians", toy_size=2000), "test")
    m = trainer.model.eval()
    with torch.no_grad():
        x_hat = m.reconstruct(test.x)
    return {"same_mode": float((torch.cdist(x_hat, test.modes).argmin(1) == test.y).float().mean())}


def test_bigan_encoder_inverts_the_generator_on_8gaussians(tmp_path):
    # x -> E(x) -> G(E(x)) lands on the mode x came from (the inverse is not monotone in training).
    # Seeds 0-4: 0.75, 1.00, 0.87, 0.87, 1.00 (chance: 1/8).
    f = bigan_figures(0, tmp_path)
    assert f["same_mode"] >= 0.6, f


def ssgan_figures(seed: int, run_dir) -> dict:
    """ssgan on digits with 5 labels per class (50 of the 1,500 training images): test accuracy."""
    torch.set_num_threads(1)
    cfg = run_config("ssgan", {"width": 32, "labelled_per_class": 5}, "digits", steps=600, batch_size=64,
                     log_every=100, seed=seed)
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.fit()
    test = load_dataset(DataConfig(name="digits"), "test")
    return {"test_accuracy": float((trainer.model.eval().classify(test.x) == test.y).float().mean())}


def test_ssgan_learns_digits_from_5_labels_per_class(tmp_path):
    f = ssgan_figures(0, tmp_path)
    assert f["test_accuracy"] >= 0.7, f


def _mnist_or_skip():
    try:
        return load_dataset(DataConfig(name="mnist"), "test")
    except GenzooError as e:
        pytest.skip(f"MNIST not available: {e}")


def cgan_figures(seed: int, run_dir) -> dict:
    """cgan (MLP bodies) on MNIST: the pinned LeNet's accuracy on 1,000 samples against their labels."""
    from genzoo.metrics.features import feature_extractor

    torch.set_num_threads(1)
    cfg = run_config("cgan", {"arch": "mlp", "g_hidden": [256, 512], "d_hidden": [512, 256], "lr": 1e-3}, "mnist",
                     steps=500, batch_size=64, log_every=100, seed=seed)
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.fit()
    y = torch.arange(1000) % 10
    x = trainer.model.eval().sample(1000, torch.Generator().manual_seed(0), labels=y)
    pred = feature_extractor("lenet").extract(x)[1].argmax(1)
    return {"label_accuracy": float((pred == y).float().mean())}


@pytest.mark.mnist
def test_cgan_samples_are_classified_as_their_label_on_mnist(tmp_path):
    # MLP bodies, Adam 1e-3 (conv bodies take ~2 minutes for 600 steps).
    _mnist_or_skip()
    f = cgan_figures(0, tmp_path)
    assert f["label_accuracy"] >= 0.6, f


def test_pacgan_bn_members_experiment_normalises_each_pack_member_on_its_own():
    """benchmarks/pacgan_bn_members.py: member j of every pack (rows j, j + m, ...) is G's output for
    those latents alone, so G's batch norm sees 1/m of the batch, as in the PacGAN authors' code."""
    from helpers import load_script

    script = load_script("benchmarks/pacgan_bn_members.py")
    cfg = get_model_class("gan").Config(z_dim=2, g_hidden=(8,), d_hidden=(8,), g_batch_norm=True, pack=2)
    model = get_model_class("gan")(cfg, (2,))
    model.train()
    z = torch.randn(8, 2)
    out = script.generate_per_member(model, z)
    assert torch.allclose(out[0::2], model.G(z[0::2])) and torch.allclose(out[1::2], model.G(z[1::2]))
    assert not torch.allclose(out, model.G(z))  # one call normalises over all 8: a different output


def test_pacgan_departures_switch_each_difference_from_the_authors_code():
    """benchmarks/pacgan_departures.py: fixed real packs are m resamplings drawn once (the same packs
    every epoch, reordered), regrouped packs change; the simultaneous update takes G's gradient at
    D's parameters before D's step, the alternating one after it."""
    import copy

    import torch.nn.functional as F
    from helpers import load_script

    script = load_script("benchmarks/pacgan_departures.py")
    x = torch.arange(500, dtype=torch.float).repeat_interleave(2).reshape(500, 2)  # point i = (i, i)
    g = torch.Generator().manual_seed(0)
    fixed = script.real_pack_batches(x, 2, "fixed", g)
    epoch1 = torch.cat([next(fixed) for _ in range(5)])  # 500 points / 100 packs per batch
    epoch2 = torch.cat([next(fixed) for _ in range(5)])
    assert epoch1.shape == (500, 4) and not torch.equal(epoch1, epoch2)
    assert sorted(map(tuple, epoch1.tolist())) == sorted(map(tuple, epoch2.tolist()))  # the same packs
    regrouped = script.real_pack_batches(x, 2, "regrouped", torch.Generator().manual_seed(0))
    r1 = torch.cat([next(regrouped) for _ in range(2)])  # 2 batches x 100 packs of 2 = 400 of the 500 points
    assert r1.shape == (200, 4) and len(set(r1.reshape(-1, 2)[:, 0].tolist())) == 400  # without replacement

    cfg = get_model_class("gan").Config(z_dim=2, g_hidden=(8,), d_hidden=(8,), d_maxout=2, pack=2, init_std=0.5)
    torch.manual_seed(0)
    model = get_model_class("gan")(cfg, (2,))
    real, z = torch.randn(4, 4), torch.randn(8, 2)

    def after_step(update):
        m = copy.deepcopy(model)
        opts = [torch.optim.SGD(net.parameters(), lr=0.1) for net in (m.D, m.G)]
        torch.manual_seed(1)
        script.step_once(m, *opts, real, z, update, "one-call")
        return m

    # G's step by hand against D as it was before D's step: what the simultaneous update must give
    ref = copy.deepcopy(model)
    loss_g = F.softplus(-ref.D(ref.pack_inputs(ref.G(z))).squeeze(1)).mean()
    grads = torch.autograd.grad(loss_g, list(ref.G.parameters()))
    expected = [p.detach() - 0.1 * gr for p, gr in zip(ref.G.parameters(), grads)]
    sim, alt = after_step("simultaneous"), after_step("alternating")
    assert all(torch.allclose(p, e, atol=1e-6) for p, e in zip(sim.G.parameters(), expected))
    assert not all(torch.allclose(p, e, atol=1e-6) for p, e in zip(alt.G.parameters(), expected))
    assert all(torch.allclose(a, b) for a, b in zip(sim.D.parameters(), alt.D.parameters()))  # D's step is the same


def test_pacgan_departures_plot_draws_the_series_and_names_a_bad_one(tmp_path):
    """--plot LABEL=FILE[@PACK[,SEED]]: one picture of D's loss and the high-quality fraction; a missing file
    or a file without those rows is one line that names it."""
    from helpers import load_script

    script = load_script("benchmarks/pacgan_departures.py")
    f = tmp_path / "runs.jsonl"
    f.write_text("".join(json.dumps({"pack": p, "seed": 0, "step": s, "d_loss": 1.386 - 0.1 * p * s / 4000,
                                    "hq": 0.1 * s / 4000}) + "\n" for p in (1, 4) for s in (1000, 2000, 4000)))
    label, rows = script.read_series(f"packed={f}@4,0")
    assert label == "packed" and [r["step"] for r in rows] == [1000, 2000, 4000] and all(r["pack"] == 4 for r in rows)
    png = script.plot(str(tmp_path / "d.png"), [f"GAN={f}@1", f"PacGAN4={f}@4"])
    from PIL import Image

    assert Image.open(png).size[0] > 500
    with pytest.raises(SystemExit, match="nope.jsonl: no such file"):
        script.read_series(f"x={tmp_path / 'nope.jsonl'}")
    with pytest.raises(SystemExit, match="no rows with step, d_loss and hq at pack, seed 3"):
        script.read_series(f"x={f}@3")
    with pytest.raises(SystemExit, match="at pack, seed 4,1"):  # no seed 1 in the file
        script.read_series(f"x={f}@4,1")
    with pytest.raises(SystemExit, match="LABEL=FILE"):
        script.read_series(str(f))
