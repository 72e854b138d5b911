"""Every genzoo model; importing this package registers them all."""
from .base import Batch, GenerativeModel, OptimGroup, load
from . import gan, vae  # noqa: F401  (registration)
from . import bigan, cgan, dcgan, infogan, softmax_gan, ssgan  # noqa: F401  (registration: the GAN family)
from . import aae, conv_vae, cvae, gated_pixelcnn, gmm, pixelcnn, pixelrnn  # noqa: F401  (registration)
from . import made, nade  # noqa: F401  (registration: fully-visible belief networks)

__all__ = ["Batch", "GenerativeModel", "OptimGroup", "load"]
