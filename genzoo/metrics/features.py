"""Pinned feature networks for sample-quality metrics.

The default is a small LeNet-style MNIST classifier trained by ``scripts/train_lenet.py`` whose
weights ship with the package and are checked against a sha256 at load, so every FID in genzoo
is computed by the same network and never by something downloaded at run time.

Feature layer: the *pre-activation* of the 128-unit penultimate layer (``fc1``). Taking it before
the ReLU means no unit can be dead (a ReLU layer of a small LeNet leaves units that are zero on
every image, which makes the covariance singular and FID ill-posed); ``describe_conditioning``
measures this on real data.

An Inception-v3 extractor (2048-d pool features) is available only from a local weights file the
user names (a torchvision-layout state dict in safetensors); it is never downloaded.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GenzooError

LENET_WEIGHTS = Path(__file__).parent / "weights" / "lenet_mnist.safetensors"
# sha256 of the committed weights; scripts/train_lenet.py prints it after training.
LENET_SHA256 = "ba35ab28d9924dcd0dd2fa11328418420190418f95033012c09f2aa27a0e098e"

# MNIST pixel mean / std, used to standardise the input inside the network.
_MNIST_MEAN, _MNIST_STD = 0.1307, 0.3081


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LeNet(nn.Module):
    """A LeNet-style MNIST classifier: two 5x5 conv + max-pool blocks, fc 1024->128->10.

    ``forward`` returns logits; ``features_and_logits`` also returns the fc1 pre-activation.
    """

    feature_dim = 128

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)  # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(32, 64, 5)  # 12 -> 8, pooled to 4
        self.fc1 = nn.Linear(64 * 4 * 4, self.feature_dim)
        self.fc2 = nn.Linear(self.feature_dim, 10)
        self.dropout = nn.Dropout(dropout)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 28, 28) in [0, 1] -> (fc1 pre-activation (B, 128), logits (B, 10))."""
        h = (x - _MNIST_MEAN) / _MNIST_STD
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        f = self.fc1(h.flatten(1))  # (B, 128)
        logits = self.fc2(self.dropout(F.relu(f)))
        return f, logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def to_mnist_shape(x: torch.Tensor) -> torch.Tensor:
    """Bring images (B, C, H, W) in [0, 1] to (B, 1, 28, 28): grey by channel mean, then resize."""
    if x.dim() != 4:
        raise GenzooError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    x = x.float()
    if x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1)


class FeatureExtractor(nn.Module):
    """A frozen network mapping images to feature vectors (and class logits where it has them).

    Attributes ``name``, ``layer``, ``sha256`` and ``dim`` identify it in every result.
    """

    name: str = ""
    layer: str = ""
    sha256: str = ""
    dim: int = 0
    has_logits: bool = False

    @property
    def short_hash(self) -> str:
        return self.sha256[:8]

    @property
    def id(self) -> str:
        """A file-name friendly identifier: ``name-shorthash-layer``."""
        return f"{self.name}-{self.short_hash}-{self.layer}"

    def describe(self) -> dict:
        """Name, short hash, layer and dimension, for recording next to a metric."""
        return {"name": self.name, "hash": self.short_hash, "layer": self.layer, "dim": self.dim}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def extract(
        self, x: torch.Tensor, batch_size: int = 1000, progress: bool = False, desc: str = "features"
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (N, D) float32 and logits (N, K) or None, computed in batches."""
        from tqdm.auto import tqdm

        self.eval()
        feats, logits = [], []
        starts = range(0, x.shape[0], batch_size)
        for i in tqdm(starts, desc=desc, disable=not progress, leave=False):
            f, l = self(x[i : i + batch_size])
            feats.append(f.float())
            if l is not None:
                logits.append(l.float())
        f = torch.cat(feats) if feats else torch.empty(0, self.dim)
        return f, (torch.cat(logits) if logits else None)


class LeNetFeatures(FeatureExtractor):
    """The pinned MNIST LeNet: 128-d fc1 pre-activation features and 10-class logits."""

    layer = "fc1_preact"
    dim = LeNet.feature_dim
    has_logits = True

    def __init__(self, weights: str | Path | None = None, expected_sha256: str | None = LENET_SHA256):
        super().__init__()
        from safetensors.torch import load_file

        path = Path(weights) if weights is not None else LENET_WEIGHTS
        if not path.is_file():
            raise GenzooError(f"LeNet weights not found: {path} (train them with scripts/train_lenet.py)")
        digest = sha256_file(path)
        if expected_sha256 is not None and digest != expected_sha256:
            raise GenzooError(
                f"LeNet weights {path} have sha256 {digest}, expected {expected_sha256}: "
                "the file was changed or corrupted; restore it from git or retrain with "
                "scripts/train_lenet.py and update LENET_SHA256"
            )
        self.name = "lenet_mnist"
        self.sha256 = digest
        self.net = LeNet()
        self.net.load_state_dict(load_file(str(path)))
        self.net.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net.features_and_logits(to_mnist_shape(x))


def feature_extractor(name: str = "lenet", weights: str | Path | None = None) -> FeatureExtractor:
    """The feature network by name: ``lenet`` (pinned, shipped) or ``inception`` (local file only)."""
    if name in ("lenet", "lenet_mnist"):
        return LeNetFeatures(weights)
    if name in ("inception", "inception_v3"):
        if weights is None:
            raise GenzooError(
                "the Inception-v3 extractor needs a local weights file (--feature-weights PATH, a "
                "torchvision-layout state dict in .safetensors); genzoo never downloads weights"
            )
        from .inception import InceptionFeatures

        return InceptionFeatures(weights)
    raise GenzooError(f"unknown feature network {name!r}: use lenet or inception")


def describe_conditioning(features: torch.Tensor, dead_tol: float = 1e-8) -> dict:
    """How well conditioned the covariance of ``features`` (N, D) is.

    Returns the smallest and largest covariance eigenvalue, their ratio, and the number of dead
    units (variance below ``dead_tol``): a singular covariance makes FID's matrix root unstable.
    """
    f = features.double()
    cov = torch.cov(f.T)
    eig = torch.linalg.eigvalsh(cov)
    var = torch.diagonal(cov)
    return {
        "dim": int(f.shape[1]),
        "dead_units": int((var < dead_tol).sum()),
        "min_eigenvalue": float(eig[0]),
        "max_eigenvalue": float(eig[-1]),
        "condition_number": float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf"),
    }
