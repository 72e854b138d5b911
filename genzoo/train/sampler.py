"""Batches drawn by index from a dataset that lives as one tensor on the training device.

Small datasets (MNIST, digits, toy data) fit in memory, so a seeded permutation per epoch
replaces a DataLoader: no worker processes, no copies, and the position in the data order
is two integers that a checkpoint can store. Under torchrun every rank draws the same
global permutation and keeps its own slice of each global batch; random data augmentation
(dynamic binarisation) is drawn for the whole global batch and sliced the same way, so N
ranks see exactly the batches one process would.
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
        channels_last: bool = False,
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
        self.channels_last = channels_last and self.x.dim() == 4
        self.epoch, self.position = 0, 0
        # The same seed on every rank: the binarisation noise is drawn for the global batch.
        self.noise = torch.Generator(device=device)
        self.noise.manual_seed(seed + 7919)
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
        if self.dynamic_binarize:
            # Draw for the global batch, keep this rank's rows: identical to one process.
            rows = self._order[self.position : self.position + self.global_batch]
            probs = self.x.index_select(0, rows)
            x = torch.bernoulli(probs, generator=self.noise)[self.rank * per_rank : (self.rank + 1) * per_rank]
        else:
            x = self.x.index_select(0, idx)
        self.position += self.global_batch
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, self.y.index_select(0, idx) if self.y is not None else None)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "noise": self.noise.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.noise.set_state(state["noise"])
        self._order = self._permutation()
