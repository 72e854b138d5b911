"""The shape every metric object shares: ``update(real=..., fake=...)`` then ``compute()``."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from ..errors import GenzooError


@contextlib.contextmanager
def eval_mode(model) -> Iterator[None]:
    """``model`` in eval mode within the block, and back in the mode it was found in afterwards."""
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        yield
    finally:
        if was_training is not None:
            model.train(was_training)


class Metric:
    """Accumulates real and fake inputs and computes one metric.

    With a feature extractor, ``update`` takes images (B, C, H, W) in [0, 1] and extracts
    features; without one it takes feature vectors (B, D) (or 2-D points for toy metrics).
    """

    name = "metric"

    def __init__(self, features=None) -> None:
        self.features = features

    def _featurize(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x)
        if self.features is None:
            if x.dim() != 2:
                raise GenzooError(
                    f"{self.name}: without a feature network, pass (N, D) features, not shape {tuple(x.shape)}"
                )
            return x
        return self.features.extract(x)[0]

    def update(self, real: torch.Tensor | None = None, fake: torch.Tensor | None = None) -> None:
        """Add a batch of real and/or generated inputs."""
        if real is not None:
            self._add("real", self._featurize(real))
        if fake is not None:
            self._add("fake", self._featurize(fake))

    def _add(self, side: str, f: torch.Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict:
        """The metric's value(s) as a JSON-friendly dict."""
        raise NotImplementedError

    def _feature_info(self) -> dict:
        if self.features is None:
            return {}
        return {"feature_network": self.features.describe()}
