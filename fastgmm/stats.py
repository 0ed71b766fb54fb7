"""The passes over the data, named by use, their sufficient statistics, and the M-step.

Each pass runs one serial stage driver (:mod:`fastgmm._kernels.drivers`) over
fixed row chunks (:func:`fastgmm._config.chunk_rows`, from the shape only) and
sums the chunks in chunk order, so results do not depend on the thread count:

* :func:`em_stats`: the fit pass (E-step, log-likelihood, statistics);
* :func:`assign_stats`: statistics from given labels or responsibilities;
* :func:`score`: log-likelihoods, labels, responsibilities, entropy;
* :func:`expected_complete_loglik`: the classic bound's first term;
* :func:`data_moments`: the weighted mean and covariance.

``parallel=False`` runs the chunks one after another on the calling thread
(what a dask task does on its block).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from . import _config
from ._kernels import drivers
from ._kernels.models import ECL, ENTROPY, LL, WORST, WORST_INDEX, Accumulators, DiagModel, ScoreOut
from ._parallel import run_waves
from .params import Factors, GMMParams, factorize


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
    worst_row: np.ndarray | None = None

    def merge(self, other: "SufficientStats", offset: int = 0) -> "SufficientStats":
        """Statistics of the union of two disjoint row sets.

        ``offset`` is added to ``other``'s ``worst_index``; the least likely
        point (and its row, when the sources kept it) is the earlier on ties.
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
            other.worst_row if worse else self.worst_row,
        )


_NO_WEIGHTS = np.zeros(0)


def _bounds(n: int, d: int, start: int, itemsize: int) -> np.ndarray:
    rows = _config.chunk_rows(n - start, d, itemsize)
    return np.append(np.arange(start, n, rows, dtype=np.int64), np.int64(n)) if n > start else np.array([start], np.int64)


def _weights(sw: np.ndarray | None) -> np.ndarray:
    return _NO_WEIGHTS if sw is None else _writable(sw)


def _run(driver, X, sw, model, io, s2_shape, start, stop, parallel, entropy=False):
    """Run ``driver`` (with the entropy stage when ``entropy``) over the chunks
    of rows ``[start, stop)``; returns the summed ``(nk, s1, s2, sums)``."""
    C = model.const.shape[0]
    d = X.shape[1]
    n = X.shape[0] if stop is None else stop
    bounds = _bounds(n, d, start, X.dtype.itemsize)
    totals = _Totals(C, d, s2_shape)
    size = C + C * d + int(np.prod(s2_shape)) + 5
    m = min(bounds.shape[0] - 1, _config.wave_chunks(8 * size))
    acc = Accumulators(np.zeros((m, C)), np.zeros((m, C, d)), np.zeros((m,) + s2_shape), np.zeros((m, 5)))
    block = _config.block_rows(d, X.dtype.itemsize)
    fn = drivers.for_model(driver, model, entropy)
    run_waves(fn, X, _weights(sw), model, io, bounds, block, acc, totals.add, parallel)
    return totals.nk, totals.s1, totals.s2, totals.sums


class _Totals:
    """The chunks' accumulators summed in chunk order (the fixed order that
    makes results independent of the thread count), wave by wave."""

    def __init__(self, C: int, d: int, s2_shape: tuple):
        self.nk, self.s1, self.s2 = np.zeros(C), np.zeros((C, d)), np.zeros(s2_shape)
        self.sums = np.zeros(5)
        self.sums[WORST], self.sums[WORST_INDEX] = np.inf, -1

    def add(self, acc: Accumulators, m: int) -> None:
        sums = self.sums
        for c in range(m):
            self.nk += acc.nk[c]
            self.s1 += acc.s1[c]
            self.s2 += acc.s2[c]
            for j in (LL, ENTROPY, ECL):
                sums[j] += acc.sums[c, j]
            if acc.sums[c, WORST] < sums[WORST]:
                sums[WORST], sums[WORST_INDEX] = acc.sums[c, WORST], acc.sums[c, WORST_INDEX]


def _s2_shape(covariance_type: str, C: int, d: int) -> tuple:
    return {"full": (C, -(-d // 4) * 4, d), "tied": (1, -(-d // 4) * 4, d)}.get(covariance_type, (C, 1, d))


def _stats(ct, nk, s1, s2, sums, shift, center) -> SufficientStats:
    d = s1.shape[1]
    if ct == "full":
        s2 = _symmetric(s2[:, :d, :])
    elif ct == "tied":
        s2 = _symmetric(s2[0, :d, :])
    else:
        s2 = s2[:, 0, :]
    return SufficientStats(
        nk, s1, s2, shift, center, float(sums[LL]), float(sums[ECL]), float(sums[WORST]),
        int(sums[WORST_INDEX]), float(sums[ENTROPY]),
    )


def em_stats(
    X: np.ndarray, sw: np.ndarray | None, factors: Factors, *, start: int = 0, stop: int | None = None,
    parallel: bool = True, entropy: bool = False,
) -> SufficientStats:
    """The fit pass over rows ``[start, stop)`` of validated, C-contiguous ``X``:
    the E-step at ``factors``, the weighted log-likelihood sum, the least likely
    point and the M-step's statistics; with ``entropy``, also the weighted sum
    of the responsibilities' entropy (the variational bound's term).

    The statistics are taken around the current means ('full'), around ``b/a``
    of :meth:`Factors.model` (the means to within one rounding in X's dtype;
    'diag', 'spherical') or around the weighted mean of the means ('tied'); the
    result's ``shift`` says which.
    """
    p = factors.params
    ct = p.covariance_type
    C, d = p.means.shape
    model = factors.model(X.dtype)
    nk, s1, s2, sums = _run(
        drivers.em_chunk, X, sw, model, _NO_WEIGHTS, _s2_shape(ct, C, d), start, stop, parallel, entropy
    )
    if ct == "full":
        shift, center = model.means.astype(np.float64), factors.default_center()
    elif ct == "tied":
        center = model.center.astype(np.float64)
        shift = np.repeat(center[None], C, axis=0)
    else:
        shift = model.b.astype(np.float64) / model.a.astype(np.float64)
        center = factors.default_center()
    return _stats(ct, nk, s1, s2, sums, shift, center)


def assign_model(covariance_type: str, n_components: int, center: np.ndarray, dtype):
    """The kernels' model that :func:`assign_stats` accumulates with: every
    component's statistics around ``center`` (rounded to ``dtype``); 'spherical'
    accumulates per feature, as 'diag' (its M-step averages them)."""
    C, d = n_components, center.shape[0]
    cx = np.array(center, dtype=dtype)
    rep = np.repeat(cx[None], C, axis=0)
    if covariance_type in ("diag", "spherical"):
        return DiagModel(np.ones((C, d), dtype), rep, np.zeros(C))
    f = factorize(_identity_params(C, d, covariance_type))
    model = f.model(dtype, center)
    if covariance_type == "full":
        return model._replace(means=rep)
    return model


def _identity_params(C: int, d: int, covariance_type: str) -> GMMParams:
    cov = {
        "full": np.repeat(np.eye(d)[None], C, axis=0),
        "tied": np.eye(d),
        "diag": np.ones((C, d)),
        "spherical": np.ones(C),
    }[covariance_type]
    return GMMParams(np.full(C, 1.0 / C), np.zeros((C, d)), cov, covariance_type)


def assign_stats(
    X: np.ndarray, sw: np.ndarray | None, covariance_type: str, n_components: int, center: np.ndarray,
    given, *, start: int = 0, stop: int | None = None, parallel: bool = True,
) -> SufficientStats:
    """The M-step's statistics of rows ``[start, stop)`` from given assignments,
    taken around ``center``: ``given`` is (N,) int32 labels (-1: no
    component), (N, C) responsibilities in X's dtype, or an ``int``: every row
    in that component."""
    if isinstance(given, np.ndarray):
        given = _writable(np.asarray(given, np.int32) if given.ndim == 1 else given)
    model = assign_model(covariance_type, n_components, center, X.dtype)
    C, d = n_components, X.shape[1]
    nk, s1, s2, sums = _run(
        drivers.assign_chunk, X, sw, model, given, _s2_shape(covariance_type, C, d), start, stop, parallel
    )
    c = np.array(center, dtype=X.dtype).astype(np.float64)
    return _stats(covariance_type, nk, s1, s2, sums, np.repeat(c[None], C, axis=0), c)


def score(
    X: np.ndarray, factors: Factors, *, sw: np.ndarray | None = None, resp: np.ndarray | None = None,
    loglik: np.ndarray | None = None, labels: np.ndarray | None = None, entropy: bool = False,
    start: int = 0, stop: int | None = None, parallel: bool = True,
) -> tuple[float, float]:
    """Score rows ``[start, stop)`` at ``factors``: writes what is given --
    ``resp`` (N, C) in X's dtype, ``loglik`` (N,) float64, ``labels`` (N,)
    int64 -- and returns the weighted sums ``(log-likelihood, entropy of the
    responsibilities)`` (the entropy only when ``entropy``, else 0)."""
    C = factors.params.n_components
    model = factors.model(X.dtype)
    if resp is None and not entropy and labels is None:  # the lighter drivers for the common uses
        io = _NO_WEIGHTS if loglik is None else loglik
        _, _, _, sums = _run(drivers.em_chunk, X, sw, model, io, (0, 1, 1), start, stop, parallel)
        return float(sums[LL]), 0.0
    if resp is None and not entropy and loglik is None and sw is None:
        _run(drivers.labels_chunk, X, sw, model, labels, (0, 1, 1), start, stop, parallel)
        return float("nan"), 0.0
    out = ScoreOut(
        np.zeros((0, C), X.dtype) if resp is None else resp,
        _NO_WEIGHTS if loglik is None else loglik,
        np.zeros(0, np.int64) if labels is None else labels,
        bool(entropy),
    )
    _, _, _, sums = _run(drivers.score_chunk, X, sw, model, out, (0, 1, 1), start, stop, parallel)
    return float(sums[LL]), float(sums[ENTROPY])


def expected_complete_loglik(X: np.ndarray, factors: Factors, resp: np.ndarray) -> float:
    """``sum_n sum_k r_nk log(w_k N(x_n | k))`` (terms with r = 0 left out) for
    given responsibilities ``resp`` (N, C) in X's dtype."""
    model = factors.model(X.dtype)
    _, _, _, sums = _run(drivers.bound_chunk, X, None, model, _writable(resp), (0, 1, 1), 0, None, True)
    return float(sums[ECL])


def _writable(a: np.ndarray) -> np.ndarray:
    """``a``, or a copy when it is read-only: Numba compiles read-only arrays as a
    type of their own, and every extra specialisation of a kernel costs compile
    time. (Read-only X itself is passed through: it is never copied.)"""
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
    """New parameters from statistics, as scikit-learn's M-step computes them
    (:func:`gaussian_parameters`, the weights ``nk' / sum nk'``)."""
    nke, means, cov = gaussian_parameters(stats, covariance_type, reg_covar, eps)
    return GMMParams(nke / nke.sum(), means, cov, covariance_type)


def gaussian_parameters(
    stats: SufficientStats, covariance_type: str, reg_covar: float, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(nk', means, covariances)`` from statistics, as scikit-learn's
    ``_estimate_gaussian_parameters`` computes them (``reg_covar`` included).

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
    return nke, means, cov


def one_component_stats(
    X: np.ndarray, sw: np.ndarray | None, center: np.ndarray, *, parallel: bool = True
) -> SufficientStats:
    """'full' statistics of all rows as one component, around ``center``: the
    data's moments. (Through the labels driver that the k-means initialisation
    compiles anyway: one more specialisation would cost seconds of compile time,
    the labels 4 bytes a row while the pass runs.)"""
    return assign_stats(X, sw, "full", 1, center, np.zeros(X.shape[0], np.int32), parallel=parallel)


def data_moments(X: np.ndarray, sw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance of ``X`` in float64, by two centred passes
    (around the first row, then around the mean): no copy of X, and no loss of
    precision on data far from the origin."""
    return moments_from_passes(lambda center: one_component_stats(X, sw, center), X[0].astype(np.float64))


def moments_from_passes(pass_fn, first_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance from two passes of :func:`one_component_stats`,
    ``pass_fn(center) -> SufficientStats``: every data source computes its
    moments this one way."""
    st = pass_fn(first_row)
    mean = st.center + st.s1[0] / st.nk[0]
    st = pass_fn(mean)
    delta = st.s1[0] / st.nk[0]
    cov = st.s2[0] / st.nk[0] - np.outer(delta, delta)
    return st.center + delta, 0.5 * (cov + cov.T)


def recentre(st: SufficientStats, shift: np.ndarray, center: np.ndarray) -> SufficientStats:
    """The same statistics taken around other points: ``shift`` (C, d) per
    component and ``center`` (d,) for the pooled 'tied' moment (the covariance
    type is read from ``s2``'s shape). Exact algebra: with ``D = old - new``,
    ``S1' = S1 + nk D`` and ``S2' = S2 + D S1^T + S1 D^T + nk D D^T``."""
    C, d = st.s1.shape
    D = st.shift - shift
    s1 = st.s1 + st.nk[:, None] * D
    if st.s2.ndim == 3:  # full
        a = D[:, :, None] * st.s1[:, None, :]
        s2 = st.s2 + a + np.swapaxes(a, 1, 2) + st.nk[:, None, None] * D[:, :, None] * D[:, None, :]
    elif st.s2.shape == (d, d):  # tied: one pooled moment, every shift the centre
        a = D.T @ st.s1
        s2 = st.s2 + a + a.T + (st.nk[:, None] * D).T @ D
    else:  # diag; for spherical only each row's sum counts, and it moves the same way
        s2 = st.s2 + 2.0 * D * st.s1 + st.nk[:, None] * D * D
    return replace(st, s1=s1, s2=s2, shift=np.array(shift, np.float64), center=np.array(center, np.float64))


def expected_stats(params: GMMParams, reg_covar: float) -> SufficientStats:
    """Statistics of unit total weight that :func:`m_step` maps back to
    ``params`` (up to its ``10 eps``): ``nk = w``, first moments around the
    means, second moments ``w (Sigma - reg_covar)`` (the M-step adds
    ``reg_covar`` again)."""
    ct = params.covariance_type
    w, mu, cov = params.weights / params.weights.sum(), params.means, params.covariances
    C, d = mu.shape
    zeros = np.zeros((C, d))
    if ct == "full":
        s2 = w[:, None, None] * (cov - reg_covar * np.eye(d))
        return SufficientStats(w.copy(), zeros, s2, mu.copy(), w @ mu, 0.0)
    if ct == "tied":
        c = w @ mu
        s1 = w[:, None] * (mu - c)
        s2 = cov - reg_covar * np.eye(d) + (w[:, None] * (mu - c)).T @ (mu - c)
        return SufficientStats(w.copy(), s1, s2, np.repeat(c[None], C, axis=0), c, 0.0)
    var = cov - reg_covar if ct == "diag" else np.repeat((cov - reg_covar)[:, None], d, axis=1)
    return SufficientStats(w.copy(), zeros, w[:, None] * var, mu.copy(), w @ mu, 0.0)
