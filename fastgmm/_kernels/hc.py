"""Agglomerative hierarchical clustering by Ward's criterion (the merge that
least increases the within-cluster sum of squares): the classification
likelihood of spherical, equal-volume clusters ('EII' in mclust's terms), on
data that the caller has whitened.
"""

import numpy as np
from numba import njit

from .._config import INNER, JIT


@njit(**INNER)
def _ward_cost(cent, size, a, b):
    """Increase of the within-cluster sum of squares when clusters a and b merge."""
    s = 0.0
    for i in range(cent.shape[1]):
        t = cent[a, i] - cent[b, i]
        s += t * t
    return size[a] * size[b] / (size[a] + size[b]) * s


@njit(**INNER)
def _nearest(cent, size, active, n_ids, a):
    """The active cluster nearest to ``a`` by Ward's cost (the lowest id on ties)."""
    best = np.inf
    bj = -1
    for j in range(n_ids):
        if active[j] and j != a:
            c = _ward_cost(cent, size, a, j)
            if c < best:
                best = c
                bj = j
    return bj, best


@njit(**JIT)
def _ward_tree(Z, w):
    """Ward's agglomeration of the rows of ``Z`` (m, d) with weights ``w``, by
    the nearest-neighbour chain (O(m^2 d) time, O(m d) memory).

    Returns ``(merges, cost)``: merge ``t`` joins clusters ``merges[t, 0]`` and
    ``merges[t, 1]`` (ids < m are rows; merge t creates id m + t) at
    ``cost[t]``. Ward's cost is reducible, so the chain finds the same merges
    as the greedy algorithm, though not in the order of their costs.
    """
    m, d = Z.shape
    cent = np.empty((2 * m, d))
    cent[:m] = Z
    size = np.zeros(2 * m)
    size[:m] = w
    active = np.zeros(2 * m, np.bool_)
    active[:m] = True
    chain = np.empty(m, np.int64)
    merges = np.empty((max(m - 1, 0), 2), np.int64)
    cost = np.empty(max(m - 1, 0))
    top = 0
    n_ids = m
    for t in range(m - 1):
        if top == 0:
            for i in range(n_ids):
                if active[i]:
                    chain[0] = i
                    top = 1
                    break
        while True:
            a = chain[top - 1]
            b, c = _nearest(cent, size, active, n_ids, a)
            if top >= 2:
                prev = chain[top - 2]
                cp = _ward_cost(cent, size, a, prev)
                if cp <= c:  # reciprocal nearest neighbours (ties: the chain's own)
                    b, c = prev, cp
            if top >= 2 and b == chain[top - 2]:
                break
            chain[top] = b
            top += 1
        top -= 2
        a = chain[top + 1]
        b = chain[top]
        tot = size[a] + size[b]
        for i in range(d):
            cent[n_ids, i] = (size[a] * cent[a, i] + size[b] * cent[b, i]) / tot
        size[n_ids] = tot
        active[a] = False
        active[b] = False
        active[n_ids] = True
        merges[t, 0] = min(a, b)
        merges[t, 1] = max(a, b)
        cost[t] = c
        n_ids += 1
    return merges, cost
