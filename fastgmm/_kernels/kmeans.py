"""k-means kernels for the initialiser: serial, nogil, one chunk of rows each.

They have the drivers' signature ``(X, sw, model, io, c, lo, hi, block, acc)``
(:func:`fastgmm._parallel.run_chunks`); chunk ``c`` writes only its own row of
``acc``. ``sw`` holds the sample weights, or 0 rows for unit weights.
"""

import numpy as np
from numba import njit

from .._config import INNER, JIT


@njit(**INNER)
def _sqdist(X, n, c):
    d = X.shape[1]
    s = 0.0
    for i in range(d):
        t = X[n, i] - c[i]
        s += t * t
    return s


@njit(**JIT)
def kpp_update_chunk(X, sw, center, mind, c, lo, hi, block, acc):
    """``mind = min(mind, ||x - center||^2)`` on rows [lo, hi)."""
    for n in range(lo, hi):
        dist = _sqdist(X, n, center)
        if dist < mind[n]:
            mind[n] = dist


@njit(**JIT)
def kpp_trials_chunk(X, sw, cands, mind, c, lo, hi, block, acc):
    """``acc.sums[c, t] = sum w min(mind, ||x - cands[t]||^2)`` over rows [lo, hi)."""
    have_w = sw.shape[0] > 0
    T = cands.shape[0]
    pots = acc.sums[c]
    for n in range(lo, hi):
        w = sw[n] if have_w else 1.0
        m = mind[n]
        for t in range(T):
            dist = _sqdist(X, n, cands[t])
            pots[t] += w * (dist if dist < m else m)


@njit(**JIT)
def lloyd_chunk(X, sw, centers, labels, c, lo, hi, block, acc):
    """Assign rows [lo, hi) to their nearest centre; ``acc.nk[c]`` the weighted
    counts, ``acc.s1[c]`` the weighted sums around the old centres, and
    ``acc.sums[c] = (inertia, changed labels, farthest distance, its row)``."""
    d = X.shape[1]
    C = centers.shape[0]
    have_w = sw.shape[0] > 0
    counts = acc.nk[c]
    sums = acc.s1[c]
    inertia = 0.0
    changed = 0
    far = -1.0
    fari = lo
    for n in range(lo, hi):
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
    acc.sums[c, 0] = inertia
    acc.sums[c, 1] = changed
    acc.sums[c, 2] = far
    acc.sums[c, 3] = fari
