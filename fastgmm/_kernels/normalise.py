"""Stage 2 of a pass: from log-probabilities to the point's log-likelihood, the
weights the statistics use, the responsibilities and their entropy.

All sweeps run along points and are branch-free where it matters: the maximum
over components ping-pongs between two buffers (an in-place
``mx[b] = v if v > mx[b] else mx[b]`` compiles to masked stores, slow on
AVX2), the arg-max is integer arithmetic, and the block's least likely point
is found by counting (a float min reduction does not vectorise without nnan).
"""

import numpy as np
from numba import njit

from .._config import INNER, STAGE
from .mathfn import _exp_block, _log_block


@njit(**STAGE)
def _component_max(w, nb, C, want_lab):
    """``(max_k lp[k, b], argmax)`` buffers; the arg-max only when ``want_lab``
    (label 0 everywhere otherwise)."""
    src = w.lp[0]
    asrc = w.amz
    for k in range(1, C):
        last = (C - 1 - k) % 2 == 0
        dst = w.mx2 if last else w.mx
        lk = w.lp[k]
        if want_lab:
            adst = w.amx2 if last else w.amx
            for b in range(nb):
                m = src[b]
                v = lk[b]
                dst[b] = v if v > m else m
                a = asrc[b]
                adst[b] = a + np.int64(v > m) * (k - a)  # not a select: that became masked loads
            asrc = adst
        else:
            for b in range(nb):
                m = src[b]
                v = lk[b]
                dst[b] = v if v > m else m
        src = dst
    return src, asrc


@njit(**INNER)
def _normalise(w, nb, C, src, worst_in):
    """Log-sum-exp with the maximum ``src`` subtracted: ``w.logs`` the point
    log-likelihoods, ``w.e = exp(lp - max)``, ``w.tx = 1 / sum_k e`` and
    ``w.fw = w / sum_k e`` (the statistics weigh ``e`` by it, so the
    responsibilities need not be written). A point that every component finds
    impossible gets log-likelihood -inf and equal responsibilities.

    Returns ``(sum_b w_b log p(x_b), worst, index in the block of a point below
    the given ``worst`` or -1)``.
    """
    for b in range(nb):
        w.ssum[b] = 0.0
        m = src[b]
        w.mx[b] = w.zero if m == -np.inf else m
    for k in range(C):
        _exp_block(w.lp[k], w.mx, w.e[k], w.ssum, nb)  # not in place: 2x faster
    _log_block(w.ssum, w.logs, nb)
    worst = worst_in  # not an assignment to the parameter: the function is inlined
    nbad = 0
    nlow = 0
    w.wbuf[0] = worst
    wx = w.wbuf[0]
    wll = 0.0
    for b in range(nb):
        s = w.ssum[b]
        ok = s > 0.0
        lse = w.mx[b] + w.logs[b]  # loaded unconditionally (no masked loads)
        lse = lse if ok else -np.inf
        w.logs[b] = lse
        q = w.one / s
        w.tx[b] = q if ok else w.zero
        nbad += 0 if ok else 1
        nlow += 1 if lse < wx else 0
        wll += w.w[b] * lse
    if nbad > 0:
        for b in range(nb):
            if not w.ssum[b] > 0.0:
                w.tx[b] = w.one
                for k in range(C):
                    w.e[k, b] = 1.0 / C
    for b in range(nb):
        w.fw[b] = w.w[b] * w.tx[b]
    worsti = -1
    if nlow > 0:
        for b in range(nb):
            if w.logs[b] < worst:
                worst = w.logs[b]
                worsti = b
    return wll, worst, worsti


@njit(**STAGE)
def _responsibilities(w, nb, C):
    """``w.r = e / sum_k e`` (after :func:`_normalise`)."""
    for k in range(C):
        for b in range(nb):
            w.r[k, b] = w.e[k, b] * w.tx[b]


@njit(**STAGE)
def _expected_lp(w, nb, C):
    """``w.rlp[b] = sum_k r log(w_k N(x_b | k))`` over the components with r > 0
    (float64): the complete-data term of the bound, and with ``log p(x_b)``
    the entropy of the responsibilities, per point (exactly 0 for one component)."""
    for b in range(nb):
        acc = 0.0
        for k in range(C):
            if w.r[k, b] > 0.0:
                acc += w.r[k, b] * w.lp[k, b]
        w.rlp[b] = acc
