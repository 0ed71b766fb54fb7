"""Initialisers: a Numba k-means (greedy k-means++ seeding and Lloyd iterations)
and the scikit-learn initialisation schemes built on it."""

from __future__ import annotations

import numpy as np

from . import _config
from ._kernels.kmeans import kpp_trials_chunk, kpp_update_chunk, lloyd_chunk
from ._kernels.models import Accumulators
from ._parallel import run_chunks, run_waves

_EMPTY_F = np.zeros(0)


def _chunks(n: int) -> list[tuple[int, int]]:
    rows = _config.chunk_rows(n)
    return [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]


def _bounds(chunks) -> np.ndarray:
    return np.array([lo for lo, _ in chunks] + [chunks[-1][1]], np.int64)


def _acc(m: int, C: int, d: int, k: int) -> Accumulators:
    return Accumulators(np.zeros((m, C)), np.zeros((m, C, d)), np.zeros((m, 0, 0, 0)), np.zeros((m, k)))


class _LloydTotals:
    """A Lloyd pass's chunk sums in chunk order: weighted counts, sums around
    the old centres, changed labels, and the farthest point."""

    def __init__(self, C: int, d: int):
        self.sums, self.counts = np.zeros((C, d)), np.zeros(C)
        self.changed, self.far, self.fari = 0, -1.0, 0

    def add(self, acc: Accumulators, m: int) -> None:
        for c in range(m):
            self.sums += acc.s1[c]
            self.counts += acc.nk[c]
            self.changed += int(acc.sums[c, 1])
            if acc.sums[c, 2] > self.far:
                self.far, self.fari = float(acc.sums[c, 2]), int(acc.sums[c, 3])


def _sw(sw):
    return _EMPTY_F if sw is None else sw


def _update(X, center, mind, bounds, acc) -> None:
    run_chunks(kpp_update_chunk, X, _EMPTY_F, np.ascontiguousarray(center), mind, bounds, 0, acc)


def kmeans_plusplus(
    X: np.ndarray, n_clusters: int, rng: np.random.RandomState, sw: np.ndarray | None = None
) -> np.ndarray:
    """Greedy (weighted) k-means++ seeding; returns the indices of the seeds.

    Like scikit-learn's, each step samples ``2 + log(k)`` candidates with
    probability proportional to ``w * D(x)^2`` and keeps the one that lowers the
    potential most.
    """
    n = X.shape[0]
    chunks = _chunks(n)
    wv = _sw(sw)
    # every draw is a uniform number mapped through the cumulative weights, so
    # integer weights draw the same points as repeated rows would
    first = _draw(sw, chunks, rng, 1)[0]  # p = None: uniform (no N ones)
    idx = [first]
    # float32 distances: one 4-byte value per row is the initialiser's memory
    mind = np.full(n, np.inf, np.float32)
    bounds = _bounds(chunks)
    idle = _acc(len(chunks), 0, 0, 0)
    _update(X, X[first], mind, bounds, idle)
    n_trials = 2 + int(np.log(n_clusters))
    for _ in range(1, n_clusters):
        cand = _draw(mind, chunks, rng, n_trials, sw)
        if not cand:  # every point already a centre: pick any unused row
            rest = np.setdiff1d(np.arange(n), idx)
            cand = [int(rng.choice(rest))] if rest.size else [int(rng.randint(n))]
        cands = np.ascontiguousarray(X[cand])
        acc = _acc(len(chunks), 0, 0, len(cand))
        run_chunks(kpp_trials_chunk, X, wv, cands, mind, bounds, 0, acc)
        pots = np.zeros(len(cand))
        for part in acc.sums:  # chunk order
            pots += part
        best = int(np.argmin(pots))
        idx.append(int(cand[best]))
        _update(X, cands[best], mind, bounds, idle)
    return np.asarray(idx, dtype=np.int64)


def _draw(p: np.ndarray | None, chunks, rng, size: int, sw: np.ndarray | None = None) -> list[int]:
    """``size`` rows drawn with probability proportional to ``p * sw`` (``p``
    None: 1): each uniform number goes through the cumulative sums, taken
    chunk by chunk so that no second array of N values is held. Empty (and no
    number drawn) when the total is 0."""

    def part(lo, hi):
        q = np.ones(hi - lo) if p is None else p[lo:hi].astype(np.float64)
        return q if sw is None else q * sw[lo:hi]

    sums = np.array([part(lo, hi).sum() for lo, hi in chunks])
    ends = np.cumsum(sums)
    if not ends[-1] > 0:
        return []
    out = []
    for v in rng.uniform(size=size) * ends[-1]:
        j = min(int(np.searchsorted(ends, v, side="right")), len(chunks) - 1)
        lo, hi = chunks[j]
        cum = np.cumsum(part(lo, hi)) + (ends[j - 1] if j else 0.0)
        out.append(min(lo + int(np.searchsorted(cum, v, side="right")), hi - 1))
    return out


def kmeans(
    X: np.ndarray,
    n_clusters: int,
    rng: np.random.RandomState,
    sw: np.ndarray | None = None,
    max_iter: int = 20,
    tol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Lloyd k-means from k-means++ seeds: ``(centres, labels)``, the
    labels int32.

    Stops when no label changes, when the centres move less than ``tol`` times
    the data's mean variance (scikit-learn's rule), or after ``max_iter``
    iterations. An empty cluster is moved to the point farthest from its centre.
    """
    n, d = X.shape
    chunks = _chunks(n)
    wv = _sw(sw)
    centers = np.ascontiguousarray(X[kmeans_plusplus(X, n_clusters, rng, sw)], dtype=np.float64)
    var = np.var(X[: min(n, 100_000)], axis=0, dtype=np.float64).mean()
    labels = np.full(n, -1, np.int32)
    bounds = _bounds(chunks)
    m = min(len(chunks), _config.wave_chunks(8 * (n_clusters * (d + 1) + 4)))
    for _ in range(max_iter):
        cx = np.ascontiguousarray(centers, dtype=X.dtype)
        tot = _LloydTotals(n_clusters, d)
        run_waves(lloyd_chunk, X, wv, cx, labels, bounds, 0, _acc(m, n_clusters, d, 4), tot.add)
        new = cx.astype(np.float64) + tot.sums / np.maximum(tot.counts, np.finfo(float).tiny)[:, None]
        empty = np.flatnonzero(tot.counts <= 0)
        for k in empty:
            new[k] = X[tot.fari]
        shift = ((new - centers) ** 2).sum()
        centers = new
        if tot.changed == 0 or (empty.size == 0 and shift <= tol * var):
            break
    # labels of the final centres
    cx = np.ascontiguousarray(centers, dtype=X.dtype)
    run_waves(lloyd_chunk, X, wv, cx, labels, bounds, 0, _acc(m, n_clusters, d, 4), _LloydTotals(n_clusters, d).add)
    return centers, labels
