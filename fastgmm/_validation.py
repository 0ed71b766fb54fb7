"""Validation and normalisation, done once in Python before any kernel runs."""

from __future__ import annotations

import numbers
import re
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np

FLOATS = (np.float64, np.float32)


# ------------------------------------------------------- constructor parameters
class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter of the wrong type or out of range.

    fastgmm's own class with the bases of scikit-learn's
    ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``), raised
    with scikit-learn's message for the same bad value, e.g. "The
    'n_components' parameter of GaussianMixture must be an int in the range
    [1, inf). Got 0 instead."
    """


def _type_name(t) -> str:
    """scikit-learn's spelling of a type in parameter messages."""
    if t.__module__ == "builtins":
        return t.__qualname__
    if t is Real:
        return "float"
    if t is Integral:
        return "int"
    return f"{t.__module__}.{t.__qualname__}"


class Interval:
    """Numbers of ``type`` (``Integral`` or ``Real``) in ``[left, right)``-style
    bounds (``None``: unbounded); bools are Integral, as in scikit-learn."""

    def __init__(self, type, left, right, *, closed: str):
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def is_satisfied_by(self, val) -> bool:
        if not isinstance(val, self.type):
            return False
        if not isinstance(val, Integral) and np.isnan(val):
            return False
        left = -np.inf if self.left is None else self.left
        right = np.inf if self.right is None else self.right
        if (val < left) if self.closed in ("left", "both") else (val <= left):
            return False
        if (val > right) if self.closed in ("right", "both") else (val >= right):
            return False
        return True

    def __str__(self) -> str:
        left = "-inf" if self.left is None else self.left
        right = "inf" if self.right is None else self.right
        if self.type is not Integral:
            left = float(left) if self.left is not None else left
            right = float(right) if self.right is not None else right
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        return f"{'an int' if self.type is Integral else 'a float'} in the range {lb}{left}, {right}{rb}"


class StrOptions:
    """One of the strings ``options`` (a tuple: the message lists them in this
    order).

    scikit-learn lists its options in the iteration order of a set, which
    depends on string hashing (``PYTHONHASHSEED``, random per process) and on
    how its compiled module stored the set, so the order of the list in its
    message changes from run to run; fastgmm keeps the order of scikit-learn's
    source. The rest of the message is scikit-learn's, character for character.
    """

    def __init__(self, options: tuple):
        self.options = tuple(options)

    def is_satisfied_by(self, val) -> bool:
        return isinstance(val, str) and val in self.options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(repr(o) for o in self.options)}}}"


class InstanceOf:
    def __init__(self, type):
        self.type = type

    def is_satisfied_by(self, val) -> bool:
        return isinstance(val, self.type)

    def __str__(self) -> str:
        return f"an instance of {_type_name(self.type)!r}"


class NoneConstraint:
    def is_satisfied_by(self, val) -> bool:
        return val is None

    def __str__(self) -> str:
        return "None"


class ArrayLike:
    """Anything with a length, a shape or ``__array__`` that is not a scalar
    or a sparse matrix (scikit-learn's "array-like")."""

    def is_satisfied_by(self, val) -> bool:
        from scipy.sparse import issparse

        if issparse(val):
            return False
        return (hasattr(val, "__len__") or hasattr(val, "shape") or hasattr(val, "__array__")) and not np.isscalar(val)

    def __str__(self) -> str:
        return "an array-like"


#: scikit-learn's "boolean", "verbose" and "random_state" constraints
BOOLEAN = (InstanceOf(bool), InstanceOf(np.bool_))
VERBOSE = (Interval(Integral, 0, None, closed="left"),) + BOOLEAN
RANDOM_STATE = (
    Interval(Integral, 0, 2**32 - 1, closed="both"), InstanceOf(np.random.RandomState), NoneConstraint(),
)


def validate_params(constraints: dict, params: dict, caller_name: str) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter (in the
    order of ``params``) that satisfies none of its ``constraints``, with
    scikit-learn's message; parameters without constraints are not checked."""
    for name, val in params.items():
        cons = constraints.get(name)
        if cons is None or any(c.is_satisfied_by(val) for c in cons):
            continue
        if len(cons) == 1:
            text = str(cons[0])
        else:
            text = f"{', '.join(str(c) for c in cons[:-1])} or {cons[-1]}"
        raise InvalidParameterError(f"The {name!r} parameter of {caller_name} must be {text}. Got {val!r} instead.")


#: scikit-learn's message (``_gaussian_mixture._compute_precision_cholesky``)
#: when a fit fails on an ill-defined covariance
ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)
ILL_DEFINED_COVARIANCE_FLOAT32 = (
    " The numerical accuracy can also be improved by passing float64 data instead of float32."
)


def ill_defined_covariance_message(dtype=np.float64) -> str:
    """scikit-learn's failure message for data of ``dtype`` (float32 data
    gets its extra sentence)."""
    extra = ILL_DEFINED_COVARIANCE_FLOAT32 if np.dtype(dtype) == np.float32 else ""
    return ILL_DEFINED_COVARIANCE + extra


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


# ------------------------------------------------ the estimator's init arrays
# scikit-learn's checks of weights_init / means_init / precisions_init
# (``sklearn.mixture._gaussian_mixture._check_weights`` & co.): the same
# conversions, tolerances and messages. Each array is checked in its own dtype
# (float32 stays float32, as in scikit-learn: a float32 weights_init needs to
# sum to 1 only to float32 precision) and returned as float64 for the fit.
def _init_array(a, name: str, **kw) -> np.ndarray:
    from sklearn.utils import check_array

    with naming(name):  # "Invalid weights_init: Input contains NaN." and the like
        return check_array(a, dtype=[np.float64, np.float32], ensure_2d=False, **kw)


def _check_shape(a: np.ndarray, shape: tuple, name: str) -> None:
    if a.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {a.shape}")


def check_weights_init(weights, n_components: int) -> np.ndarray:
    w = _init_array(weights, "weights_init")
    _check_shape(w, (n_components,), "weights")
    if np.any(w < 0.0) or np.any(w > 1.0):
        # (scikit-learn's message puts the minimum after "max value" and the
        # maximum after "min value"; reproduced as it prints)
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"max value {np.min(w):.5f}, min value {np.max(w):.5f}"
        )
    atol = 1e-6 if w.dtype == np.float32 else 1e-8
    if not np.allclose(float(np.abs(1.0 - np.sum(w))), 0.0, atol=atol):
        raise ValueError(f"The parameter 'weights' should be normalized, but got sum(weights) = {np.sum(w):.5f}")
    return np.ascontiguousarray(w, dtype=np.float64)


def check_means_init(means, n_components: int, n_features: int) -> np.ndarray:
    m = _init_array(means, "means_init")
    _check_shape(m, (n_components, n_features), "means")
    return np.ascontiguousarray(m, dtype=np.float64)


def check_precisions_init(precisions, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """Validated precisions; a full or tied matrix is returned exactly
    symmetric, from its upper triangle (scikit-learn accepts matrices symmetric
    to ``np.isclose`` and factorises the lower triangle of the matrix with rows
    and columns reversed: the upper triangle)."""
    C, d, ct = n_components, n_features, covariance_type
    p = _init_array(precisions, "precisions_init", allow_nd=ct == "full")
    shape = {"full": (C, d, d), "tied": (d, d), "diag": (C, d), "spherical": (C,)}[ct]
    _check_shape(p, shape, f"{ct} precision")
    if ct in ("full", "tied"):
        for a in p.reshape((-1, d, d)):
            if not (np.all(np.isclose(a, a.T)) and np.all(np.linalg.eigvalsh(a) > 0.0)):
                raise ValueError(f"'{ct} precision' should be symmetric, positive-definite")
        p = np.asarray(p, dtype=np.float64)
        p = np.triu(p) + np.swapaxes(np.triu(p, 1), -1, -2)
    elif np.any(p <= 0.0):
        raise ValueError(f"'{ct} precision' should be positive")
    return np.ascontiguousarray(p, dtype=np.float64)


def check_fit_shape(n_samples: int, n_features: int, n_components: int, estimator_name: str) -> None:
    """The shape checks of a fit, in scikit-learn's words, for every data
    source (arrays, files, dask arrays): at least 2 rows, 1 feature and
    ``n_components`` rows."""
    shape = (n_samples, n_features)
    if n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={shape}) while a minimum of 2 is "
            f"required by {estimator_name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required by {estimator_name}."
        )
    if n_samples < n_components:
        raise ValueError(
            "Expected n_samples >= n_components but got "
            f"n_components = {n_components}, n_samples = {n_samples}"
        )


# ------------------------------------------- the Bayesian mixture's priors
# scikit-learn's checks in ``BayesianGaussianMixture._check_parameters``: the
# same conversions and messages; returned as float64 for the fit.
def check_prior_mean(mean_prior, n_features: int) -> np.ndarray:
    m = _init_array(mean_prior, "mean_prior")
    _check_shape(m, (n_features,), "means")
    return np.ascontiguousarray(m, dtype=np.float64)


def check_prior_covariance(covariance_prior, covariance_type: str, n_features: int):
    """(d, d) symmetric positive definite for 'full'/'tied', (d,) positive for
    'diag', a positive number for 'spherical'."""
    ct, d = covariance_type, n_features
    if ct == "spherical":
        c = np.asarray(covariance_prior, dtype=np.float64)
        if c.size != 1 or not np.isfinite(c).all() or not c.reshape(()) > 0:
            raise ValueError(
                f"covariance_prior must be a positive number for covariance_type='spherical', got {covariance_prior!r}"
            )
        return float(c.reshape(()))
    c = _init_array(covariance_prior, "covariance_prior")
    if ct in ("full", "tied"):
        _check_shape(c, (d, d), f"{ct} covariance_prior")
        if not (np.allclose(c, c.T) and np.all(np.linalg.eigvalsh(c) > 0.0)):
            raise ValueError(f"'{ct} precision' should be symmetric, positive-definite")
    else:
        _check_shape(c, (d,), f"{ct} covariance_prior")
        if np.any(np.less_equal(c, 0.0)):
            raise ValueError(f"'{ct} precision' should be positive")
    return np.ascontiguousarray(c, dtype=np.float64)
