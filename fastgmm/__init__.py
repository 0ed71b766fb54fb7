"""fastgmm: Gaussian mixture models fitted by EM, fast (Numba kernels)."""

from ._parallel import get_num_threads, num_threads
from .classic import E_step, M_step, compute_vlb, train_EM
from .em import FitFailedError

# The estimator and model selection import scikit-learn (about 2 s on a machine
# with pandas installed); the classic functions and the kernels do not, so they
# load on first use.
_LAZY = {
    "GaussianMixture": "mixture",
    "BayesianGaussianMixture": "bayesian_mixture",
    "RecoveryWarning": "mixture", "select_model": "selection",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__version__ = "0.1.0"

__all__ = [
    "E_step",
    "M_step",
    "compute_vlb",
    "train_EM",
    "FitFailedError",
    "GaussianMixture",
    "BayesianGaussianMixture",
    "RecoveryWarning",
    "get_num_threads",
    "num_threads",
    "select_model",
    "__version__",
]
