"""NADE and MADE: exact normalisation, the autoregressive property, the O(D H) recurrence against
D passes, sampling against the conditionals, inpainting, the mask schedule, and learning."""
import itertools
import math

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.models.base import Batch
from genzoo.models.made import MADE
from genzoo.models.nade import NADE, _Recurrence

SHAPE = (1, 2, 3)  # D = 6: 64 binary images, enumerable
ALL = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * 6).view(-1, *SHAPE)

NADES = [dict(hidden=7), dict(hidden=7, order="random"), dict(hidden=5, activation="relu", order="random")]
MADES = [dict(hidden=(9,), masks=1), dict(hidden=(9, 8), masks=4), dict(hidden=(7,), masks=3, order="raster"),
         dict(hidden=(8, 8, 6), masks=2, direct=False, activation="sigmoid")]


def make(cls, cfg, shape=SHAPE, seed=0):
    torch.manual_seed(seed)
    model = cls(cls.Config(**cfg), shape).double().eval()
    if cls is NADE:  # nonzero biases, so that a ReLU kink or a zero start hides nothing
        with torch.no_grad():
            model.c.normal_()
            model.b.normal_()
    return model


def models():
    return [(NADE, c) for c in NADES] + [(MADE, c) for c in MADES]


IDS = [f"{cls.__name__.lower()}-{i}" for i, (cls, _) in enumerate(models())]


def exact_p(model) -> torch.Tensor:
    with torch.no_grad():
        return model.log_prob(ALL).exp()


@pytest.mark.parametrize("cls,cfg", models(), ids=IDS)
def test_probabilities_of_all_binary_images_sum_to_one(cls, cfg):
    model = make(cls, cfg)
    with torch.no_grad():
        parts = [model.log_prob(ALL)]
        if cls is MADE:  # every mask on its own, and their ensemble (the first entry)
            parts += [model.log_prob_mask(ALL, k) for k in range(model.config.masks)]
    for lp in parts:
        assert abs(float(torch.logsumexp(lp, 0))) < 1e-12, f"sum_x p(x) = {math.exp(float(torch.logsumexp(lp, 0)))}"


def dependencies(model, k=None):
    """dep[d, j]: output d (image order) has a nonzero gradient with respect to input j."""
    torch.manual_seed(1)
    v = torch.rand(32, 6, dtype=torch.float64, requires_grad=True)  # real inputs: no ReLU is off for all
    if isinstance(model, NADE):
        out = model.unordered(model.net(v[:, model.order])).view(32, 6)
    else:
        out = model.net(v, k)
    dep = torch.zeros(6, 6, dtype=torch.bool)
    for d in range(6):
        (g,) = torch.autograd.grad(out[:, d].sum(), v, retain_graph=True)
        dep[d] = g.abs().sum(0) > 0
    return dep


@pytest.mark.parametrize("cls,cfg", models(), ids=IDS)
def test_output_d_has_no_gradient_from_inputs_at_or_after_d(cls, cfg):
    model = make(cls, cfg)
    for k in range(cfg.get("masks", 1)):
        dep = dependencies(model, k)
        pos = torch.empty(6, dtype=torch.long)
        if cls is NADE:
            pos[model.order] = torch.arange(6)
        else:
            pos = model.m0[k]
        allowed = pos.view(-1, 1) > pos.view(1, -1)  # [d, j]: j comes before d in the order
        assert not (dep & ~allowed).any(), f"mask {k}: an output depends on itself or a later input"
        assert dep.any()
        if cls is NADE:  # shared weights: every conditional sees every earlier pixel
            assert torch.equal(dep, allowed)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_nade_recurrence_equals_d_forward_passes_and_its_gradients_are_exact(activation):
    torch.manual_seed(0)
    D, H = 11, 6
    model = NADE(NADE.Config(hidden=H, activation=activation, order="random"), (1, 1, D)).double()
    with torch.no_grad():
        model.c.normal_()
        model.b.normal_()
    x = (torch.rand(5, 1, 1, D) < 0.5).double()
    v = model.ordered(x)
    act = torch.sigmoid if activation == "sigmoid" else torch.relu
    naive = torch.stack([act(model.c + v[:, :d] @ model.W[:d]) @ model.V[d] + model.b[d] for d in range(D)], 1)
    torch.testing.assert_close(model.ordered_logits(x), naive, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # the evaluation path, which keeps no h_d for a backward pass
        torch.testing.assert_close(model.ordered_logits(x), naive, rtol=1e-12, atol=1e-12)
    vr = torch.rand(3, D, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, W, c, V: _Recurrence.apply(v, W, c, V, activation),
                                    (vr, model.W, model.c, model.V))


def test_nade_on_mnist_sized_images_matches_the_naive_computation_in_float32():
    torch.manual_seed(0)
    model = NADE(NADE.Config(hidden=50), (1, 28, 28))
    x = (torch.rand(4, 1, 28, 28) < 0.3).float()
    v = model.ordered(x)
    naive = torch.stack([torch.sigmoid(model.c + v[:, :d] @ model.W[:d]) @ model.V[d] + model.b[d]
                         for d in range(784)], 1)
    torch.testing.assert_close(model.ordered_logits(x), naive, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls,cfg", models(), ids=IDS)
def test_each_drawn_pixel_is_its_uniform_below_its_conditional(cls, cfg):
    """Seeded: the same generator gives the same images, and pixel d is [u_d < p(x_d = 1 | x_<d)]
    with u_d the generator's uniform for that pixel (for MADE, under the mask drawn for the image)."""
    model = make(cls, cfg)
    a = model.sample(50, torch.Generator().manual_seed(4))
    b = model.sample(50, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and ((a == 0) | (a == 1)).all()
    u = torch.rand(50, 6 if cls is NADE else 7, generator=torch.Generator().manual_seed(4)).double()
    with torch.no_grad():
        if cls is NADE:
            p = torch.sigmoid(model.conditional_logits(a)).view(50, 6)
            assert torch.equal(a.view(50, 6), (u[:, :6] < p).double())
        else:
            probs = torch.stack([torch.sigmoid(model.logits(a, k)) for k in range(model.config.masks)], 1)
            drawn = (u[:, None, :6] < probs).double()  # (n, K, D): what each mask would have drawn
            assert (drawn == a.view(50, 1, 6)).all(2).any(1).all(), "an image fits no mask's conditionals"


@pytest.mark.parametrize("cls,cfg", models(), ids=IDS)
def test_sample_frequencies_match_the_exact_probabilities(cls, cfg):
    model = make(cls, cfg)
    n = 40_000
    s = model.sample(n, torch.Generator().manual_seed(0)).view(n, 6)
    idx = (s * 2 ** torch.arange(5, -1, -1, dtype=torch.float64)).sum(1).long()
    freq = torch.bincount(idx, minlength=64).double() / n
    p = exact_p(model)
    se = (p * (1 - p) / n).sqrt()
    assert ((freq - p).abs() <= 5 * se + 1e-3).all(), float(((freq - p).abs() / se).max())


@pytest.mark.parametrize("cls,cfg", [(NADE, dict(hidden=7)), (MADE, dict(hidden=(9,), masks=3, order="raster")),
                                     (MADE, dict(hidden=(9, 8), masks=2, order="raster", direct=False))],
                         ids=["nade", "made-raster", "made-raster-2hl"])
def test_inpainting_the_bottom_row_draws_from_the_exact_conditional(cls, cfg):
    """With the top row visible and a raster order, the completions follow p(bottom | top) exactly
    (MADE: the masks weighted by the probability each gives the visible row)."""
    model = make(cls, cfg)
    with torch.no_grad():  # sharper conditionals: the masks then disagree about the visible row
        for w in model.parameters():
            w.mul_(5)
    top = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    x = torch.zeros(1, *SHAPE, dtype=torch.float64)
    x[0, 0, 0] = top
    known = torch.zeros(1, *SHAPE, dtype=torch.bool)
    known[0, 0, 0] = True
    n = 40_000
    c = model.sample(n, torch.Generator().manual_seed(2), x=x, known=known).view(n, 6)
    assert (c[:, :3] == top).all(), "a visible pixel changed"
    idx = (c[:, 3:] * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
    freq = torch.bincount(idx, minlength=8).double() / n
    p_all = exact_p(model).view(8, 8)  # [top pattern, bottom pattern]
    row = int((top * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).sum())
    p = p_all[row] / p_all[row].sum()
    se = (p * (1 - p) / n).sqrt()
    assert ((freq - p).abs() <= 5 * se + 1e-3).all(), (freq, p)
    if cls is MADE:  # the test can tell: weighting the masks equally would fail it
        per_mask = torch.stack([model.log_prob_mask(ALL, k) for k in range(model.config.masks)], 1)
        joint = per_mask.detach().exp().view(8, 8, -1)[row]  # (8, K)
        equal = (joint / joint.sum(0)).mean(1)
        assert ((equal - p).abs() > 2 * (5 * se + 1e-3)).any()


@pytest.mark.parametrize("cls,cfg", models(), ids=IDS)
def test_inpainting_keeps_the_visible_pixels_and_leaves_the_global_rng_alone(cls, cfg):
    model = make(cls, cfg, shape=(1, 4, 4))
    x = (torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    known = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(2)) < 0.5  # a different mask per image
    state = torch.get_rng_state()
    out = model.sample(6, torch.Generator().manual_seed(3), x=x, known=known)
    with torch.no_grad():
        model.log_prob(out)
    assert torch.equal(torch.get_rng_state(), state), "sampling or log_prob drew from the global RNG"
    assert torch.equal(out[known], x.expand(6, -1, -1, -1)[known])


def test_made_trains_mask_t_mod_k_at_step_t_and_tests_with_their_ensemble():
    model = make(MADE, dict(hidden=(9,), masks=3))
    x = ALL[:10]
    for step in range(7):
        model.global_step = step
        loss = model.losses(Batch(x), "loss")["loss"]
        torch.testing.assert_close(loss, -model.log_prob_mask(x, step % 3).mean())
    per_mask = torch.stack([model.log_prob_mask(ALL, k) for k in range(3)], 1)
    torch.testing.assert_close(model.log_prob(ALL), per_mask.logsumexp(1) - math.log(3))
    assert len({tuple(model.m0[k].tolist()) for k in range(3)}) == 3, "each mask should have its own ordering"


def test_made_hidden_numbers_keep_every_unit_connected():
    torch.manual_seed(0)
    model = MADE(MADE.Config(hidden=(200, 200), masks=5), (1, 4, 4))
    D = 16
    for k in range(5):
        m0, m1, m2 = model.numbers(k)
        assert sorted(m0.tolist()) == list(range(1, D + 1))
        assert int(m1.min()) >= 1 and int(m1.max()) <= D - 1 and int(m2.min()) >= int(m1.min()) and int(m2.max()) <= D - 1
        masks = model.masks(k)
        assert (masks[0].sum(1) > 0).all() and (masks[1].sum(1) > 0).all()  # every unit has an input
        assert (masks[2].sum(0) > 0).all()  # and reaches an output


@pytest.mark.parametrize("cls,field,value,words", [
    (NADE, "order", "zigzag", "model.order"), (NADE, "hidden", 0, "model.hidden"),
    (NADE, "activation", "tanh", "model.activation"), (MADE, "masks", 0, "model.masks"),
    (MADE, "hidden", (), "model.hidden"), (MADE, "optimizer", "lbfgs", "model.optimizer"),
    (MADE, "lr", -1.0, "model.lr"),
])
def test_bad_settings_are_one_error_naming_the_field(cls, field, value, words):
    with pytest.raises(ConfigError, match=words):
        cls(cls.Config(**{field: value}), SHAPE)


def test_points_are_refused_with_a_message():
    from genzoo.errors import GenzooError

    for cls in (NADE, MADE):
        with pytest.raises(GenzooError, match="binary images"):
            cls(cls.Config(), (2,))


def test_made_adagrad_group_builds_adagrad():
    model = make(MADE, dict(hidden=(9,)))
    assert isinstance(model.optimizer_groups()[0].make_optimizer(), torch.optim.Adagrad)


# Learning on binarized 8x8 digits (64 pixels; untrained: 64 log 2 = 44.4 nats). Each bound sits
# below the worst of seeds 0-4 (benchmarks/likelihood_family.py seeds; figures in docs/benchmarks.md).
LEARNING = {
    "nade": ({"hidden": 64}, 400, 27.0),
    "made": ({"hidden": [128], "masks": 4}, 400, 27.0),
}


def digits_nll(name: str, tmp_path, seed: int = 0) -> float:
    """Exact test NLL (nats) of ``name`` after its LEARNING steps on statically binarized digits."""
    from genzoo.data import load_dataset
    from genzoo.train import Trainer
    from helpers import run_config

    cfg, steps, _ = LEARNING[name]
    torch.set_num_threads(1)
    run = run_config(name, cfg, "digits", steps=steps, batch_size=64, seed=seed).override(["data.binarize=static"])
    trainer = Trainer(run, tmp_path, progress=False)
    trainer.fit()
    x = load_dataset(run.data, "test").x
    with torch.no_grad():
        return -float(trainer.model.log_prob(x).mean())


@pytest.mark.parametrize("name", sorted(LEARNING))
def test_learns_binarized_digits(name, tmp_path):
    nll = digits_nll(name, tmp_path)
    assert nll < LEARNING[name][2], nll
