"""Every genzoo model; importing this package registers them all."""
from .base import Batch, GenerativeModel, OptimGroup, load
from . import gan, vae  # noqa: F401  (registration)

__all__ = ["Batch", "GenerativeModel", "OptimGroup", "load"]
