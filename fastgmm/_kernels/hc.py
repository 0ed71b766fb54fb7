"""Agglomerative hierarchical clustering, on data that the caller has whitened:
by Ward's criterion (the merge that least increases the within-cluster sum of
squares: the classification likelihood of spherical, equal-volume clusters,
'EII' in mclust's terms; :func:`_ward_tree`), and by the unconstrained
Gaussian criterion (mclust's default 'VVV'; :func:`_vvv_tree`).
"""

from collections import namedtuple

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


#: the unconstrained ('VVV') agglomeration's clusters, one slot each: means
#: (m, p), scatter matrices (m, p, p) around them, weights, row counts, traces
#: of the scatters, and each cluster's criterion term
VVVClusters = namedtuple("VVVClusters", ["mean", "scat", "n", "cnt", "tr", "term"])


@njit(**INNER)
def _vvv_term(n, cnt, tr, logdet, p, alpha):
    """Fraley's (1998) regularised classification-likelihood term of one cluster,
    ``n log(|W/n| + (tr W + alpha)/n)``: finite for clusters of at most p rows
    (whose ``|W/n|`` is 0) and for singletons (``n log(alpha/n)``)."""
    c = (tr + alpha) / n
    if cnt <= p or logdet == -np.inf:
        return n * np.log(c)
    if logdet <= 0.0:
        return n * np.log(np.exp(logdet) + c)
    return n * (logdet + np.log1p(np.exp(-logdet) * c))


@njit(**INNER)
def _merged_term(cl, a, j, alpha, buf):
    """``(term, trace)`` of the union of clusters a and j: its scatter is
    ``W_a + W_j + n_a n_j / n (mu_a - mu_j)(mu_a - mu_j)^T``, factored in ``buf``
    only when the union has more rows than dimensions."""
    p = cl.mean.shape[1]
    na = cl.n[a]
    nj = cl.n[j]
    n = na + nj
    f = na * nj / n
    tr = cl.tr[a] + cl.tr[j]
    for i in range(p):
        t = cl.mean[a, i] - cl.mean[j, i]
        tr += f * t * t
    cnt = cl.cnt[a] + cl.cnt[j]
    if cnt <= p:
        return _vvv_term(n, cnt, tr, -np.inf, p, alpha), tr
    logdet = 0.0
    for i in range(p):  # Cholesky of W / n, lower triangle, row by row
        ti = cl.mean[a, i] - cl.mean[j, i]
        for k in range(i + 1):
            tk = cl.mean[a, k] - cl.mean[j, k]
            s = (cl.scat[a, i, k] + cl.scat[j, i, k] + f * ti * tk) / n
            for q in range(k):
                s -= buf[i, q] * buf[k, q]
            if k < i:
                buf[i, k] = s / buf[k, k]
            elif s > 0.0:
                buf[i, i] = np.sqrt(s)
                logdet += np.log(s)
            else:  # singular: the determinant term vanishes
                return _vvv_term(n, cnt, tr, -np.inf, p, alpha), tr
    return _vvv_term(n, cnt, tr, logdet, p, alpha), tr


@njit(**INNER)
def _rescan(cost, active, i, m):
    """The active cluster with the least merge cost with ``i`` (lowest slot on ties)."""
    best = np.inf
    bj = -1
    for j in range(m):
        if active[j] and j != i and cost[i, j] < best:
            best = cost[i, j]
            bj = j
    return bj, best


@njit(**INNER)
def _join(cl, a, b, term, tr):
    """Cluster b merged into slot a (its term and trace already computed)."""
    p = cl.mean.shape[1]
    na = cl.n[a]
    nb = cl.n[b]
    n = na + nb
    f = na * nb / n
    for i in range(p):
        ti = cl.mean[a, i] - cl.mean[b, i]
        for k in range(p):
            cl.scat[a, i, k] += cl.scat[b, i, k] + f * ti * (cl.mean[a, k] - cl.mean[b, k])
    for i in range(p):
        cl.mean[a, i] = (na * cl.mean[a, i] + nb * cl.mean[b, i]) / n
    cl.n[a] = n
    cl.cnt[a] += cl.cnt[b]
    cl.tr[a] = tr
    cl.term[a] = term


@njit(**JIT)
def _vvv_tree(Z, w):
    """Greedy agglomeration of the rows of ``Z`` (m, p) with weights ``w`` by
    the unconstrained Gaussian criterion (mclust's 'VVV', Fraley 1998): each
    step merges the pair whose union least increases ``sum_k term_k``
    (:func:`_vvv_term`, with ``alpha = tr(W) / (n p)`` of all rows as mclust).

    Returns ``(merges, cost)`` as :func:`_ward_tree`, merges in the order made.
    O(m^2) memory for the pair costs, O(m p^2) for the scatters.
    """
    m, p = Z.shape
    tot = w.sum()
    mu = (w @ Z) / tot
    trw = 0.0
    for r in range(m):
        for i in range(p):
            trw += w[r] * (Z[r, i] - mu[i]) ** 2
    alpha = max(trw / (tot * p), 2.220446049250313e-16)
    cl = VVVClusters(Z.copy(), np.zeros((m, p, p)), w.copy(), np.ones(m, np.int64), np.zeros(m), np.empty(m))
    for r in range(m):
        cl.term[r] = _vvv_term(w[r], 1, 0.0, -np.inf, p, alpha)
    buf = np.zeros((p, p))
    cost = np.full((m, m), np.inf)
    for a in range(m):
        for j in range(a):
            c = _merged_term(cl, a, j, alpha, buf)[0] - cl.term[a] - cl.term[j]
            cost[a, j] = c
            cost[j, a] = c
    active = np.ones(m, np.bool_)
    ids = np.arange(m)
    nn = np.empty(m, np.int64)
    nnd = np.empty(m)
    for i in range(m):
        nn[i], nnd[i] = _rescan(cost, active, i, m)
    merges = np.empty((max(m - 1, 0), 2), np.int64)
    heights = np.empty(max(m - 1, 0))
    for t in range(m - 1):
        a = -1
        for i in range(m):  # the cheapest pair (lowest slot on ties)
            if active[i] and (a < 0 or nnd[i] < nnd[a]):
                a = i
        b = nn[a]
        if b < a:
            a, b = b, a
        merges[t, 0] = min(ids[a], ids[b])
        merges[t, 1] = max(ids[a], ids[b])
        heights[t] = nnd[a]
        term, tr = _merged_term(cl, a, b, alpha, buf)
        _join(cl, a, b, term, tr)
        active[b] = False
        ids[a] = m + t
        for j in range(m):
            if active[j] and j != a:
                c = _merged_term(cl, a, j, alpha, buf)[0] - cl.term[a] - cl.term[j]
                cost[a, j] = c
                cost[j, a] = c
        nn[a], nnd[a] = _rescan(cost, active, a, m)
        for j in range(m):
            if active[j] and j != a:
                if nn[j] == a or nn[j] == b:
                    nn[j], nnd[j] = _rescan(cost, active, j, m)
                elif cost[j, a] < nnd[j] or (cost[j, a] == nnd[j] and a < nn[j]):
                    nn[j] = a
                    nnd[j] = cost[j, a]
    return merges, heights
