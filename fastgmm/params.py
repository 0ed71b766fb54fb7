"""Mixture parameters, their precision factors, and the conversions to the
layouts the kernels and scikit-learn use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels.linalg import _cholesky_inv
from ._kernels.models import DiagModel, FullModel, SphericalModel, TiedModel

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
LOG_2PI = np.log(2.0 * np.pi)


@dataclass
class GMMParams:
    """Weights, means and covariances in scikit-learn's shapes (float64).

    ``covariances`` is (C, d, d) for 'full', (d, d) for 'tied', (C, d) for
    'diag' and (C,) for 'spherical'.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    def copy(self) -> "GMMParams":
        return GMMParams(
            self.weights.copy(), self.means.copy(), self.covariances.copy(), self.covariance_type
        )


@dataclass
class Factors:
    """Precision factors of a :class:`GMMParams`, in the kernels' layout.

    ``linv``: 'full' (C, d, d) the lower-triangular ``L_k^-1`` of each covariance
    ``L_k L_k^T``; 'tied' (d, d) the shared one; 'diag' (C, d) and 'spherical'
    (C,) the square roots of the precisions. ``half_logdet`` (C,) is
    ``log|L_k^-1|``. ``bad`` lists the components whose covariance is not
    positive definite (for 'tied', every component when the shared matrix is not).
    ``log_weights`` (C,), when given, replaces ``log w_k`` in the E-step's
    per-component term (the variational E-step's expected log weight and bias).
    """

    params: GMMParams
    linv: np.ndarray
    half_logdet: np.ndarray
    bad: np.ndarray
    log_weights: np.ndarray | None = None

    @property
    def prec_chol(self) -> np.ndarray:
        """scikit-learn's ``precisions_cholesky_`` (upper triangular, ``L^-T``)."""
        ct = self.params.covariance_type
        if ct == "full":
            return np.ascontiguousarray(np.swapaxes(self.linv, 1, 2))
        if ct == "tied":
            return np.ascontiguousarray(self.linv.T)
        return self.linv

    def default_center(self) -> np.ndarray:
        """The weighted mean of the means: the point 'tied' passes centre the data on."""
        p = self.params
        w = p.weights / p.weights.sum()
        return w @ p.means

    def model(self, dtype, center: np.ndarray | None = None):
        """The kernels' model (:mod:`fastgmm._kernels.models`) in ``dtype``.

        'tied' takes ``center`` (default :meth:`default_center`), rounded to
        ``dtype``; 'diag'/'spherical' get ``a`` (the precisions' square roots,
        rounded to ``dtype``) and ``b = a mu`` rounded once, so that the kernel's
        one fused multiply-add ``a x - b`` is ``a (x - b/a)``. Arrays are
        fresh and writable (a read-only array would compile a second
        specialisation of every kernel).
        """
        p = self.params
        C, d = p.means.shape
        ct = p.covariance_type
        with np.errstate(divide="ignore"):
            logw = np.log(p.weights) if self.log_weights is None else self.log_weights
            const = logw + self.half_logdet - 0.5 * d * LOG_2PI
        means = np.array(p.means, dtype=dtype, order="C")
        if ct == "full":
            mats = np.zeros((C, -(-d // 4) * 4, d), dtype)
            mats[:, :d, :] = self.linv
            return FullModel(mats, means, const)
        if ct == "tied":
            c64 = self.default_center() if center is None else np.asarray(center, np.float64)
            cx = np.array(c64, dtype=dtype)
            mat = np.zeros((-(-d // 4) * 4, d), dtype)
            mat[:d] = self.linv
            vecs = np.ascontiguousarray((p.means - cx.astype(np.float64)) @ self.linv.T, dtype=dtype)
            return TiedModel(mat, vecs, cx, const)
        pc = self.linv if ct == "diag" else np.repeat(self.linv[:, None], d, axis=1)
        a = np.array(pc, dtype=dtype, order="C")
        b = np.ascontiguousarray(a.astype(np.float64) * p.means, dtype=dtype)
        return (DiagModel if ct == "diag" else SphericalModel)(a, b, const)


def factorize(params: GMMParams) -> Factors:
    """Cholesky-factor the covariances; never raises on a bad matrix, records it."""
    ct = params.covariance_type
    cov = params.covariances
    d = params.n_features
    C = params.n_components
    if ct in ("full", "tied"):
        mats = np.ascontiguousarray(cov if ct == "full" else cov[None], dtype=np.float64)
        linv = np.empty_like(mats)
        status = np.zeros(mats.shape[0], np.int64)
        logdet = _cholesky_inv(mats, linv, status)
        if ct == "tied":
            linv = linv[0]
            bad = np.arange(C) if status[0] else np.zeros(0, np.int64)
            logdet = np.full(C, logdet[0])
        else:
            bad = np.flatnonzero(status)
        return Factors(params, linv, logdet, bad)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = np.isfinite(cov) & (cov > 0)
        prec_chol = np.where(ok, 1.0 / np.sqrt(np.where(ok, cov, 1.0)), 1.0)
        if ct == "diag":
            bad = np.flatnonzero(~ok.all(axis=1))
            half_logdet = np.log(prec_chol).sum(axis=1)
        else:
            bad = np.flatnonzero(~ok)
            half_logdet = d * np.log(prec_chol)
    if not np.all(np.isfinite(half_logdet)):
        bad = np.union1d(bad, np.flatnonzero(~np.isfinite(half_logdet)))
    return Factors(params, prec_chol, half_logdet, bad)


def factors_from_precision_cholesky(
    weights: np.ndarray, means: np.ndarray, prec_chol: np.ndarray, covariance_type: str
) -> Factors:
    """Kernel factors from scikit-learn-style fitted attributes (no covariances
    needed: ``params.covariances`` is left empty)."""
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    C, d = means.shape
    if covariance_type == "full":
        half = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    elif covariance_type == "tied":
        half = np.full(C, np.log(np.diag(prec_chol)).sum())
    elif covariance_type == "diag":
        half = np.log(prec_chol).sum(axis=1)
    else:
        half = d * np.log(prec_chol)
    params = GMMParams(
        np.asarray(weights, np.float64), np.asarray(means, np.float64), np.zeros(0), covariance_type
    )
    if covariance_type == "full":
        linv = np.swapaxes(prec_chol, 1, 2)
    elif covariance_type == "tied":
        linv = prec_chol.T
    else:
        linv = prec_chol
    return Factors(params, np.ascontiguousarray(linv), half, np.zeros(0, np.int64))


def precisions_from_cholesky(prec_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    """Precision matrices from their Cholesky factors (scikit-learn's layout)."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """Invert precisions (validated positive definite by the caller)."""
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Number of free parameters of the mixture (as scikit-learn counts them)."""
    C, d = n_components, n_features
    cov = {
        "full": C * d * (d + 1) / 2.0,
        "tied": d * (d + 1) / 2.0,
        "diag": C * d,
        "spherical": C,
    }[covariance_type]
    return int(cov + C * d + C - 1)
