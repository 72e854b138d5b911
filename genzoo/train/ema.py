"""An exponential moving average of a model's weights (sampling uses it when present)."""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Shadow copies of every floating-point parameter and buffer, updated after each iteration."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        state = model.state_dict()
        for k, s in self.shadow.items():
            s.lerp_(state[k], 1.0 - self.decay)

    def copy_to(self, model: nn.Module) -> None:
        model.load_state_dict({**model.state_dict(), **self.shadow})

    def state_dict(self) -> dict:
        return dict(self.shadow)

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            self.shadow[k].copy_(v)
