"""Stage 3 of a pass: the M-step's sufficient statistics of a block, in float64,
one stage per covariance type (:data:`STAGES`, by model type).
:func:`load_given` is the alternative to stages 1-2 when
the responsibilities are given (labels, a dense matrix, or one component).

Component k's weights are ``rw = src[k] * fw`` (``e`` and ``w / sum e`` after an
E-step, or given responsibilities and the sample weights). Statistics are taken
around a per-component point (the current means), so tight components far
from the origin stay exact; block sums of at most 256 terms run in X's dtype
and are added to the float64 accumulators.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._config import INNER, JIT, STAGE
from .models import DiagModel, FullModel, SphericalModel, TiedModel
from .tiles import VECTOR_BYTES, _accumulate, _second_moments


@njit(**INNER)
def _weigh(src_k, fw, nb, rw):
    """``rw = src_k * fw`` and its sum (float64)."""
    tot = 0.0
    for b in range(nb):
        v = src_k[b] * fw[b]
        rw[b] = v
        tot += v
    return tot


@njit(**INNER)
def _weigh_count(src_k, fw, nb, rw):
    """:func:`_weigh`, and the number of points with ``rw != 0``, counted in
    the same loop (for :func:`_sparse_points`; a loop of its own cost dense
    spherical 2-5%)."""
    tot = 0.0
    n = 0
    for b in range(nb):
        v = src_k[b] * fw[b]
        rw[b] = v
        tot += v
        n += 1 if v != 0.0 else 0
    return tot, n


@njit(**INNER)
def _moments_small(Xt, n, o, nb, rw, s, s1, s2, zero):
    """``s1 += sum rw (x - s)`` and the lower triangle of ``s2 += sum rw (x -
    s)(x - s)^T`` over the ``n <= 4`` features from ``o`` (full; ``o = 0``
    for d <= 4): one sweep along points with the sums in registers; variants
    and padding as in :func:`_lp_small`."""
    x0 = Xt[o]
    x1 = Xt[o + 1]
    c0 = s[o]
    c1 = s[o + 1] if n > 1 else zero
    a0 = zero
    a1 = zero
    q00 = zero
    q10 = zero
    q11 = zero
    if n <= 2:
        for b in range(nb):
            t0 = x0[b] - c0
            t1 = x1[b] - c1
            u0 = rw[b] * t0
            u1 = rw[b] * t1
            a0 += u0
            a1 += u1
            q00 += u0 * t0
            q10 += u1 * t0
            q11 += u1 * t1
    else:
        x2 = Xt[o + 2]
        x3 = Xt[o + 3]
        c2 = s[o + 2]
        c3 = s[o + 3] if n > 3 else zero
        a2 = zero
        a3 = zero
        q20 = zero
        q21 = zero
        q22 = zero
        q30 = zero
        q31 = zero
        q32 = zero
        q33 = zero
        for b in range(nb):
            t0 = x0[b] - c0
            t1 = x1[b] - c1
            t2 = x2[b] - c2
            t3 = x3[b] - c3
            u0 = rw[b] * t0
            u1 = rw[b] * t1
            u2 = rw[b] * t2
            u3 = rw[b] * t3
            a0 += u0
            a1 += u1
            a2 += u2
            a3 += u3
            q00 += u0 * t0
            q10 += u1 * t0
            q11 += u1 * t1
            q20 += u2 * t0
            q21 += u2 * t1
            q22 += u2 * t2
            q30 += u3 * t0
            q31 += u3 * t1
            q32 += u3 * t2
            q33 += u3 * t3
        s1[o + 2] += a2
        s2[o + 2, o] += q20
        s2[o + 2, o + 1] += q21
        s2[o + 2, o + 2] += q22
        if n > 3:
            s1[o + 3] += a3
            s2[o + 3, o] += q30
            s2[o + 3, o + 1] += q31
            s2[o + 3, o + 2] += q32
            s2[o + 3, o + 3] += q33
    s1[o] += a0
    s2[o, o] += q00
    if n > 1:
        s1[o + 1] += a1
        s2[o + 1, o] += q10
        s2[o + 1, o + 1] += q11


@njit(**INNER)
def _moments_cross(Xt, d, nb, rw, s, s2, zero):
    """Rows 4-7 by columns 0-3 of ``s2 += sum rw (x - s)(x - s)^T`` for ``4 <
    d <= 8``: the block under the first four features' triangle, sixteen sums
    in registers (missing features read as 0)."""
    x0, x1, x2, x3, x4, x5, x6, x7 = Xt[0], Xt[1], Xt[2], Xt[3], Xt[4], Xt[5], Xt[6], Xt[7]
    c0, c1, c2, c3, c4 = s[0], s[1], s[2], s[3], s[4]
    c5 = s[5] if d > 5 else zero
    c6 = s[6] if d > 6 else zero
    c7 = s[7] if d > 7 else zero
    q40 = q41 = q42 = q43 = q50 = q51 = q52 = q53 = zero
    q60 = q61 = q62 = q63 = q70 = q71 = q72 = q73 = zero
    for b in range(nb):
        t0 = x0[b] - c0
        t1 = x1[b] - c1
        t2 = x2[b] - c2
        t3 = x3[b] - c3
        r = rw[b]
        u4 = r * (x4[b] - c4)
        u5 = r * (x5[b] - c5)
        u6 = r * (x6[b] - c6)
        u7 = r * (x7[b] - c7)
        q40 += u4 * t0
        q41 += u4 * t1
        q42 += u4 * t2
        q43 += u4 * t3
        q50 += u5 * t0
        q51 += u5 * t1
        q52 += u5 * t2
        q53 += u5 * t3
        q60 += u6 * t0
        q61 += u6 * t1
        q62 += u6 * t2
        q63 += u6 * t3
        q70 += u7 * t0
        q71 += u7 * t1
        q72 += u7 * t2
        q73 += u7 * t3
    s2[4, 0] += q40
    s2[4, 1] += q41
    s2[4, 2] += q42
    s2[4, 3] += q43
    # rows past d are padding (the caller reads rows :d): written unconditionally
    s2[5, 0] += q50
    s2[5, 1] += q51
    s2[5, 2] += q52
    s2[5, 3] += q53
    s2[6, 0] += q60
    s2[6, 1] += q61
    s2[6, 2] += q62
    s2[6, 3] += q63
    s2[7, 0] += q70
    s2[7, 1] += q71
    s2[7, 2] += q72
    s2[7, 3] += q73


@njit(**STAGE)
def _acc_full(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """'full' (d > 8, where :func:`_by_tiles` says no): ``s1[k] += sum
    rw (x - mu_k)``, lower triangle of ``s2[k] += sum rw (x - mu_k)(x -
    mu_k)^T`` by products along points."""
    _full_along_points(model, nb, (w.Xt, w.D, w.RD, w.rw, w.zero), src, fw, nk, s1, s2)


@njit(**STAGE)
def _acc_full_small(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """:func:`_acc_full` for d <= 4: one register sweep per component."""
    _full_small(model, nb, (w.Xt, w.rw, w.zero), src, fw, nk, s1, s2)


@njit(**STAGE)
def _acc_full_mid(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """:func:`_acc_full` for 4 < d <= 8: three register sweeps per component."""
    _full_mid(model, nb, (w.Xt, w.rw, w.zero), src, fw, nk, s1, s2)


@njit(**STAGE)
def _acc_full_tiles(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """:func:`_acc_full` where :func:`_by_tiles` says so: outer-product tiles."""
    _full_tiles(model, X, b0, nb, (w.Xt, w.P, w.ps, w.RD, w.rw, (w.Pc, w.nzi), w.zero), src, fw, nk, s1, s2)


# The three stages' work goes through calls, not inlined code (inlined, the
# pass at d = 32 was 10% slower), that pass a few arrays, not the work tuple.


@njit(**INNER)
def _full_small(model, nb, arrays, src, fw, nk, s1, s2):
    """:func:`_acc_full_small` on ``(Xt, rw, zero)``."""
    Xt, rw, zero = arrays
    d = model.means.shape[1]
    for k in range(model.means.shape[0]):
        tot = _weigh(src[k], fw, nb, rw)
        if tot != 0.0:
            nk[k] += tot
            _moments_small(Xt, d, 0, nb, rw, model.means[k], s1[k], s2[k], zero)


@njit(**INNER)
def _full_mid(model, nb, arrays, src, fw, nk, s1, s2):
    """:func:`_acc_full_mid` on ``(Xt, rw, zero)``: features 0-3, the block
    of rows 4-7 by columns 0-3, then features 4 to d - 1 (each sweep's sums
    fit the registers; all of them at once would not)."""
    Xt, rw, zero = arrays
    d = model.means.shape[1]
    for k in range(model.means.shape[0]):
        tot = _weigh(src[k], fw, nb, rw)
        if tot != 0.0:
            nk[k] += tot
            s = model.means[k]
            _moments_small(Xt, 4, 0, nb, rw, s, s1[k], s2[k], zero)
            _moments_cross(Xt, d, nb, rw, s, s2[k], zero)
            _moments_small(Xt, d - 4, 4, nb, rw, s, s1[k], s2[k], zero)


@njit(**INNER)
def _full_along_points(model, nb, arrays, src, fw, nk, s1, s2):
    """:func:`_acc_full` on ``(Xt, D, RD, rw, zero)``."""
    Xt, D, RD, rw, zero = arrays
    for k in range(model.means.shape[0]):
        tot = _weigh(src[k], fw, nb, rw)
        if tot != 0.0:
            nk[k] += tot
            _moments_along_points(nb, model.means[k], Xt, D, RD, rw, zero, s1[k], s2[k])


@njit(**INNER)
def _full_tiles(model, X, b0, nb, arrays, src, fw, nk, s1, s2):
    """:func:`_acc_full_tiles` on ``(Xt, P, ps, RD, rw, (Pc, nzi), zero)``."""
    Xt, P, ps, RD, rw, sparse, zero = arrays
    _rows(X, b0, nb, P)
    for k in range(model.means.shape[0]):
        tot = _weigh(src[k], fw, nb, rw)
        if tot != 0.0:
            nk[k] += tot
            _moments(nb, model.means[k], Xt, P, ps, RD, rw, zero, s1[k], s2[k], sparse)


#: fewest bytes of features (in X's dtype) whose second moments go by
#: outer-product tiles (one zmm, two ymm; docs/performance.md, 2026-12-03);
#: :func:`_by_tiles` asks for whole vectors too
TILES_FROM_BYTES = 64


@njit(**INNER)
def _by_tiles(d, itemsize):
    """Whether second moments go by outer-product tiles (vectors along
    features): from 64 bytes of features, when they fill whole vectors or
    at least two; below, and for one vector and a ragged part (d = 9-15 float64,
    17-31 float32 on AVX-512: up to 1.5x slower by tiles on Zen 4), products
    along points (vectors along points) did as well or better (docs/performance.md)."""
    v = VECTOR_BYTES // itemsize
    return d * itemsize >= TILES_FROM_BYTES and (d % v == 0 or d >= 2 * v)


@njit(**INNER)
def _moments_along_points(nb, s, Xt, D, RD, rw, zero, s1, s2):
    """:func:`_moments` without tiles (:func:`_by_tiles`): ``D = x - s``, ``RD = rw D``
    along points, then ``s2 += RD D^T`` by :func:`fastgmm._kernels.tiles._accumulate`."""
    d = s.shape[0]
    for i in range(d):
        si = s[i]
        acc1 = zero
        for b in range(nb):
            t = Xt[i, b] - si
            D[i, b] = t
            u = rw[b] * t
            RD[i, b] = u
            acc1 += u
        s1[i] += acc1
    _accumulate(D, d, nb, RD, s2.shape[0], s2, True, zero)


@njit(**INNER)
def _rows(X, b0, nb, P):
    """``P[b, :d] = X[b0 + b]``: the block's rows, row-major with padded rows
    (the outer-product tiles read whole vectors)."""
    d = X.shape[1]
    for b in range(nb):
        for j in range(d):
            P[b, j] = X[b0 + b, j]


@njit(**INNER)
def _moments(nb, s, Xt, P, ps, RD, rw, zero, s1, s2, sparse):
    """``s1 += sum rw (x - s)`` and the lower triangle of ``s2 += sum rw (x -
    s)(x - s)^T`` over the block: ``RD = rw (x - s)``, then outer-product
    tiles of ``RD`` by the rows minus ``s``
    (:func:`fastgmm._kernels.tiles._second_moments`; ``ps``: ``s`` padded as
    ``P``'s rows). Over the block's points (:func:`_differences`), or, where
    at most :data:`SPARSE_FRACTION` of them have ``rw != 0``, over those
    gathered (:func:`_gathered_differences`, ``sparse = (Pc, nzi)``): far
    components' responsibilities underflow to 0 as a fit converges on
    separated clusters. A call, not inlined: it passes eleven arrays and
    scalars, not the work tuple."""
    d = s.shape[0]
    for i in range(d):
        ps[i] = s[i]
    Pc, nzi = sparse
    nw = 0
    for b in range(nb):  # its own loop: counted in _weigh's (_weigh_count) the late pass ran 3-5% slower
        nw += 1 if rw[b] != 0.0 else 0
    n = _sparse_points(rw, nb, nzi, nw, SPARSE_FRACTION * nb)
    if n < 0:
        _differences(nb, s, Xt, RD, rw, zero, s1)
        _second_moments(P, ps, RD, d, nb, s2)
    else:
        _gathered_differences(n, nzi, s, Xt, P, Pc, RD, rw, zero, s1)
        _second_moments(Pc, ps, RD, d, n, s2)


#: the largest fraction of a block's points with non-zero weight for which
#: the full covariances' statistics gather them (the tiles' work per point is
#: O(d^2), a gather's O(d); the sweeps' threshold is lower: :func:`_sweep_most`;
#: docs/performance.md, 2026-12-08)
SPARSE_FRACTION = 0.5


@njit(**STAGE)
def _sweep_most(nb, itemsize):
    """The most weighted points of a block for which the diag, tied and
    spherical sweeps gather them: one in twice a vector's lanes (the gathered
    sweep loads one point at a time, the dense one a vector)."""
    return nb // (2 * (VECTOR_BYTES // itemsize))


@njit(**STAGE)
def _sparse_points(rw, nb, nzi, n, most):
    """``n`` (the number of the block's points with ``rw != 0``, counted by
    :func:`_weigh_count` or :func:`_moments`) when it is at most ``most``, with their indices in
    ``nzi[:n]`` and their weights moved to ``rw[:n]`` (in place, in point
    order: ``nzi[j] >= j``); -1 otherwise (the block stays as it is). Points
    left out add exactly 0 to every sum."""
    if n > most:
        return -1
    j = 0
    for b in range(nb):  # branch-free: the index is written, and kept if the weight is non-zero
        nzi[j] = b
        j += 1 if rw[b] != 0.0 else 0
    for j in range(n):
        rw[j] = rw[nzi[j]]
    return n


@njit(**STAGE)
def _differences(nb, s, Xt, RD, rw, zero, s1):
    """``RD = rw (x - s)`` along the block's points (from the transposed
    block), and ``s1 += sum rw (x - s)``."""
    for i in range(s.shape[0]):
        si = s[i]
        acc1 = zero
        for b in range(nb):
            u = rw[b] * (Xt[i, b] - si)
            RD[i, b] = u
            acc1 += u
        s1[i] += acc1


@njit(**STAGE)
def _gathered_differences(n, nzi, s, Xt, P, Pc, RD, rw, zero, s1):
    """:func:`_differences` over the ``n`` points ``nzi[:n]`` only, in point
    order, with their weights in ``rw[:n]`` (:func:`_sparse_points`): their
    rows of ``P`` into ``Pc``, ``RD[:, :n]`` and ``s1``."""
    d = s.shape[0]
    for j in range(n):
        b = nzi[j]
        for i in range(d):
            Pc[j, i] = P[b, i]
    for i in range(d):
        si = s[i]
        acc1 = zero
        for j in range(n):
            u = rw[j] * (Xt[i, nzi[j]] - si)
            RD[i, j] = u
            acc1 += u
        s1[i] += acc1


@njit(**STAGE)
def _pooled(center, w, X, b0, nb, s2):
    """``s2 += sum w (x - c)(x - c)^T`` (lower triangle): the one second moment
    of 'tied' (``sum_k r = 1``, so the sample weights alone weigh it)."""
    d = center.shape[0]
    tiles = _by_tiles(d, X.itemsize)
    for i in range(d):
        ci = center[i]
        w.ps[i] = ci
        for b in range(nb):  # D only the products along points read: once a block, not per component
            t = w.Xt[i, b] - ci
            w.D[i, b] = t
            w.RD[i, b] = w.w[b] * t
    if tiles:
        _rows(X, b0, nb, w.P)
        _second_moments(w.P, w.ps, w.RD, d, nb, s2)
    else:
        _accumulate(w.D, d, nb, w.RD, s2.shape[0], s2, True, w.zero)


@njit(**STAGE)
def _acc_tied(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """'tied': first moments per component (over the weighted points only
    where few weigh: :func:`_sweep_most`) and one pooled second
    moment, all around ``center``: d^2/2 per point, not C d^2/2."""
    C, d = model.vecs.shape
    most = _sweep_most(nb, w.Xt.itemsize)
    for k in range(C):
        tot, nw = _weigh_count(src[k], fw, nb, w.rw)
        if tot == 0.0:
            continue
        nk[k] += tot
        n = _sparse_points(w.rw, nb, w.nzi, nw, most)
        for i in range(d):
            si = model.center[i]
            acc1 = w.zero
            if n < 0:
                for b in range(nb):
                    acc1 += w.rw[b] * (w.Xt[i, b] - si)
            else:
                for j in range(n):
                    acc1 += w.rw[j] * (w.Xt[i, w.nzi[j]] - si)
            s1[k, i] += acc1
    _pooled(model.center, w, X, b0, nb, s2[0])


@njit(**STAGE)
def _acc_diag(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """'diag': moments of ``t = a x - b = a (x - b/a)`` per feature, divided
    by ``a`` (so: around ``b/a``, the mean to within one rounding); given
    assignments use ``a = 1, b = the shift``. Over the weighted points only
    where few weigh (:func:`_sweep_most`, :func:`_sparse_points`)."""
    C, d = model.a.shape
    most = _sweep_most(nb, w.Xt.itemsize)
    for k in range(C):
        tot, nw = _weigh_count(src[k], fw, nb, w.rw)
        if tot == 0.0:
            continue
        nk[k] += tot
        n = _sparse_points(w.rw, nb, w.nzi, nw, most)
        for i in range(d):
            ai = model.a[k, i]
            bi = model.b[k, i]
            acc1 = w.zero
            acc2 = w.zero
            if n < 0:
                for b in range(nb):
                    t = ai * w.Xt[i, b] - bi
                    u = w.rw[b] * t
                    acc1 += u
                    acc2 += u * t
            else:
                for j in range(n):
                    t = ai * w.Xt[i, w.nzi[j]] - bi
                    u = w.rw[j] * t
                    acc1 += u
                    acc2 += u * t
            a64 = np.float64(ai)
            s1[k, i] += acc1 / a64
            s2[k, 0, i] += acc2 / (a64 * a64)


@njit(**STAGE)
def _acc_spherical(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """'spherical' after its E-step: the second moment ``sum rw ||t||^2`` is the
    E-step's own Mahalanobis sum ``w.sq`` (in ``s2[k, 0, 0]``), so only the
    first moments sweep the features (over the weighted points only where few
    weigh: :func:`_sweep_most`)."""
    C, d = model.a.shape
    most = _sweep_most(nb, w.Xt.itemsize)
    for k in range(C):
        tot, nw = _weigh_count(src[k], fw, nb, w.rw)
        if tot == 0.0:
            continue
        nk[k] += tot
        n = _sparse_points(w.rw, nb, w.nzi, nw, most)
        acc2 = w.zero
        sk = w.sq[k]
        if n < 0:
            for b in range(nb):
                acc2 += w.rw[b] * sk[b]
        else:
            for j in range(n):
                acc2 += w.rw[j] * sk[w.nzi[j]]
        a0 = np.float64(model.a[k, 0])
        s2[k, 0, 0] += acc2 / (a0 * a0)
        for i in range(d):
            ai = model.a[k, i]
            bi = model.b[k, i]
            acc1 = w.zero
            if n < 0:
                for b in range(nb):
                    acc1 += w.rw[b] * (ai * w.Xt[i, b] - bi)
            else:
                for j in range(n):
                    acc1 += w.rw[j] * (ai * w.Xt[i, w.nzi[j]] - bi)
            s1[k, i] += acc1 / np.float64(ai)


#: the stage of each model type (:func:`fastgmm._kernels.drivers.for_model`)
STAGES = {FullModel: _acc_full, TiedModel: _acc_tied, DiagModel: _acc_diag, SphericalModel: _acc_spherical}


def stage_for(model):
    """The accumulation stage for ``model``: its type's, and for 'full' the
    one its dimension needs (so a fit compiles only that one: with the three
    of d > 4 in one stage, a cold first fit at d = 2 took about 3 s longer;
    with the d <= 8 sweeps in one, the cold demo about 2 s)."""
    cls = type(model)
    if cls is FullModel:
        d = model.means.shape[1]
        if d <= 4:
            return _acc_full_small
        if d <= 8:
            return _acc_full_mid
        if _by_tiles.py_func(d, model.means.dtype.itemsize):
            return _acc_full_tiles
    return STAGES[cls]


def accumulate(model, w, X, b0, nb, src, fw, nk, s1, s2):
    """Add the statistics of rows ``[b0, b0 + nb)`` of X (loaded into ``w``)
    into ``nk``, ``s1``, ``s2``: a placeholder
    that :func:`fastgmm._kernels.drivers.for_model` replaces by the model type's stage."""
    raise NotImplementedError("accumulate is bound to a stage by drivers.for_model")


@njit(**STAGE)
def _given_resp(given, w, b0, nb, C):
    for b in range(nb):
        for k in range(C):
            w.r[k, b] = given[b0 + b, k]


@njit(**STAGE)
def _given_labels(given, w, b0, nb, C):
    for b in range(nb):
        lab = given[b0 + b]
        for k in range(C):
            w.r[k, b] = 1.0 if k == lab else 0.0


@njit(**STAGE)
def _given_one(given, w, b0, nb, C):
    for b in range(nb):
        for k in range(C):
            w.r[k, b] = 1.0 if k == given else 0.0


def load_given(given, w, b0, nb, C):
    """``w.r`` for rows ``[b0, b0 + nb)`` from given assignments: (N, C)
    responsibilities, (N,) int32 labels (-1: no component), or one component
    index for every row (compiled code only)."""
    raise NotImplementedError("load_given is compiled code only")


@overload(load_given, jit_options=JIT)
def _load_given_impl(given, w, b0, nb, C):
    if isinstance(given, types.Array) and given.ndim == 2:
        return _given_resp.py_func
    if isinstance(given, types.Array) and given.ndim == 1:
        return _given_labels.py_func
    if isinstance(given, types.Integer):
        return _given_one.py_func
    return None
