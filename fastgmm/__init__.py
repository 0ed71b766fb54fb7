"""fastgmm: Gaussian mixture models fitted by EM, fast (Numba kernels)."""

from ._parallel import get_num_threads, num_threads
from .classic import E_step, M_step, compute_vlb, train_EM
from .em import FitFailedError
from .mixture import GaussianMixture, RecoveryWarning
from .selection import select_model

__version__ = "0.1.0"

__all__ = [
    "E_step",
    "M_step",
    "compute_vlb",
    "train_EM",
    "FitFailedError",
    "GaussianMixture",
    "RecoveryWarning",
    "get_num_threads",
    "num_threads",
    "select_model",
    "__version__",
]
