"""Model files without pickle: a ``.npz`` of plain arrays plus a JSON header.

Layout (format ``fastgmm.GaussianMixture``, version 1)::

    header         0-d unicode array: JSON object with "format", "format_version",
                   "fastgmm_version", "covariance_type", "dtype", "n_components",
                   "n_features", "params" (estimator parameters) and "fitted"
                   (converged_, n_iter_, n_recoveries_)
    weights        (C,)                      the model's dtype (float32 or float64)
    means          (C, d)
    covariances    (C, d, d) | (d, d) | (C, d) | (C,)   by covariance type
    precisions_cholesky   same shape: the factors predictions use, kept so that
                   a loaded model predicts bit for bit as the saved one
    lower_bound    0-d float64
    lower_bounds   (n_iter,) float64
    feature_names_in   (d,) unicode, only when the model was fitted on named columns
    weights_init, means_init, precisions_init   float64, only when set

Files are read with ``np.load(allow_pickle=False)``, so loading never runs
code. On load the covariances are checked to be finite, symmetric and positive
definite, and the stored precision factors to agree with them.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._validation import check_param_array, check_spd, check_weights
from .params import COVARIANCE_TYPES, GMMParams, factorize

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "fastgmm.GaussianMixture"
FORMAT_VERSION = 1

_INIT_ARRAYS = ("weights_init", "means_init", "precisions_init")


def _version() -> str:
    from . import __version__

    return __version__


def _json_param(name: str, value):
    """An estimator parameter as a JSON value (None where it has none)."""
    if name == "random_state":
        # an int seed survives; a RandomState instance has no faithful JSON form
        return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_model(model, path) -> None:
    """Write a fitted :class:`~fastgmm.GaussianMixture` to ``path`` (.npz).

    The file is written exactly at ``path`` (no suffix is added) and atomically
    (a temporary file in the same folder, then a rename).

    Parameters
    ----------
    model : GaussianMixture
        A fitted estimator.
    path : str or os.PathLike
        Destination, conventionally ending in ``.npz``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``model`` is not fitted.
    """
    check_is_fitted(model)
    params = model.get_params()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastgmm_version": _version(),
        "covariance_type": model.covariance_type,
        "dtype": np.dtype(model.means_.dtype).name,
        "n_components": int(model.means_.shape[0]),
        "n_features": int(model.means_.shape[1]),
        "params": {k: _json_param(k, v) for k, v in params.items() if k not in _INIT_ARRAYS},
        "fitted": {
            "converged_": bool(model.converged_),
            "n_iter_": int(model.n_iter_),
            "n_recoveries_": int(getattr(model, "n_recoveries_", 0)),
        },
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "weights": np.asarray(model.weights_),
        "means": np.asarray(model.means_),
        "covariances": np.asarray(model.covariances_),
        "precisions_cholesky": np.asarray(model.precisions_cholesky_),
        "lower_bound": np.array(model.lower_bound_, np.float64),
        "lower_bounds": np.asarray(getattr(model, "lower_bounds_", []), np.float64),
    }
    if hasattr(model, "feature_names_in_"):
        arrays["feature_names_in"] = np.asarray(model.feature_names_in_, dtype=str)
    for name in _INIT_ARRAYS:
        if params.get(name) is not None:
            arrays[name] = np.asarray(params[name], np.float64)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastgmm-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Corrupt(ValueError):
    pass


def _read(path) -> dict:
    """All arrays of the file, or ``_Corrupt`` for anything that is not an npz
    of plain (non-object) arrays. A missing or unreadable file stays an OSError."""
    with open(path, "rb") as fh:  # OSError (missing, a folder...) passes through
        magic = fh.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise _Corrupt("holds a single .npy array, not a .npz model")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _Corrupt("is not a .npz file (no zip signature)")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # pickle, not a zip, truncated...
        raise _Corrupt(f"cannot be read as .npz ({type(exc).__name__}: {exc})") from None
    try:
        with data:
            return {name: data[name] for name in data.files}
    except Exception as exc:  # truncated member, object array, bad zip entry...
        raise _Corrupt(f"has an unreadable member ({type(exc).__name__}: {exc})") from None


def _header(arrays: dict) -> dict:
    h = arrays.get("header")
    if h is None or h.ndim != 0 or h.dtype.kind != "U":
        raise _Corrupt("has no fastgmm header (not a fastgmm model file)")
    try:
        header = json.loads(str(h[()]))
    except ValueError as exc:
        raise _Corrupt(f"has a header that is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Corrupt(f"is not a fastgmm model file (format {header.get('format') if isinstance(header, dict) else None!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _Corrupt(f"has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _Corrupt(
            f"was written in format version {version} by fastgmm {header.get('fastgmm_version')}; "
            f"this fastgmm ({_version()}) reads version {FORMAT_VERSION}: upgrade fastgmm"
        )
    for key, kind in (("covariance_type", str), ("dtype", str), ("n_components", int), ("n_features", int),
                      ("params", dict), ("fitted", dict)):
        if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool):
            raise _Corrupt(f"has a header without a valid {key!r}")
    return header


def _array(arrays: dict, name: str, shape: tuple, dtype) -> np.ndarray:
    if name not in arrays:
        raise _Corrupt(f"lacks the array {name!r}")
    a = arrays[name]
    if a.dtype != dtype:
        raise _Corrupt(f"has {name} of dtype {a.dtype}, expected {np.dtype(dtype).name}")
    if a.shape != shape:
        raise _Corrupt(f"has {name} of shape {a.shape}, expected {shape}")
    if not np.all(np.isfinite(a)):
        raise _Corrupt(f"has non-finite values (NaN or inf) in {name}")
    return a


def load_model(path):
    """Read a model written by :func:`save_model` (or ``GaussianMixture.save``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : GaussianMixture
        Fitted, with the saved parameters, dtype and estimator parameters.

    Raises
    ------
    ValueError
        When the file is corrupt, foreign (not a fastgmm model), from a newer
        format version, or holds parameters of the wrong shape, non-finite
        values, weights that do not sum to 1 or covariances that are not
        symmetric positive definite. The message names the file and the problem.
    OSError
        When the file cannot be opened (missing, a folder, no permission).
    """
    from .mixture import GaussianMixture, check_parameters, set_parameters

    try:
        arrays = _read(path)
        header = _header(arrays)
        ct = header["covariance_type"]
        if ct not in COVARIANCE_TYPES:
            raise _Corrupt(f"has an unknown covariance type {ct!r}")
        if header["dtype"] not in ("float32", "float64"):
            raise _Corrupt(f"has an unsupported dtype {header['dtype']!r}")
        dtype = np.dtype(header["dtype"])
        C, d = header["n_components"], header["n_features"]
        if C < 1 or d < 1:
            raise _Corrupt(f"has invalid sizes n_components={C}, n_features={d}")
        cov_shape = {"full": (C, d, d), "tied": (d, d), "diag": (C, d), "spherical": (C,)}[ct]
        weights = _array(arrays, "weights", (C,), dtype).astype(np.float64)
        means = _array(arrays, "means", (C, d), dtype).astype(np.float64)
        cov = _array(arrays, "covariances", cov_shape, dtype).astype(np.float64)
        try:
            check_weights(weights, C, "weights")
            if ct in ("full", "tied"):
                check_spd(cov, "covariances")
            elif np.any(cov <= 0):
                raise ValueError("covariances must be positive")
        except ValueError as exc:
            raise _Corrupt(f"has invalid parameters: {exc}") from None
        params = GMMParams(weights, means, cov, ct)
        if factorize(params).bad.size:
            raise _Corrupt("has covariances that are not numerically positive definite")

        init = {name: check_param_array(arrays[name], name, arrays[name].shape)
                for name in _INIT_ARRAYS if name in arrays}
        try:
            model = GaussianMixture(**{**header["params"], **init})
            check_parameters(model, d)
        except (TypeError, ValueError) as exc:
            raise _Corrupt(f"has invalid estimator parameters: {exc}") from None
        if model.n_components != C or model.covariance_type != ct:
            raise _Corrupt("has estimator parameters that disagree with its arrays")

        fitted = header["fitted"]
        lb = arrays.get("lower_bound")
        lbs = arrays.get("lower_bounds")
        if lb is None or lb.shape != () or lbs is None or lbs.ndim != 1 or lbs.dtype.kind != "f":
            raise _Corrupt("lacks a valid lower_bound / lower_bounds")
        names = arrays.get("feature_names_in")
        if names is not None and (names.dtype.kind != "U" or names.shape != (d,)):
            raise _Corrupt(
                f"has feature_names_in of dtype {names.dtype} and shape {names.shape}, expected ({d},) str"
            )
        try:
            converged = bool(fitted["converged_"])
            n_iter = int(fitted["n_iter_"])
            n_rec = int(fitted.get("n_recoveries_", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise _Corrupt(f"has an invalid 'fitted' header entry ({exc})") from None
        set_parameters(model, params, dtype)
        stored = _array(arrays, "precisions_cholesky", cov_shape, dtype)
        fresh = model.precisions_cholesky_
        tol = 1e-4 if dtype == np.float32 else 1e-8
        if not np.allclose(stored, fresh, rtol=tol, atol=tol * float(np.abs(fresh).max())):
            raise _Corrupt("has precisions_cholesky that disagree with its covariances")
    except _Corrupt as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}") from None

    # the saved factors (equal up to round-off) make predictions bit-identical
    model.precisions_cholesky_ = stored
    model.converged_ = converged
    model.n_iter_ = n_iter
    model.lower_bound_ = float(lb)
    model.lower_bounds_ = [float(v) for v in lbs]
    model.n_recoveries_ = n_rec
    model.n_features_in_ = d
    if names is not None:
        model.feature_names_in_ = names.astype(object)
    return model
