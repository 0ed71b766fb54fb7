"""Mixture parameters, their precision factors, and the conversions to the
layouts the kernels and scikit-learn use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels.linalg import _cholesky_inv
from ._kernels.passes import DIAG, FULL, SPHER, TIED

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
KIND = {"full": FULL, "tied": TIED, "diag": DIAG, "spherical": SPHER}
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
    """Precision factors of a :class:`GMMParams` and the kernel arguments.

    ``bad`` lists the components whose covariance is not positive definite (for
    'tied', every component when the shared matrix is not).
    """

    params: GMMParams
    prec_chol: np.ndarray  # scikit-learn's precisions_cholesky_ layout
    half_logdet: np.ndarray  # (C,) sum of log of the precision factor's diagonal
    bad: np.ndarray  # indices of components that failed

    def default_center(self) -> np.ndarray:
        """The weighted mean of the means: the point passes centre the data on."""
        p = self.params
        w = p.weights / p.weights.sum()
        return w @ p.means

    def kernel_args(self, dtype, center: np.ndarray) -> tuple:
        """``(mats, vecs, means, const)`` for :func:`fastgmm._kernels.passes._chunk_pass`.

        ``mats``: ``L_k^-1`` (lower triangular, rows padded with zeros to a
        multiple of 4) per component for 'full', the shared one for 'tied';
        ``vecs``: ``L^-1 (mu_k - center)`` for 'tied'; for 'diag'/'spherical'
        (2C, d), the square roots of the precisions ``a`` (rows ``:C``) over
        ``b = a mu`` rounded once to ``dtype`` (rows ``C:``), so that the kernel
        computes ``a x - b = a (x - b/a)`` with one fused multiply-add (the
        statistics are then taken around ``b/a``); ``const_k = log w_k + log|L_k^-1| - d log(2 pi)/2``.
        """
        p = self.params
        C, d = p.means.shape
        d4 = -(-d // 4) * 4
        ct = p.covariance_type
        if ct == "full":
            mats = np.zeros((C, d4, d), dtype)
            mats[:, :d, :] = np.swapaxes(self.prec_chol, 1, 2)
            vecs = np.zeros((0, d), dtype)
        elif ct == "tied":
            mats = np.zeros((1, d4, d), dtype)
            mats[0, :d, :] = self.prec_chol.T
            vecs = np.ascontiguousarray((p.means - center) @ self.prec_chol, dtype=dtype)
        else:
            pc = self.prec_chol if ct == "diag" else np.repeat(self.prec_chol[:, None], d, axis=1)
            mats = np.zeros((0, d4, d), dtype)
            vecs = np.empty((2 * C, d), dtype)
            vecs[:C] = pc
            vecs[C:] = vecs[:C].astype(np.float64) * p.means  # a rounded to dtype, then b
        with np.errstate(divide="ignore"):
            const = np.log(p.weights) + self.half_logdet - 0.5 * d * LOG_2PI
        # always fresh, writable copies: a read-only array (a user's read-only
        # means_init, say) would compile a second specialisation of the kernel
        means = np.array(p.means, dtype=dtype, order="C")
        return mats, vecs, means, np.array(const, np.float64, order="C")


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
        prec_chol = np.swapaxes(linv, 1, 2)
        if ct == "tied":
            prec_chol = prec_chol[0]
            bad = np.arange(C) if status[0] else np.zeros(0, np.int64)
            logdet = np.full(C, logdet[0])
        else:
            bad = np.flatnonzero(status)
        return Factors(params, np.ascontiguousarray(prec_chol), logdet, bad)
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
    return Factors(params, prec_chol, half, np.zeros(0, np.int64))


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
