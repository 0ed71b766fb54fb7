"""k-means kernels for the initialiser: serial, nogil, run per fixed chunk."""

import numpy as np
from numba import njit

from .._config import JIT


@njit(**JIT)
def _sqdist(X, n, c):
    d = X.shape[1]
    s = 0.0
    for i in range(d):
        t = X[n, i] - c[i]
        s += t * t
    return s


@njit(**JIT)
def _kpp_update(X, start, stop, center, mind):
    """``mind = min(mind, ||x - center||^2)`` on rows [start, stop)."""
    for n in range(start, stop):
        dist = _sqdist(X, n, center)
        if dist < mind[n]:
            mind[n] = dist


@njit(**JIT)
def _kpp_trials(X, start, stop, sw, cands, mind, pots):
    """``pots[t] += sum w min(mind, ||x - cands[t]||^2)`` over rows [start, stop)."""
    have_w = sw.shape[0] > 0
    T = cands.shape[0]
    for n in range(start, stop):
        w = sw[n] if have_w else 1.0
        m = mind[n]
        for t in range(T):
            dist = _sqdist(X, n, cands[t])
            pots[t] += w * (dist if dist < m else m)


@njit(**JIT)
def _lloyd_chunk(X, start, stop, sw, centers, labels, sums, counts):
    """Assign rows [start, stop) to their nearest centre and accumulate weighted
    sums (around the old centre) and counts. Returns ``(inertia, changed,
    farthest_dist, farthest_index)``."""
    d = X.shape[1]
    C = centers.shape[0]
    have_w = sw.shape[0] > 0
    inertia = 0.0
    changed = 0
    far = -1.0
    fari = start
    for n in range(start, stop):
        best = np.inf
        bk = 0
        for k in range(C):
            dist = _sqdist(X, n, centers[k])
            if dist < best:
                best = dist
                bk = k
        w = sw[n] if have_w else 1.0
        if labels[n] != bk:
            changed += 1
            labels[n] = bk
        inertia += w * best
        if best > far:
            far = best
            fari = n
        counts[bk] += w
        for i in range(d):
            sums[bk, i] += w * (X[n, i] - centers[bk, i])
    return inertia, changed, far, fari


# Drivers with the engine's signature ``(X, sw, model, io, c, lo, hi, block, acc)``
# (:func:`fastgmm._parallel.run_chunks`): chunk c writes only its own row of ``acc``.

@njit(**JIT)
def kpp_update_chunk(X, sw, center, mind, c, lo, hi, block, acc):
    """``mind = min(mind, ||x - center||^2)`` on the chunk's rows."""
    _kpp_update(X, lo, hi, center, mind)


@njit(**JIT)
def kpp_trials_chunk(X, sw, cands, mind, c, lo, hi, block, acc):
    """``acc.sums[c, t] = sum w min(mind, ||x - cands[t]||^2)`` over the chunk."""
    _kpp_trials(X, lo, hi, sw, cands, mind, acc.sums[c])


@njit(**JIT)
def lloyd_chunk(X, sw, centers, labels, c, lo, hi, block, acc):
    """Lloyd step on the chunk: labels, ``acc.nk[c]`` counts, ``acc.s1[c]`` sums
    around the old centres, ``acc.sums[c] = (inertia, changed, farthest, its index)``."""
    inertia, changed, far, fari = _lloyd_chunk(X, lo, hi, sw, centers, labels, acc.s1[c], acc.nk[c])
    acc.sums[c, 0] = inertia
    acc.sums[c, 1] = changed
    acc.sums[c, 2] = far
    acc.sums[c, 3] = fari
