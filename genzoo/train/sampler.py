"""Batches drawn by index from a dataset that lives as one tensor on the training device.

Small datasets (MNIST, digits, toy data) fit in memory, so a seeded permutation per epoch
replaces a DataLoader: no worker processes, no copies, and the position in the data order
is two integers that a checkpoint can store. Under torchrun every rank draws the same
global permutation and keeps its own slice of each global batch.
"""
from __future__ import annotations

import torch

from ..data.base import Dataset
from ..models.base import Batch


class InMemoryBatches:
    """An endless, resumable stream of batches of ``global_batch`` examples (split across ranks)."""

    def __init__(
        self,
        data: Dataset,
        global_batch: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        dynamic_binarize: bool = False,
    ) -> None:
        if global_batch % world_size:
            raise ValueError(f"batch size {global_batch} is not divisible by the {world_size} processes")
        if len(data) < global_batch:
            raise ValueError(f"the dataset has {len(data)} examples, fewer than one batch of {global_batch}")
        self.x = data.x.to(device)
        self.y = data.y.to(device) if data.y is not None else None
        self.global_batch, self.seed, self.device = global_batch, seed, device
        self.rank, self.world_size = rank, world_size
        self.dynamic_binarize = dynamic_binarize
        self.epoch, self.position = 0, 0
        self.noise = torch.Generator(device=device)  # for dynamic binarisation
        self.noise.manual_seed(seed + 7919 * (rank + 1))
        self._order = self._permutation()

    def _permutation(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(len(self.x), generator=g).to(self.device)

    def __iter__(self):
        return self

    def __next__(self) -> Batch:
        # Drop the last incomplete batch of an epoch so every batch has the same size.
        if self.position + self.global_batch > len(self.x):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation()
        per_rank = self.global_batch // self.world_size
        start = self.position + self.rank * per_rank
        idx = self._order[start : start + per_rank]
        self.position += self.global_batch
        x = self.x.index_select(0, idx)
        if self.dynamic_binarize:
            x = torch.bernoulli(x, generator=self.noise)
        return Batch(x, self.y.index_select(0, idx) if self.y is not None else None)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "noise": self.noise.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.noise.set_state(state["noise"])
        self._order = self._permutation()
