"""Metrics read from the pinned classifier's predictions.

- Classifier score: the MNIST analogue of the Inception Score (Salimans et al. 2016),
  exp(E_x KL(p(y|x) || p(y))), between 1 (no class information) and 10 (confident and balanced).
- Label accuracy: for class-conditional models, how often the classifier recovers the label that
  each sample was generated for, overall and per label.
"""
from __future__ import annotations

import torch

from ..errors import GenzooError
from .base import Metric


def classifier_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) over ``splits`` equal parts of exp(E KL(p(y|x) || p(y))) from logits (N, K)."""
    logits = torch.as_tensor(logits).double()
    if logits.dim() != 2 or logits.shape[0] < splits:
        raise GenzooError(f"classifier score needs (N, K) logits with N >= {splits}, got {tuple(logits.shape)}")
    scores = []
    for part in torch.tensor_split(logits, splits):
        log_p = torch.log_softmax(part, dim=1)  # log p(y|x), (n, K)
        log_py = torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(part.shape[0]), dtype=torch.float64))
        kl = (log_p.exp() * (log_p - log_py)).sum(dim=1)  # (n,)
        scores.append(torch.exp(kl.mean()))
    s = torch.stack(scores)
    return float(s.mean()), float(s.std()) if splits > 1 else 0.0


def label_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> dict:
    """Accuracy of argmax(logits) against ``labels`` overall and per label.

    Returns {"accuracy": float, "per_label": {label: accuracy}} (labels with no sample omitted).
    """
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels).long()
    pred = logits.argmax(dim=1)
    k = num_classes or logits.shape[1]
    per = {}
    for c in range(k):
        mask = labels == c
        if mask.any():
            per[c] = float((pred[mask] == c).float().mean())
    return {"accuracy": float((pred == labels).float().mean()), "per_label": per}


class ClassifierScore(Metric):
    """Classifier score as a small object: feed generated images with ``update(fake=...)``."""

    name = "classifier_score"

    def __init__(self, features, splits: int = 10) -> None:
        if features is None or not features.has_logits:
            raise GenzooError("the classifier score needs a feature network with class logits (lenet)")
        super().__init__(features)
        self.splits = splits
        self._logits: list[torch.Tensor] = []

    def update(self, real: torch.Tensor | None = None, fake: torch.Tensor | None = None) -> None:
        """Only generated images matter; ``real`` is accepted and ignored for a uniform API."""
        if fake is not None:
            self._logits.append(self.features.extract(fake)[1])

    def compute(self) -> dict:
        """{"classifier_score": mean, "classifier_score_std": std, "n_fake", ...}."""
        logits = torch.cat(self._logits)
        mean, std = classifier_score(logits, self.splits)
        return {"classifier_score": mean, "classifier_score_std": std, "n_fake": len(logits),
                **self._feature_info()}


class LabelAccuracy(Metric):
    """Per-label accuracy of the classifier on class-conditional samples: ``update(fake=x, labels=y)``."""

    name = "label_accuracy"

    def __init__(self, features) -> None:
        if features is None or not features.has_logits:
            raise GenzooError("label accuracy needs a feature network with class logits (lenet)")
        super().__init__(features)
        self._logits: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    def update(self, real=None, fake: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> None:
        """Add generated images and the labels they were generated for."""
        if fake is None or labels is None:
            raise GenzooError("label accuracy needs update(fake=images, labels=labels)")
        self._logits.append(self.features.extract(fake)[1])
        self._labels.append(torch.as_tensor(labels).long())

    def compute(self) -> dict:
        """{"label_accuracy": overall, "label_accuracy_per_label": {...}, ...}."""
        out = label_accuracy(torch.cat(self._logits), torch.cat(self._labels))
        return {"label_accuracy": out["accuracy"], "label_accuracy_per_label": out["per_label"],
                "n_fake": sum(len(l) for l in self._labels), **self._feature_info()}
