"""Sufficient statistics of one pass, the M-step, and the pass wrappers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _config
from ._kernels.passes import _chunk_pass
from ._parallel import ordered_map
from .params import KIND, Factors, GMMParams, factorize


@dataclass
class SufficientStats:
    """What one pass over the data yields.

    ``nk`` (C,), ``s1`` (C, d) = sum r (x - shift_k), ``s2`` = the second moments
    (lower triangles for 'full'/'tied', around ``shift`` per component, or around
    ``center`` for 'tied'; per-feature for 'diag'/'spherical'), ``ll`` the
    weighted sum of per-point log-likelihoods, ``ecl`` the weighted sum of
    ``r * log(w_k N(x|k))`` when asked for, and the least likely point seen.
    Statistics of disjoint row blocks add with :meth:`merge`.
    """

    nk: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    shift: np.ndarray
    center: np.ndarray
    ll: float
    ecl: float = 0.0
    worst_ll: float = np.inf
    worst_index: int = -1

    def merge(self, other: "SufficientStats", offset: int = 0) -> "SufficientStats":
        """Statistics of the union of two disjoint row sets (same shift/center).

        ``offset`` is added to ``other``'s ``worst_index``.
        """
        worse = other.worst_ll < self.worst_ll
        return SufficientStats(
            self.nk + other.nk,
            self.s1 + other.s1,
            self.s2 + other.s2,
            self.shift,
            self.center,
            self.ll + other.ll,
            self.ecl + other.ecl,
            other.worst_ll if worse else self.worst_ll,
            other.worst_index + offset if worse else self.worst_index,
        )


_EMPTY_I = np.zeros(0, np.int64)
_EMPTY_F = np.zeros(0, np.float64)


def s2_shape(covariance_type: str, C: int, d: int) -> tuple[int, int, int]:
    """Shape of the second-moment accumulator for a covariance type."""
    if covariance_type == "full":
        return (C, d, d)
    if covariance_type == "tied":
        return (1, d, d)
    return (C, 1, d)


def run_pass(
    X: np.ndarray,
    sw: np.ndarray | None,
    factors: Factors,
    *,
    shift: np.ndarray | None = None,
    center: np.ndarray | None = None,
    resp_in: np.ndarray | None = None,
    labels_in: np.ndarray | None = None,
    resp_out: np.ndarray | None = None,
    ll_out: np.ndarray | None = None,
    labels_out: np.ndarray | None = None,
    want_stats: bool = True,
    want_ecl: bool = False,
    start: int = 0,
    stop: int | None = None,
    parallel: bool = True,
) -> SufficientStats:
    """One fused pass over rows ``[start, stop)`` of validated, C-contiguous ``X``.

    The rows are cut into fixed chunks (:func:`fastgmm._config.chunk_rows`), run
    on the thread pool, and their statistics summed in chunk order. ``shift``
    defaults to the current means and ``center`` to the first shift. Optional
    arrays must already have the kernel's dtypes and cover all rows of ``X``.
    ``parallel=False`` runs the chunks on the calling thread (dask tasks).
    """
    p = factors.params
    dtype = X.dtype
    C, d = p.means.shape
    n = X.shape[0] if stop is None else stop
    means, mats, vecs, const = factors.kernel_args(dtype)
    shift_x = means if shift is None else np.ascontiguousarray(shift, dtype=dtype)
    center_x = shift_x[0].copy() if center is None else np.ascontiguousarray(center, dtype=dtype)
    empty2 = np.zeros((0, C), dtype)
    kind = KIND[p.covariance_type]
    shape2 = s2_shape(p.covariance_type, C, d) if want_stats else (0, 1, 1)
    args = (
        sw if sw is not None else _EMPTY_F,
        means,
        mats,
        vecs,
        const,
        shift_x,
        center_x,
        empty2 if resp_in is None else resp_in,
        _EMPTY_I if labels_in is None else labels_in,
        empty2 if resp_out is None else resp_out,
        _EMPTY_F if ll_out is None else ll_out,
        _EMPTY_I if labels_out is None else labels_out,
        want_stats,
        want_ecl,
    )
    rows = _config.chunk_rows(n - start)

    def chunk(lo: int):
        nk = np.zeros(C)
        s1 = np.zeros((C, d))
        s2 = np.zeros(shape2)
        out = _chunk_pass(kind, X, lo, min(n, lo + rows), *args, nk, s1, s2)
        return nk, s1, s2, out

    starts = range(start, n, rows)
    results = ordered_map(chunk, starts) if parallel else map(chunk, starts)
    nk = np.zeros(C)
    s1 = np.zeros((C, d))
    s2 = np.zeros(shape2)
    ll = ecl = 0.0
    worst, worsti = np.inf, -1
    for cnk, cs1, cs2, (cll, cecl, cworst, cworsti) in results:  # chunk order
        nk += cnk
        s1 += cs1
        s2 += cs2
        ll += cll
        ecl += cecl
        if cworst < worst:
            worst, worsti = cworst, int(cworsti)
    return SufficientStats(
        nk, s1, s2, shift_x.astype(np.float64), center_x.astype(np.float64), ll, ecl, worst, worsti
    )


def m_step(stats: SufficientStats, covariance_type: str, reg_covar: float, eps: float) -> GMMParams:
    """New parameters from statistics, as scikit-learn's M-step computes them.

    ``eps`` is the dtype's machine epsilon: like scikit-learn, ``10 * eps`` is
    added to each ``nk`` so that an empty component keeps finite parameters.
    """
    nk = stats.nk
    nke = nk + 10.0 * eps
    delta = stats.s1 / nke[:, None]
    means = stats.shift + delta
    # sum r (x - mu)(x - mu)^T = S2 - (2 nke - nk) delta delta^T, exactly, around the shift
    corr = (2.0 * nke - nk)
    d = means.shape[1]
    if covariance_type == "full":
        s2 = _symmetric(stats.s2)
        cov = (s2 - corr[:, None, None] * delta[:, :, None] * delta[:, None, :]) / nke[:, None, None]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
    elif covariance_type == "tied":
        s2 = _symmetric(stats.s2)[0]
        a = means - stats.center
        cov = (s2 - (nke[:, None] * a).T @ a) / nke.sum()
        cov[np.arange(d), np.arange(d)] += reg_covar
    else:
        s2 = stats.s2[:, 0, :]
        cov = (s2 - corr[:, None] * delta * delta) / nke[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nke / nke.sum()
    return GMMParams(weights, means, cov, covariance_type)


def _symmetric(lower: np.ndarray) -> np.ndarray:
    """Full symmetric matrices from lower triangles (batched)."""
    diag = np.einsum("...ii->...i", lower)
    out = lower + np.swapaxes(lower, -1, -2)
    idx = np.arange(lower.shape[-1])
    out[..., idx, idx] = diag
    return out


def data_moments(X: np.ndarray, sw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance of ``X`` in float64, by two shifted passes.

    Uses the kernel (a one-component 'tied' pass), so it neither copies X nor
    loses precision on data far from the origin.
    """
    d = X.shape[1]
    f = factorize(GMMParams(np.ones(1), np.zeros((1, d)), np.eye(d), "tied"))
    st = run_pass(X, sw, f, shift=X[:1], center=X[0])
    mean = X[0].astype(np.float64) + st.s1[0] / st.nk[0]
    st = run_pass(X, sw, f, shift=mean[None], center=mean)
    delta = st.s1[0] / st.nk[0]
    cov = _symmetric(st.s2)[0] / st.nk[0] - np.outer(delta, delta)
    return mean + delta, cov
