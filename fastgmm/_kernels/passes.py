"""The fused pass over X: one kernel serves every covariance type and every use.

``_chunk_pass`` walks rows ``[start, stop)`` of X in blocks of ``block`` rows. Per
block it centres the rows on ``center`` (x~ = x - c) and builds, along points,
a feature matrix ``Phi`` (F x B, one column per point):

* full and tied: the packed products ``x~_i x~_j`` (i >= j, P = d(d+1)/2 rows)
  followed by ``x~`` (d rows);
* diag (and spherical): ``x~_i^2`` (d rows) followed by ``x~`` (d rows).

Both halves of EM are then dense products with ``Phi``, run with 2 x 4 register
blocking so that the inner loops vectorise:

1. E-step: the Mahalanobis term of every component is ``A_k . phi(x~)`` plus a
   constant folded into ``const_k`` (``A_k`` packs the precision matrix and
   ``-2 Prec_k (mu_k - c)``). For 'tied' the features are ``y = L^-1 x~`` instead
   (the shared factor applied once per point), with ``||y||^2`` added.
2. One exp per point and component (a branch-free polynomial, ``_exp_block``), a
   log-sum-exp that subtracts the maximum, responsibilities and the point's
   log-likelihood.
3. Optional outputs: responsibilities, per-point log-likelihoods, labels.
4. M-step statistics: ``T_k = sum_b r_kb w_b phi(x~_b)`` in float64: Nk, the
   first moments around ``c`` and the packed second moments around ``c``
   ('tied' pools one second moment for all components).

The shift by ``c`` (the weighted mean of the current means, or the data's mean)
keeps data far from the origin accurate; :func:`fastgmm.stats.m_step` recentres
the moments on the new means exactly. Nothing of size N x C is allocated unless
the caller passes ``resp_out``.
"""

import math

import numpy as np
from numba import njit

from .._config import JIT

FULL = 0
TIED = 1
DIAG = 2

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634


@njit(**JIT)
def _exp_block(t, out, bits, n):
    """``out[:n] = exp(t[:n])`` for ``t <= 0``; 0 below -708 (and for NaN).

    Range reduction by ln 2, a degree-12 Taylor polynomial on |r| <= ln2/2
    (a few ulp), and 2^k built from its exponent bits in ``bits`` (an int64
    buffer viewed as float64): two branch-free loops without a libm call,
    measured 2.5x faster than ``np.exp`` per element here. ``t`` may be ``out``.
    """
    for i in range(n):
        x = t[i]
        ok = x >= -708.0
        xc = x if ok else 0.0
        k = np.floor(xc * _LOG2E + 0.5)
        r = (xc - k * _LN2_HI) - k * _LN2_LO
        out[i] = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
            1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
                1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))))
        bits[i] = ((np.int64(k) + 1023) << 52) if ok else 0
    scale = bits.view(np.float64)
    for i in range(n):
        out[i] *= scale[i]


@njit(**JIT)
def _features(kind, X, b0, nb, center, Phi, Xc):
    """Centre rows ``b0 .. b0+nb`` into ``Xc`` (d x B) and build ``Phi`` (F x B)."""
    d = X.shape[1]
    for b in range(nb):
        for i in range(d):
            Xc[i, b] = X[b0 + b, i] - center[i]
    if kind == DIAG:
        for i in range(d):
            for b in range(nb):
                t = Xc[i, b]
                Phi[i, b] = t * t
                Phi[d + i, b] = t
        return
    p = 0
    for i in range(d):
        for j in range(i + 1):
            for b in range(nb):
                Phi[p, b] = Xc[i, b] * Xc[j, b]
            p += 1
    for i in range(d):
        for b in range(nb):
            Phi[p + i, b] = Xc[i, b]


@njit(**JIT)
def _dots(Phi, F, nb, A, C4, out):
    """``out[k, b] = A[k, :F] . Phi[:F, b]``: blocks of 4 components x 2 feature
    rows, the inner loop along points (vectorised)."""
    for k in range(0, C4, 4):
        for b in range(nb):
            out[k, b] = 0.0
            out[k + 1, b] = 0.0
            out[k + 2, b] = 0.0
            out[k + 3, b] = 0.0
        for p in range(0, F, 2):
            q = p + 1
            if q == F:  # odd F: the last row pairs with a zero coefficient
                q = p
            z = 1.0 if q != p else 0.0
            c0 = A[k, p]
            c1 = A[k + 1, p]
            c2 = A[k + 2, p]
            c3 = A[k + 3, p]
            g0 = A[k, q] * z
            g1 = A[k + 1, q] * z
            g2 = A[k + 2, q] * z
            g3 = A[k + 3, q] * z
            for b in range(nb):
                u = Phi[p, b]
                v = Phi[q, b]
                out[k, b] += c0 * u + g0 * v
                out[k + 1, b] += c1 * u + g1 * v
                out[k + 2, b] += c2 * u + g2 * v
                out[k + 3, b] += c3 * u + g3 * v


@njit(**JIT)
def _accumulate(Phi, p0, p1, nb, RW, C4, T):
    """``T[k, p] += RW[k, :nb] . Phi[p, :nb]`` for p in [p0, p1), 2 rows x 4 components."""
    for p in range(p0, p1, 2):
        q = p + 1 if p + 1 < p1 else p
        for k in range(0, C4, 4):
            a00 = 0.0 * Phi[0, 0]
            a01 = a00
            a02 = a00
            a03 = a00
            a10 = a00
            a11 = a00
            a12 = a00
            a13 = a00
            for b in range(nb):
                u = Phi[p, b]
                v = Phi[q, b]
                c0 = RW[k, b]
                c1 = RW[k + 1, b]
                c2 = RW[k + 2, b]
                c3 = RW[k + 3, b]
                a00 += u * c0
                a01 += u * c1
                a02 += u * c2
                a03 += u * c3
                a10 += v * c0
                a11 += v * c1
                a12 += v * c2
                a13 += v * c3
            T[k, p] += a00
            T[k + 1, p] += a01
            T[k + 2, p] += a02
            T[k + 3, p] += a03
            if q != p:
                T[k, q] += a10
                T[k + 1, q] += a11
                T[k + 2, q] += a12
                T[k + 3, q] += a13


@njit(**JIT)
def _chunk_pass(
    kind, X, start, stop, sw, center, A, const, linv,
    resp_in, lab_in, resp_out, ll_out, lab_out, want_stats, want_ecl, block,
    nk, T, pool,
):
    """Serial pass over rows ``[start, stop)`` (see the module docstring).

    Accumulates into ``nk`` (C,), ``T`` (C4, F) and, for 'tied', ``pool[0]`` (4, F),
    all float64, and returns ``(ll_sum, ecl_sum, worst_ll, worst_index)``: the
    weighted sum of per-point log-likelihoods, the weighted ``sum r * lp`` (if
    ``want_ecl``), and the least likely point.

    ``X``, ``center``, ``A``, ``linv``, ``resp_in`` and ``resp_out`` share X's
    dtype; ``sw``, ``const`` and ``ll_out`` are float64; ``lab_in``/``lab_out``
    int64; all C-contiguous. An optional input or output has 0 rows. ``A`` has
    ``C4`` (C rounded up to 4) rows, the extra ones zero. Serial and ``nogil``:
    :func:`fastgmm.stats.run_pass` runs fixed chunks of rows on a thread pool
    and sums their accumulators in chunk order; a dask task calls it on a block.
    """
    d = X.shape[1]
    C = const.shape[0]
    C4 = A.shape[0]
    P = d * (d + 1) // 2
    FM = 2 * d if kind == DIAG else P + d
    FE = d if kind == TIED else FM
    have_resp = resp_in.shape[0] > 0
    have_lab = lab_in.shape[0] > 0
    need_lp = (not (have_resp or have_lab)) or want_ecl
    have_w = sw.shape[0] > 0
    dt = X.dtype
    Xc = np.empty((d, block), dt)
    Phi = np.empty((FM, block), dt)
    Y = np.empty((d, block), dt)
    W4 = np.zeros((4, block), dt)
    ysq = np.zeros(block)
    RW = np.zeros((C4, block), dt)
    lp = np.zeros((C4, block))
    lpx = np.zeros((C4, block), dt)  # the dots in X's dtype (float32 stays float32)
    r = np.empty((C, block))
    e = np.empty((C, block))
    mx = np.empty(block)
    amx = np.zeros(block, np.int64)
    ssum = np.empty(block)
    bits = np.empty(block, np.int64)
    w = np.ones(block)
    ll_sum = 0.0
    ecl_sum = 0.0
    worst = np.inf
    worsti = start
    for b0 in range(start, stop, block):
        nb = min(block, stop - b0)
        _features(kind, X, b0, nb, center, Phi, Xc)
        if have_w:
            for b in range(nb):
                w[b] = sw[b0 + b]
        if need_lp:
            if kind == TIED:
                # y = L^-1 x~ once per point; ||y - L^-1 mu~_k||^2 by the dots
                for b in range(nb):
                    ysq[b] = 0.0
                for j in range(d):
                    for b in range(nb):
                        Y[j, b] = 0.0
                    for i in range(j + 1):
                        lji = linv[j, i]
                        for b in range(nb):
                            Y[j, b] += lji * Xc[i, b]
                    for b in range(nb):
                        ysq[b] += Y[j, b] * Y[j, b]
                _dots(Y, d, nb, A, C4, lpx)
            else:
                _dots(Phi, FE, nb, A, C4, lpx)
            for k in range(C):
                ck = const[k]
                for b in range(nb):
                    lp[k, b] = ck - 0.5 * (lpx[k, b] + ysq[b])
        if have_resp:
            for b in range(nb):
                for k in range(C):
                    r[k, b] = resp_in[b0 + b, k]
        elif have_lab:
            for b in range(nb):
                lab = lab_in[b0 + b]
                for k in range(C):
                    r[k, b] = 1.0 if k == lab else 0.0
        else:
            # log-sum-exp along points: the maximum, one exp per pair, the sum
            for b in range(nb):
                mx[b] = lp[0, b]
                amx[b] = 0
            for k in range(1, C):
                for b in range(nb):
                    if lp[k, b] > mx[b]:
                        mx[b] = lp[k, b]
                        amx[b] = k
            for b in range(nb):
                ssum[b] = 0.0
                if mx[b] == -np.inf:
                    mx[b] = 0.0  # every component impossible: flagged below
            for k in range(C):
                for b in range(nb):
                    e[k, b] = lp[k, b] - mx[b]
                _exp_block(e[k], e[k], bits, nb)
                for b in range(nb):
                    ssum[b] += e[k, b]
            for b in range(nb):
                if ssum[b] > 0.0:
                    lse = mx[b] + np.log(ssum[b])
                    inv = 1.0 / ssum[b]
                    for k in range(C):
                        r[k, b] = e[k, b] * inv
                else:
                    lse = -np.inf
                    for k in range(C):
                        r[k, b] = 1.0 / C
                ll_sum += w[b] * lse
                if lse < worst:
                    worst = lse
                    worsti = b0 + b
                if ll_out.shape[0] > 0:
                    ll_out[b0 + b] = lse
                if lab_out.shape[0] > 0:
                    lab_out[b0 + b] = amx[b]
        if want_ecl:
            for b in range(nb):
                acc = 0.0
                for k in range(C):
                    if r[k, b] > 0.0:
                        acc += r[k, b] * lp[k, b]
                ecl_sum += w[b] * acc
        if resp_out.shape[0] > 0:
            for b in range(nb):
                for k in range(C):
                    resp_out[b0 + b, k] = r[k, b]
        if want_stats:
            for k in range(C):
                tot = 0.0
                for b in range(nb):
                    v = r[k, b] * w[b]
                    RW[k, b] = v
                    tot += v
                nk[k] += tot
            if kind == TIED:
                # first moments per component, one pooled second moment
                _accumulate(Phi, P, FM, nb, RW, C4, T)
                for b in range(nb):
                    W4[0, b] = w[b]
                _accumulate(Phi, 0, P, nb, W4, 4, pool)
            else:
                _accumulate(Phi, 0, FM, nb, RW, C4, T)
    return ll_sum, ecl_sum, worst, worsti
