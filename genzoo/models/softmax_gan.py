"""Softmax GAN: a softmax cross-entropy over the whole batch replaces the per-example log loss.

Lin, "Softmax GAN", arXiv:1704.06191 (2017). With D's output l = -energy and
Z = sum over the batch of real and generated examples of exp(l):

    L_D = -mean_{real} l + log Z        (D's target: 1/|B+| on each real example, 0 on fakes)
    L_G = -mean_{real u fake} l + log Z (G's target: uniform over all examples)

The loss couples every example of the batch through Z, which is why it is an objective over the
batch (``loss=softmax`` in :mod:`genzoo.models.objectives`, usable by every GAN here) and why the
generator's loss needs D's real scores. This model is the DCGAN-style family GAN with that
objective as its default: conv bodies on images, MLP bodies on 2-D points; on images the
defaults are dcgan's measured remedies (:class:`._gan_common.Remedied`). Under data
parallelism (or micro-batches) Z is taken over each process's slice.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import register
from ._gan_common import Remedied, RemediedConfig
from .dcgan import DCGAN


@register("softmax-gan")
class SoftmaxGAN(Remedied, DCGAN):
    """Softmax GAN (Lin 2017): a softmax over the batch of real and fake examples; conv or MLP bodies."""

    train_defaults = {"ema": 0.999}  # the EMA on every dataset; on images Remedied adds the half-life

    @dataclass(frozen=True)
    class Config(RemediedConfig):
        loss: str = "softmax"
