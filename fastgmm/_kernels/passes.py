"""The passes over X: one kernel serves every covariance type and every use.

``_chunk_pass`` walks a range of rows of X in blocks of
:data:`fastgmm._config.BLOCK` rows copied transposed, so that the inner loops run
along points and vectorise. Per block it

1. computes ``lp[k, b] = log w_k + log N(x_b | k)`` (unless responsibilities are
   given), with the Mahalanobis distance through the triangular factor,
2. turns ``lp`` into responsibilities and the point's log-likelihood by a
   log-sum-exp that subtracts the maximum,
3. optionally writes responsibilities, per-point log-likelihoods or labels, and
4. optionally accumulates the M-step's sufficient statistics, around a shift
   (the current means), into float64 accumulators owned by the chunk.

Nothing of size N x C is allocated unless the caller passes ``resp_out``.

Covariance kinds (``kind``):

* ``FULL``: ``mats`` is ``L_k^-1`` (C, d, d); ``s2`` is (C, d, d) (lower triangle).
* ``TIED``: ``mats`` is the shared ``L^-1`` (1, d, d), ``vecs`` is ``L^-1 mu_k``
  (C, d); ``s2`` is one (1, d, d) sum of ``w (x - center)(x - center)^T``.
* ``DIAG`` (also spherical): ``vecs`` is the precision (C, d); ``s2`` is (C, 1, d).
"""

import numpy as np
from numba import njit, prange

from .._config import BLOCK, JIT

FULL = 0
TIED = 1
DIAG = 2


@njit(**JIT)
def _block_logprob(kind, Xt, nb, means, mats, vecs, const, D, acc, sq, lp):
    """``lp[k, :nb]`` for one transposed block ``Xt`` (d, nb)."""
    d = Xt.shape[0]
    C = means.shape[0]
    if kind == TIED:
        # y = L^-1 x once for the block, then ||y - L^-1 mu_k||^2 per component
        for j in range(d):
            for b in range(nb):
                acc[b] = 0.0
            for i in range(j + 1):
                lji = mats[0, j, i]
                for b in range(nb):
                    acc[b] += lji * Xt[i, b]
            for b in range(nb):
                D[j, b] = acc[b]
        for k in range(C):
            for b in range(nb):
                sq[b] = 0.0
            for j in range(d):
                ym = vecs[k, j]
                for b in range(nb):
                    t = D[j, b] - ym
                    sq[b] += t * t
            for b in range(nb):
                lp[k, b] = const[k] - 0.5 * sq[b]
        return
    for k in range(C):
        for b in range(nb):
            sq[b] = 0.0
        if kind == DIAG:
            for i in range(d):
                mi = means[k, i]
                pi = vecs[k, i]
                for b in range(nb):
                    t = Xt[i, b] - mi
                    sq[b] += pi * t * t
        else:
            for i in range(d):
                mi = means[k, i]
                for b in range(nb):
                    D[i, b] = Xt[i, b] - mi
            for j in range(d):
                for b in range(nb):
                    acc[b] = 0.0
                for i in range(j + 1):
                    lji = mats[k, j, i]
                    for b in range(nb):
                        acc[b] += lji * D[i, b]
                for b in range(nb):
                    sq[b] += acc[b] * acc[b]
        for b in range(nb):
            lp[k, b] = const[k] - 0.5 * sq[b]


@njit(**JIT)
def _block_stats(kind, Xt, nb, r, w, shift, center, D, RD, rw, nk, s1, s2):
    """Accumulate the block's weighted statistics around ``shift`` (and ``center``)."""
    d = Xt.shape[0]
    C = r.shape[0]
    for k in range(C):
        tot = 0.0
        for b in range(nb):
            v = r[k, b] * w[b]
            rw[b] = v
            tot += v
        if tot == 0.0:
            continue
        nk[k] += tot
        for i in range(d):
            si = shift[k, i]
            for b in range(nb):
                t = Xt[i, b] - si
                D[i, b] = t
                RD[i, b] = rw[b] * t
            acc = RD[i, 0]
            for b in range(1, nb):
                acc += RD[i, b]
            s1[k, i] += acc
        if kind == FULL:
            for i in range(d):
                for j in range(i + 1):
                    acc = RD[i, 0] * D[j, 0]
                    for b in range(1, nb):
                        acc += RD[i, b] * D[j, b]
                    s2[k, i, j] += acc
        elif kind == DIAG:
            for i in range(d):
                acc = RD[i, 0] * D[i, 0]
                for b in range(1, nb):
                    acc += RD[i, b] * D[i, b]
                s2[k, 0, i] += acc
    if kind == TIED:
        # one pooled second moment around the data's centre
        for i in range(d):
            ci = center[i]
            for b in range(nb):
                t = Xt[i, b] - ci
                D[i, b] = t
                RD[i, b] = w[b] * t
        for i in range(d):
            for j in range(i + 1):
                acc = RD[i, 0] * D[j, 0]
                for b in range(1, nb):
                    acc += RD[i, b] * D[j, b]
                s2[0, i, j] += acc


@njit(**JIT)
def _chunk_pass(
    kind, X, start, stop, sw, means, mats, vecs, const, shift, center,
    resp_in, lab_in, resp_out, ll_out, lab_out, want_stats, want_ecl, nk, s1, s2,
):
    """Serial pass over rows ``[start, stop)``: accumulates into ``nk``, ``s1``
    and ``s2`` and returns ``(ll_sum, ecl_sum, worst_ll, worst_index)``.

    Serial and ``nogil``: :func:`fastgmm.stats.run_pass` runs fixed chunks of
    rows on a thread pool and sums their accumulators in chunk order, and a dask
    task calls it on its block.

    ``X``, ``means``, ``mats``, ``vecs``, ``shift``, ``center``, ``resp_in`` and
    ``resp_out`` share X's dtype; ``sw``, ``const``, ``ll_out`` and the
    accumulators are float64; ``lab_in`` and ``lab_out`` int64; all C-contiguous.
    An optional input or output is an array with 0 rows.
    """
    d = X.shape[1]
    C = means.shape[0]
    have_resp = resp_in.shape[0] > 0
    have_lab = lab_in.shape[0] > 0
    need_lp = (not (have_resp or have_lab)) or want_ecl
    have_w = sw.shape[0] > 0
    Xt = np.empty((d, BLOCK), X.dtype)
    D = np.empty((d, BLOCK), X.dtype)
    RD = np.empty((d, BLOCK), X.dtype)
    acc = np.empty(BLOCK, X.dtype)
    sq = np.empty(BLOCK, X.dtype)
    rw = np.empty(BLOCK, X.dtype)
    w = np.ones(BLOCK)
    lp = np.empty((C, BLOCK))
    r = np.empty((C, BLOCK))
    ll_sum = 0.0
    ecl_sum = 0.0
    worst = np.inf
    worsti = start
    for b0 in range(start, stop, BLOCK):
        nb = min(BLOCK, stop - b0)
        for b in range(nb):
            for i in range(d):
                Xt[i, b] = X[b0 + b, i]
        if have_w:
            for b in range(nb):
                w[b] = sw[b0 + b]
        if need_lp:
            _block_logprob(kind, Xt, nb, means, mats, vecs, const, D, acc, sq, lp)
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
            for b in range(nb):
                m = lp[0, b]
                am = 0
                for k in range(1, C):
                    if lp[k, b] > m:
                        m = lp[k, b]
                        am = k
                if m == -np.inf:
                    lse = -np.inf
                    for k in range(C):
                        r[k, b] = 1.0 / C
                else:
                    s = 0.0
                    for k in range(C):
                        s += np.exp(lp[k, b] - m)
                    lse = m + np.log(s)
                    for k in range(C):
                        r[k, b] = np.exp(lp[k, b] - lse)
                ll_sum += w[b] * lse
                if lse < worst:
                    worst = lse
                    worsti = b0 + b
                if ll_out.shape[0] > 0:
                    ll_out[b0 + b] = lse
                if lab_out.shape[0] > 0:
                    lab_out[b0 + b] = am
        if want_ecl:
            for b in range(nb):
                t = 0.0
                for k in range(C):
                    if r[k, b] > 0.0:
                        t += r[k, b] * lp[k, b]
                ecl_sum += w[b] * t
        if resp_out.shape[0] > 0:
            for b in range(nb):
                for k in range(C):
                    resp_out[b0 + b, k] = r[k, b]
        if want_stats:
            _block_stats(kind, Xt, nb, r, w, shift, center, D, RD, rw, nk, s1, s2)
    return ll_sum, ecl_sum, worst, worsti
