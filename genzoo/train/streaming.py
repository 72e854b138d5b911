"""Batches streamed from an image folder too large to hold as one tensor.

Small datasets live on the training device and are indexed (see :mod:`.sampler`). A folder
whose decoded float32 tensor would pass ``train.stream_above_mb`` is instead decoded batch
by batch in DataLoader workers. The data order is the in-memory stream's: one seeded global
permutation per epoch, each global batch sliced per rank, and the position in it is two
integers, so a streamed run resumes exactly where it stopped.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..data.base import DataConfig, Dataset
from ..data.folder import TEST_EVERY, _class_folders, list_images, read_image, split_indices
from ..errors import ConfigError, DataError
from ..models.base import Batch

PREVIEW = 256  # images decoded up front: the data's shape, and what the model's prepare_data sees


def folder_files(config: DataConfig, split: str = "train") -> tuple[list[Path], list[int], list[str]] | None:
    """The files, labels and classes of ``split`` when ``config.name`` is an image folder; else None.

    Follows the layout rules of :func:`genzoo.data.folder.load_folder` (train/ and test/
    sub-folders, or every 10th image held out).
    """
    root = Path(config.name).expanduser()
    if not root.is_dir():
        return None
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = sorted(set(_class_folders(root / "train")) | set(_class_folders(root / "test")))
        files, labels, classes = list_images(root / split, classes)
    else:
        files, labels, classes = list_images(root)
        keep = split_indices(len(files), split)
        if len(keep) == 0:
            raise DataError(f"{root} has only {len(files)} images, too few for a {split} split "
                            f"(every {TEST_EVERY}th image is held out)")
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    if config.limit is not None:
        files, labels = files[: config.limit], labels[: config.limit]
    return files, labels, classes


class FolderImages(torch.utils.data.Dataset):
    """Decodes image ``i`` of a file list to uint8 (C, H, W), checked against the first image."""

    def __init__(self, files: list[Path], labels: list[int], config: DataConfig, expect: tuple[int, int, int]) -> None:
        self.files, self.labels, self.config, self.expect = files, labels, config, expect

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        array = read_image(self.files[i], self.config, self.expect, self.files[0])  # (H, W, C) uint8
        return torch.from_numpy(array.transpose(2, 0, 1).copy()), self.labels[i]


def plan_streaming(config: DataConfig, threshold_mb: float) -> tuple[Dataset, FolderImages] | None:
    """For a folder bigger than ``threshold_mb`` as float32: a preview Dataset and the streamed images."""
    listed = folder_files(config)
    if listed is None:
        return None
    files, labels, classes = listed
    first = read_image(files[0], config, None, None)
    h, w, c = first.shape
    if len(files) * h * w * c * 4 <= threshold_mb * 2**20:
        return None
    if config.binarize == "static":
        raise ConfigError(f"{config.name}: data.binarize=static needs the whole folder in memory; "
                          "use data.binarize=dynamic for a streamed folder")
    images = FolderImages(files, labels, config, first.shape)
    preview = torch.stack([images[i][0] for i in range(min(PREVIEW, len(files)))]).float() / 255
    y = torch.tensor(labels[: len(preview)]) if classes else None
    data = Dataset(preview, y, Path(config.name).name, "train", source=str(config.name), num_classes=len(classes))
    data.extra.update(classes=classes, streamed=len(files), binarize=config.binarize)
    return data, images


class StreamingBatches:
    """An endless, resumable stream of global batches decoded by DataLoader workers (split across ranks)."""

    def __init__(
        self,
        images: FolderImages,
        global_batch: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        dynamic_binarize: bool = False,
        channels_last: bool = False,
        workers: int = 2,
        labelled: bool = True,
    ) -> None:
        if global_batch % world_size:
            raise ValueError(f"batch size {global_batch} is not divisible by the {world_size} processes")
        if len(images) < global_batch:
            raise ValueError(f"the dataset has {len(images)} examples, fewer than one batch of {global_batch}")
        self.images, self.global_batch, self.seed, self.device = images, global_batch, seed, device
        self.rank, self.world_size, self.workers, self.labelled = rank, world_size, workers, labelled
        self.dynamic_binarize, self.channels_last = dynamic_binarize, channels_last
        self.epoch, self.position = 0, 0
        self.noise = torch.Generator(device=device)  # the same on every rank: global noise, sliced
        self.noise.manual_seed(seed + 7919)
        self._it = None

    def _batches(self) -> list[list[int]]:
        """This rank's index lists for the rest of the current epoch."""
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)  # the in-memory stream's order
        order = torch.randperm(len(self.images), generator=g).tolist()
        per_rank = self.global_batch // self.world_size
        starts = range(self.position, len(order) - self.global_batch + 1, self.global_batch)
        return [order[s + self.rank * per_rank : s + (self.rank + 1) * per_rank] for s in starts]

    def _start(self) -> None:
        batches = self._batches()
        if not batches:  # the epoch is used up
            self.epoch, self.position = self.epoch + 1, 0
            batches = self._batches()
        # Its own generator: a DataLoader iterator otherwise draws its workers' base seed from
        # the global RNG, and the model's noise would depend on when the stream was restarted.
        loader = DataLoader(self.images, batch_sampler=batches, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(self.seed))
        self._it = iter(loader)

    def __iter__(self):
        return self

    def __next__(self) -> Batch:
        if self._it is None:
            self._start()
        try:
            x, y = next(self._it)
        except StopIteration:
            self.epoch, self.position = self.epoch + 1, 0
            self._start()
            x, y = next(self._it)
        self.position += self.global_batch
        x = x.to(self.device, non_blocking=True).float().div_(255)
        if self.dynamic_binarize:
            # Uniform noise for the global batch, this rank's slice: ranks agree with one process.
            per_rank = x.shape[0]
            u = torch.rand((self.global_batch, *x.shape[1:]), generator=self.noise, device=self.device)
            x = (u[self.rank * per_rank : (self.rank + 1) * per_rank] < x).float()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, y.to(self.device) if self.labelled else None)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "noise": self.noise.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.noise.set_state(state["noise"])
        self._it = None  # restart the workers at the restored position
