"""genzoo: the classic deep generative models (GANs, VAEs, autoregressive models, mixtures),
with one API, one training loop, one CLI and one evaluation harness."""
import os

# OpenMP threads that busy-wait turn a shared CPU into a 30x slowdown: on the 2-core machine,
# with other jobs running, 1000 VAE steps took 568 s with 2 spinning threads, 42 s with 2 passive
# ones and 21 s with 1 (docs/benchmarks.md). Passive waiting only takes effect if set before
# torch starts its thread pool, so it is set here, first; an explicit setting wins. On a machine
# a run has to itself, GOMP_SPINCOUNT=30000 (spin briefly, then sleep) made a 2-thread run 1.76x
# faster, and 5x slower on a loaded one: the safe default stays (docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import GenzooError  # noqa: E402
from .models.base import load  # noqa: E402
from .registry import get_model_class, model_names, register  # noqa: E402

__version__ = "0.1.0"
__all__ = ["GenzooError", "get_model_class", "load", "model_names", "register", "__version__"]
