"""Missing values: exact EM on the observed-data likelihood (Ghahramani &
Jordan 1994), as a :class:`fastgmm.sources.DataSource`.

Rows are grouped by their pattern of missing entries. For a pattern with
observed coordinates ``o`` and missing ``m``, the E-step is the engine's own
fused pass on the observed columns under the marginal mixture
``N(x_o; mu_ko, Sigma_koo)``; every per-row sum runs in the kernels. The M-step
needs the completed rows ``x^ = (x_o, E[x_m | x_o, k])`` and the conditional
covariance ``Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om``. Because
``x^ - mu_k = A_k (x_o - mu_ko)`` with ``A_k`` the d x |o| matrix whose rows
are the identity on ``o`` and ``B_k = Sigma_mo Sigma_oo^-1`` on ``m``, the
full-dimensional statistics of the pattern are ``A_k S1`` and
``A_k S2 A_k^T`` of the pass's observed-coordinate statistics, plus ``N_k``
times the conditional covariance: O(C d^3) per pattern and iteration, nothing
per row. 'diag' and 'spherical' drop the missing coordinates (their
conditional mean is the mean, their conditional variance the variance).

Patterns are found once (a byte mask per row, ``np.unique``), and each
pattern's observed columns are copied once into a contiguous array (at most
one copy of X). The cost per iteration is one pass over the observed entries
plus a Python-level step per pattern (about a third of a millisecond): with
many distinct patterns (hundreds) that step dominates small data.

Limits: a row with no observed value is rejected (it has no likelihood). A row
with a single observed value counts through that coordinate's 1-D marginal and
is imputed by the regression on it; it says nothing about covariances. A pair of
features never observed together in any row gets its covariance only through the
others (the likelihood is flat in it for 'full'): EM then keeps what the
initialisation and the other coordinates imply.
"""

from __future__ import annotations

import numpy as np

from .params import Factors, GMMParams, factorize
from .sources import ArrayData
from .stats import SufficientStats, em_stats, recentre, score

__all__ = ["MissingData", "has_missing", "check_rows_observed", "impute", "marginal", "score_missing"]


def has_missing(X: np.ndarray) -> bool:
    return bool(np.isnan(np.sum(X, dtype=np.float64))) and bool(np.isnan(X).any())


def check_rows_observed(mask: np.ndarray) -> None:
    """``ValueError`` naming the first row with no observed value."""
    empty = np.flatnonzero(mask.all(axis=1))
    if empty.size:
        raise ValueError(
            f"X has {empty.size} row(s) with no observed value (all NaN), the first at index "
            f"{int(empty[0])}: such a row has no likelihood under any model; drop it"
        )


class _Pattern:
    """The rows of one missingness pattern: ``rows`` (indices into X), ``o`` and
    ``m`` (observed and missing columns), ``X`` (the observed columns,
    contiguous) and the rows' weights."""

    def __init__(self, X, sw, rows, missing):
        self.rows = rows
        self.o = np.flatnonzero(~missing)
        self.m = np.flatnonzero(missing)
        self.X = np.ascontiguousarray(X[np.ix_(rows, self.o)])
        self.sw = None if sw is None else np.ascontiguousarray(sw[rows])


def _patterns(X: np.ndarray, sw, mask: np.ndarray) -> list[_Pattern]:
    keys, inverse = np.unique(np.packbits(mask, axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(keys.shape[0] + 1))
    out = []
    for p in range(keys.shape[0]):
        rows = order[bounds[p] : bounds[p + 1]]
        out.append(_Pattern(X, sw, rows, mask[rows[0]]))
    return out


def marginal(params: GMMParams, o: np.ndarray) -> GMMParams:
    """The mixture of the coordinates ``o``."""
    ct, cov = params.covariance_type, params.covariances
    if ct == "full":
        cov = cov[:, o][:, :, o]
    elif ct == "tied":
        cov = cov[np.ix_(o, o)]
    elif ct == "diag":
        cov = cov[:, o]
    return GMMParams(params.weights, params.means[:, o], cov, ct)


def _regression(params: GMMParams, o, m):
    """``(B, conditional covariance)`` of the missing ``m`` on the observed ``o``:
    per component for 'full' ((C, |m|, |o|), (C, |m|, |m|)), shared for 'tied'."""
    cov = params.covariances
    if params.covariance_type == "tied":
        cov = cov[None]
    Soo = cov[:, o][:, :, o]
    Smo = cov[:, m][:, :, o]
    B = np.linalg.solve(Soo, np.swapaxes(Smo, 1, 2)).swapaxes(1, 2)  # Smo Soo^-1 (Soo symmetric)
    cond = cov[:, m][:, :, m] - B @ np.swapaxes(Smo, 1, 2)
    cond = 0.5 * (cond + np.swapaxes(cond, 1, 2))
    return B, cond


def complete_stats(st: SufficientStats, params: GMMParams, pat: _Pattern, center: np.ndarray) -> SufficientStats:
    """The full-dimensional statistics of a pattern's rows from the pass's
    statistics ``st`` over its observed columns: around the means (and, for
    'tied', around ``center``), conditional covariances included."""
    ct, (C, d) = params.covariance_type, params.means.shape
    o, m = pat.o, pat.m
    mu = params.means
    nk = st.nk
    if ct == "tied":
        st = recentre(st, np.repeat(center[o][None], C, axis=0), center[o])
        B, cond = _regression(params, o, m)
        A = np.zeros((d, o.size))
        A[o, np.arange(o.size)] = 1.0
        A[m] = B[0]
        v = (mu - center) - (mu[:, o] - center[o]) @ A.T  # x^ - c = v_k + A (x_o - c_o)
        AS1 = st.s1 @ A.T
        s1 = nk[:, None] * v + AS1
        s2 = A @ st.s2 @ A.T + v.T @ AS1 + AS1.T @ v + (nk[:, None] * v).T @ v
        s2[np.ix_(m, m)] += nk.sum() * cond[0]
        return SufficientStats(nk, s1, s2, np.repeat(center[None], C, axis=0), center, st.ll, 0.0,
                               st.worst_ll, st.worst_index)
    st = recentre(st, mu[:, o], center[o])
    s1 = np.zeros((C, d))
    s1[:, o] = st.s1
    if ct == "full":
        B, cond = _regression(params, o, m)
        A = np.zeros((C, d, o.size))
        A[:, o, np.arange(o.size)] = 1.0
        A[:, m] = B
        s1 = np.einsum("kij,kj->ki", A, st.s1)
        s2 = A @ st.s2 @ np.swapaxes(A, 1, 2)
        s2[:, m[:, None], m[None, :]] += nk[:, None, None] * cond
    else:
        var = params.covariances if ct == "diag" else np.repeat(params.covariances[:, None], d, axis=1)
        s2 = np.zeros((C, d))
        s2[:, o] = st.s2
        s2[:, m] = nk[:, None] * var[:, m]
    return SufficientStats(nk, s1, s2, mu.copy(), center, st.ll, 0.0, st.worst_ll, st.worst_index)


class MissingData:
    """An in-memory X with NaN entries, seen through its missingness patterns
    (a :class:`fastgmm.sources.DataSource`; rows with no observed value are
    rejected on construction)."""

    def __init__(self, X: np.ndarray, sw: np.ndarray | None = None):
        mask = np.isnan(X)
        check_rows_observed(mask)
        self.X, self.sw = X, sw
        self.n, self.n_features = X.shape
        self.dtype = X.dtype
        self.total_weight = float(self.n if sw is None else sw.sum())
        self.eps = float(np.finfo(X.dtype).eps)
        self.patterns = _patterns(X, sw, mask)
        self._filled = None
        self._moments = None

    def check(self) -> None:
        """Nothing to do: the array was validated when the source was made."""

    def stats(self, factors: Factors, entropy: bool = False) -> SufficientStats:
        """One exact EM pass: per pattern the engine's pass on the observed
        columns under the marginal mixture, mapped to full-dimensional
        statistics; summed over the patterns (in pattern order)."""
        if entropy:
            raise NotImplementedError("the variational mixture does not take missing values")
        params = factors.params
        center = factors.default_center()
        total = None
        for pat in self.patterns:
            st = em_stats(pat.X, pat.sw, factorize(marginal(params, pat.o)))
            if st.worst_index >= 0:
                st.worst_index = int(pat.rows[st.worst_index])
            full = complete_stats(st, params, pat, center)
            total = full if total is None else total.merge(full)
        return total

    def _column_means(self) -> np.ndarray:
        w = np.ones(self.n) if self.sw is None else self.sw
        obs = ~np.isnan(self.X)
        return np.array([np.average(self.X[obs[:, j], j], weights=w[obs[:, j]]) if w[obs[:, j]].sum() > 0
                         else 0.0 for j in range(self.n_features)])

    def filled(self) -> np.ndarray:
        """X with each NaN replaced by its column's observed (weighted) mean: the
        rows the initialisers and re-seeds use."""
        if self._filled is None:
            F = np.array(self.X)
            idx = np.nonzero(np.isnan(F))
            F[idx] = self._column_means().astype(F.dtype)[idx[1]]
            self._filled = F
        return self._filled

    def row(self, i: int) -> np.ndarray:
        return self.filled()[int(i)]

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the mean-filled rows (the observed means; a
        covariance shrunk towards the observed ones: only re-seeds use it)."""
        if self._moments is None:
            self._moments = ArrayData(self.filled(), self.sw).moments
        return self._moments

    def init_data(self, rng: np.random.RandomState, n_components: int = 1) -> ArrayData:
        """The mean-filled rows: the initialisers run on them."""
        return ArrayData(self.filled(), self.sw)


def score_missing(
    X: np.ndarray, params: GMMParams, *, sw=None, resp=None, loglik=None, labels=None, entropy: bool = False
) -> tuple[float, float]:
    """:func:`fastgmm.stats.score` for X with NaN entries: per pattern the
    marginal mixture of the observed columns, written back to the rows;
    returns the weighted sums (log-likelihood, entropy of the responsibilities;
    0 unless ``entropy``)."""
    mask = np.isnan(X)
    check_rows_observed(mask)
    total = ent = 0.0
    for pat in _patterns(X, sw, mask):
        n = pat.rows.size
        r = None if resp is None else np.empty((n, resp.shape[1]), resp.dtype)
        ll = np.empty(n)
        lab = None if labels is None else np.empty(n, np.int64)
        a, b = score(pat.X, factorize(marginal(params, pat.o)), sw=pat.sw, resp=r, loglik=ll, labels=lab,
                     entropy=entropy)
        total, ent = total + a, ent + b
        for out, part in ((resp, r), (loglik, ll), (labels, lab)):
            if out is not None:
                out[pat.rows] = part
    return total, ent


def impute(X: np.ndarray, params: GMMParams) -> np.ndarray:
    """X with each NaN replaced by ``sum_k r_k(x_o) E[x_m | x_o, k]`` under
    ``params`` (float64 parameters, full covariances as fitted)."""
    mask = np.isnan(X)
    check_rows_observed(mask)
    out = np.array(X, dtype=np.float64)
    ct = params.covariance_type
    C = params.n_components
    for pat in _patterns(X, None, mask):
        if pat.m.size == 0:
            continue
        mp = marginal(params, pat.o)
        r = np.empty((pat.rows.size, C), X.dtype)
        score(pat.X, factorize(mp), resp=r)
        Xo = pat.X.astype(np.float64)
        est = np.zeros((pat.rows.size, pat.m.size))
        if ct in ("full", "tied"):
            B, _ = _regression(params, pat.o, pat.m)
            for k in range(C):
                Bk = B[k] if ct == "full" else B[0]
                est += r[:, k : k + 1] * (params.means[k, pat.m] + (Xo - params.means[k, pat.o]) @ Bk.T)
        else:
            est = r.astype(np.float64) @ params.means[:, pat.m]
        out[np.ix_(pat.rows, pat.m)] = est
    return out.astype(X.dtype, copy=False)
