"""genzoo: the classic deep generative models (GANs, VAEs, autoregressive models, mixtures),
with one API, one training loop, one CLI and one evaluation harness."""
from .errors import GenzooError
from .models.base import load
from .registry import get_model_class, model_names, register

__version__ = "0.1.0"
__all__ = ["GenzooError", "get_model_class", "load", "model_names", "register", "__version__"]
