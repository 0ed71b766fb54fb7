"""Sufficient statistics of one pass, the M-step, and the pass wrapper."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _config
from ._kernels.passes import _chunk_pass
from ._parallel import ordered_map
from .params import KIND, Factors, GMMParams, factorize


@dataclass
class SufficientStats:
    """What one pass over the data yields, all in float64.

    ``nk`` (C,); ``s1`` (C, d) = sum r w (x - shift_k); ``s2`` the second
    moments: (C, d, d) around each ``shift_k`` for 'full', one pooled (d, d)
    around ``center`` for 'tied' (whose shift is the centre for every
    component), (C, d) per feature around ``shift_k`` for 'diag' (for
    'spherical' only the row sums count: a pass may put each row's sum in its
    first column);
    ``ll`` the weighted sum of per-point log-likelihoods; ``ecl`` the weighted
    sum of ``r log(w_k N(x|k))`` when asked for, with ``entropy`` the weighted
    sum of ``-sum_k r log r`` (summed per point) when the pass computed the
    responsibilities itself; and the least likely point seen. Statistics of
    disjoint row blocks (same parameters, shift and centre) add with
    :meth:`merge`.
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
    entropy: float = 0.0

    def merge(self, other: "SufficientStats", offset: int = 0) -> "SufficientStats":
        """Statistics of the union of two disjoint row sets.

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
            self.entropy + other.entropy,
        )


_EMPTY_I = np.zeros(0, np.int64)
_EMPTY_I32 = np.zeros(0, np.int32)
_EMPTY_F = np.zeros(0, np.float64)


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

    The rows are cut into fixed chunks (:func:`fastgmm._config.chunk_rows`, from
    the shape only), run on the thread pool, and their statistics summed in
    chunk order, so the result does not depend on the thread count.

    ``center`` defaults to the weighted mean of the means. ``shift`` (C, d), the
    points the statistics are taken around, defaults to the means for 'full',
    to ``b/a`` of :meth:`Factors.kernel_args` (the means to within one rounding) for
    'diag'/'spherical' and to the centre for 'tied'; when only ``center`` is
    given, it is the shift of every component. The result's ``shift`` says
    which points were used. Optional arrays
    must already have the kernel's dtypes and cover all rows of ``X``.
    ``parallel=False`` runs the chunks on the calling thread (dask tasks).
    """
    p = factors.params
    ct = p.covariance_type
    dtype = X.dtype
    C, d = p.means.shape
    d4 = -(-d // 4) * 4
    n = X.shape[0] if stop is None else stop
    c64 = factors.default_center() if center is None else np.asarray(center, np.float64)
    center_x = np.array(c64, dtype=dtype, order="C")  # writable: see kernel_args
    mats, vecs, means, const = factors.kernel_args(dtype, center_x.astype(np.float64))
    shift64 = None
    if shift is None and center is None and ct in ("diag", "spherical"):
        # no shift: the kernel takes the statistics around its own b/a
        shift_x = np.zeros((0, d), dtype)
        v = vecs.astype(np.float64)
        shift64 = v[C:] / v[:C]  # b/a: the means to within one rounding in X's dtype
    elif shift is None:
        # np.repeat, not broadcast_to: a read-only shift would be a second
        # compiled specialisation of the kernel (seconds of compile time)
        shift_x = means if (center is None and ct != "tied") else np.repeat(center_x[None], C, axis=0)
    else:
        shift_x = np.array(shift, dtype=dtype, order="C")
    if shift64 is None:
        shift64 = shift_x.astype(np.float64)
    block = _config.block_rows(d, dtype.itemsize)
    empty2 = np.zeros((0, C), dtype)
    kind = KIND[ct]
    args = (
        _EMPTY_F if sw is None else _writable(sw),
        mats,
        vecs,
        means,
        const,
        shift_x,
        center_x,
        empty2 if resp_in is None else _writable(resp_in),
        # input labels as int32 (half the memory of an N-row int64 array)
        _EMPTY_I32 if labels_in is None else _writable(np.asarray(labels_in, np.int32)),
        empty2 if resp_out is None else resp_out,
        _EMPTY_F if ll_out is None else ll_out,
        _EMPTY_I if labels_out is None else labels_out,
        want_stats,
        want_ecl,
        block,
    )
    rows = _config.chunk_rows(n - start)
    if not want_stats:
        s2_shape = (0, 1, 1)
    else:
        s2_shape = {"full": (C, d4, d), "tied": (1, d4, d)}.get(ct, (C, 1, d))

    def chunk(lo: int):
        nk = np.zeros(C)
        s1 = np.zeros((C, d))
        s2 = np.zeros(s2_shape)
        out = _chunk_pass(kind, X, lo, min(n, lo + rows), *args, nk, s1, s2)
        return nk, s1, s2, out

    starts = range(start, n, rows)
    results = ordered_map(chunk, starts) if parallel else map(chunk, starts)
    nk = np.zeros(C)
    s1 = np.zeros((C, d))
    s2 = np.zeros(s2_shape)
    ll = ecl = ent = 0.0
    worst, worsti = np.inf, -1
    for cnk, cs1, cs2, (cll, cecl, cworst, cworsti, cent) in results:  # chunk order
        nk += cnk
        s1 += cs1
        s2 += cs2
        ll += cll
        ecl += cecl
        ent += cent
        if cworst < worst:
            worst, worsti = cworst, int(cworsti)
    if not want_stats:
        s2 = np.zeros(0)
    elif ct == "full":
        s2 = _symmetric(s2[:, :d, :])
    elif ct == "tied":
        s2 = _symmetric(s2[0, :d, :])
    else:
        s2 = s2[:, 0, :]
    return SufficientStats(
        nk, s1, s2, shift64, center_x.astype(np.float64), ll, ecl, worst, worsti, ent
    )


def _writable(a: np.ndarray) -> np.ndarray:
    """``a``, or a copy when it is read-only: Numba compiles read-only arrays as a
    type of their own, and every extra specialisation of the kernel costs seconds
    of compile time. (Read-only X itself is passed through: it is never copied.)"""
    return a if a.flags.writeable else a.copy()


def _symmetric(lower: np.ndarray) -> np.ndarray:
    """Symmetric matrices from their lower triangles (batched; what lies above
    the diagonal is ignored). One ``np.where`` on a cached mask: two
    ``np.tril`` took 5x as long, which counts at small N."""
    return np.where(_lower_mask(lower.shape[-1]), lower, np.swapaxes(lower, -1, -2))


@functools.lru_cache(maxsize=64)
def _lower_mask(d: int) -> np.ndarray:
    mask = np.tri(d, dtype=bool)
    mask.flags.writeable = False
    return mask


def m_step(stats: SufficientStats, covariance_type: str, reg_covar: float, eps: float) -> GMMParams:
    """New parameters from statistics, as scikit-learn's M-step computes them.

    ``eps`` is the dtype's machine epsilon: like scikit-learn, ``10 * eps`` is
    added to each ``nk`` so that an empty component keeps finite parameters.
    The moments around the shifts are recentred on the new means exactly:
    ``sum r (x - mu)(x - mu)^T = S2 - (2 nk' - nk) delta delta^T`` with
    ``delta = S1 / nk'`` and ``nk' = nk + 10 eps``. Covariances come out
    exactly symmetric.
    """
    nk = stats.nk
    nke = nk + 10.0 * eps
    delta = stats.s1 / nke[:, None]
    means = stats.shift + delta
    corr = 2.0 * nke - nk
    d = means.shape[1]
    if covariance_type == "full":
        outer = delta[:, :, None] * delta[:, None, :]
        cov = (stats.s2 - corr[:, None, None] * outer) / nke[:, None, None]
        cov.reshape(-1, d * d)[:, :: d + 1] += reg_covar  # the diagonals, through a view
    elif covariance_type == "tied":
        a = np.sqrt(corr)[:, None] * delta
        cov = (stats.s2 - a.T @ a) / nke.sum()
        cov = 0.5 * (cov + cov.T)
        cov.reshape(d * d)[:: d + 1] += reg_covar
    else:
        cov = (stats.s2 - corr[:, None] * delta * delta) / nke[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nke / nke.sum()
    return GMMParams(weights, means, cov, covariance_type)


def data_moments(X: np.ndarray, sw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance of ``X`` in float64, by two centred passes.

    Uses the kernel (a one-component 'tied' pass), so it neither copies X nor
    loses precision on data far from the origin.
    """
    d = X.shape[1]
    f = factorize(GMMParams(np.ones(1), np.zeros((1, d)), np.eye(d), "tied"))
    st = run_pass(X, sw, f, center=X[0].astype(np.float64))
    mean = st.center + st.s1[0] / st.nk[0]
    st = run_pass(X, sw, f, center=mean)
    delta = st.s1[0] / st.nk[0]
    cov = st.s2 / st.nk[0] - np.outer(delta, delta)
    return st.center + delta, 0.5 * (cov + cov.T)
