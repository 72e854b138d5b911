"""Sample-quality and likelihood metrics, each a small object or a function.

``from genzoo.metrics import FID, KID, PRDC, feature_extractor``; the evaluation entry points
(``evaluate_run``, ``evaluate_real``, ``evaluate_folder``, ``evaluate_command``, ``format_table``,
``make_periodic_evaluator``) are defined in ``genzoo.metrics.evaluate``. Nothing is loaded at
import: weights and data are read when a function is called.
"""
from .base import Metric
from .classifier import ClassifierScore, LabelAccuracy, classifier_score, label_accuracy
from .features import FeatureExtractor, LeNetFeatures, describe_conditioning, feature_extractor
from .evaluate import (
    evaluate_command, evaluate_folder, evaluate_real, evaluate_run, format_table, make_periodic_evaluator,
)
from .fid import FID, KID, FeatureStats, frechet_distance, kid
from .nll import bits_per_dim, evaluate_nll, iwae_log_likelihood
from .prdc import PRDC, prdc
from .toy import MMD, ToyModes, mmd, mode_metrics

__all__ = [
    "Metric", "FID", "KID", "PRDC", "ClassifierScore", "LabelAccuracy", "ToyModes", "MMD",
    "FeatureExtractor", "LeNetFeatures", "FeatureStats", "feature_extractor", "describe_conditioning",
    "frechet_distance", "kid", "prdc", "classifier_score", "label_accuracy", "mode_metrics", "mmd",
    "bits_per_dim", "evaluate_nll", "iwae_log_likelihood",
    "evaluate_run", "evaluate_real", "evaluate_folder", "evaluate_command", "format_table",
    "make_periodic_evaluator",
]
