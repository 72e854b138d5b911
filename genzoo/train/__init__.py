"""Model-agnostic training: the loop, checkpoints, EMA, data-parallel set-up."""
from .trainer import Trainer, train

__all__ = ["Trainer", "train"]
