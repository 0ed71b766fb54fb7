"""Validation and normalisation, done once in Python before any kernel runs."""

from __future__ import annotations

import numbers
import re
from contextlib import contextmanager

import numpy as np

FLOATS = (np.float64, np.float32)


@contextmanager
def naming(name: str):
    """Make a ``ValueError``/``TypeError`` raised inside the block name ``name``.

    scikit-learn's messages often describe the problem without saying which
    argument has it ("could not convert string to float", "Expected 2D array");
    such messages get an ``"Invalid <name>: "`` prefix. The exception type and
    the original text are kept (so patterns matched against it still match).
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", msg):
            raise
        try:
            new = type(exc)(f"Invalid {name}: {msg}")
        except Exception:  # an exception class with another constructor
            raise exc from None
        raise new from exc


def as_kernel_array(X) -> np.ndarray:
    """C-contiguous float32/float64 (copies only when needed; read-only is fine)."""
    return np.ascontiguousarray(X)


def check_X(X, name: str = "X", min_samples: int = 1, dtype=FLOATS) -> np.ndarray:
    """A 2-D, finite, C-contiguous float32/float64 array (ints, bools, lists,
    DataFrames, memmaps and slices are converted).

    A finite float32/float64 ndarray of the right shape takes a fast path
    that does not import scikit-learn (finiteness from the sum, as
    scikit-learn checks it, without an N x d temporary); anything else,
    including a sum that overflows, goes through scikit-learn's
    ``check_array`` (its conversions and messages).
    """
    if (
        type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in (dtype if isinstance(dtype, tuple) else (dtype,))
        and X.shape[0] >= max(1, min_samples)
        and X.shape[1] >= 1
        and np.isfinite(np.sum(X, dtype=np.float64))  # no N x d temporary
    ):
        return as_kernel_array(X)
    from sklearn.utils import check_array

    with naming(name):
        X = check_array(
            X,
            dtype=list(dtype) if isinstance(dtype, tuple) else dtype,
            order="C",
            ensure_min_samples=min_samples,
            ensure_all_finite=True,
            input_name=name,
        )
    return as_kernel_array(X)


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray | None:
    """float64 weights of shape (n_samples,), finite, >= 0, not all zero."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    from sklearn.utils import check_array

    with naming("sample_weight"):
        sw = check_array(
            sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight", order="C"
        )
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got {sw.shape}"
        )
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative; it has negative entries")
    if not sw.sum() > 0:
        raise ValueError("sample_weight must have a positive sum; all weights are zero")
    return np.ascontiguousarray(sw)


def check_param_array(a, name: str, shape: tuple) -> np.ndarray:
    """A finite float64 array of exactly ``shape``, with a message naming ``name``."""
    if _has_complex(a):
        raise ValueError(f"{name} must be real; complex numbers are not supported")
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return np.ascontiguousarray(arr)


def _has_complex(a) -> bool:
    """True when ``a`` holds complex numbers (which ``np.asarray(a, float)``
    would silently truncate to their real part, with only a warning)."""
    if isinstance(a, np.ndarray):
        if a.dtype != object:
            return np.iscomplexobj(a)
    elif not isinstance(a, (list, tuple, complex, np.generic)):
        return np.iscomplexobj(a)
    try:
        flat = np.asarray(a, dtype=object).ravel()
    except ValueError:  # ragged: np.asarray(a, float) reports it
        return False
    return any(isinstance(v, (complex, np.complexfloating)) or np.iscomplexobj(v) for v in flat)


def check_weights(weights, n_components: int, name: str = "weights") -> np.ndarray:
    w = check_param_array(weights, name, (n_components,))
    if np.any(w < 0) or np.any(w > 1):
        raise ValueError(f"{name} must be in the range [0, 1], got min {w.min():g}, max {w.max():g}")
    if not np.allclose(w.sum(), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(f"{name} must sum to 1, got sum {w.sum():.8f}")
    return w


def check_spd(mats: np.ndarray, name: str) -> None:
    """Raise ValueError unless every matrix in ``mats`` (..., d, d) is symmetric
    positive definite."""
    m = mats.reshape((-1,) + mats.shape[-2:])
    for k, a in enumerate(m):
        if not np.allclose(a, a.T, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(a).max())):
            raise ValueError(f"{name}[{k}] must be symmetric" if m.shape[0] > 1 or mats.ndim == 3 else f"{name} must be symmetric")
        try:
            np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            where = f"{name}[{k}]" if mats.ndim == 3 else name
            raise ValueError(f"{where} must be positive definite") from None
