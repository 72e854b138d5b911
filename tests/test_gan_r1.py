"""The R1 penalty of every GAN (``model.r1``): its value, where it enters D's loss, and that it trains."""
import pytest
import torch

from genzoo.models.base import Batch
from genzoo.registry import get_model_class


def _model(name, data_shape, num_classes=0, **cfg):
    cls = get_model_class(name)
    return cls(cls.Config(**cfg), data_shape, num_classes)


def test_r1_of_a_linear_critic_is_half_gamma_times_its_squared_weight_norm():
    m = _model("gan", (3,), r1=4.0, z_dim=2, g_hidden=(8,), d_hidden=(8,))
    w = torch.tensor([1.0, -2.0, 0.5])
    x = torch.randn(5, 3)
    assert torch.allclose(m.r1_penalty(lambda v: v @ w, x), torch.tensor(0.5 * 4.0 * 5.25))
    # A tuple of inputs (BiGAN's (x, z)): the gradient over all of them.
    u = torch.tensor([3.0])
    value = m.r1_penalty(lambda a, b: a @ w + b @ u, (x, torch.randn(5, 1)))
    assert torch.allclose(value, torch.tensor(0.5 * 4.0 * (5.25 + 9.0)))


@pytest.mark.parametrize("pack", [1, 2])
def test_r1_adds_to_d_loss_only_and_reaches_d_weights(pack):
    torch.manual_seed(0)
    kw = dict(width=8, pack=pack)
    with_r1, without = _model("dcgan", (1, 28, 28), r1=10.0, **kw), _model("dcgan", (1, 28, 28), r1=0.0, **kw)
    without.load_state_dict(with_r1.state_dict())
    batch = Batch(torch.rand(4, 1, 28, 28))
    losses = {}
    for name, m in (("r1", with_r1), ("plain", without)):
        with m.drawing_from(torch.Generator().manual_seed(1)):
            losses[name] = m.losses(batch, "discriminator")
    r1 = losses["r1"]["r1_penalty"]
    assert float(r1) > 0 and "r1_penalty" not in losses["plain"]
    assert torch.allclose(losses["r1"]["discriminator"], losses["plain"]["discriminator"] + r1)
    # The penalty's gradient reaches D's first convolution (a double backward through D).
    first = with_r1.D[0].net[0].weight
    penalty = with_r1.r1_penalty(lambda v: with_r1.discriminate(v)[0], with_r1.pack_inputs(batch.x))
    assert torch.allclose(penalty, r1)
    (g,) = torch.autograd.grad(penalty, first)
    assert float(g.abs().sum()) > 0
    with with_r1.drawing_from(torch.Generator().manual_seed(1)):
        assert "r1_penalty" not in with_r1.losses(batch, "generator")
