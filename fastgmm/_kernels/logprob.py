"""Stage 1 of a pass: the log-probability of every point of a block under every
component, ``lp[k, b] = log w_k + log N(x_b | mu_k, Sigma_k)``, one stage per
covariance type (:data:`STAGES`, by model type).
"""

from numba import njit

from .._config import INNER, JIT, STAGE
from .models import DiagModel, FullModel, SphericalModel, TiedModel
from .tiles import _dots


@njit(**INNER)
def _lp_small(Xt, d, nb, m, A, ck, zero, ssx, out):
    """``out[b] = ck - ||A (x_b - m)||^2 / 2`` for ``d <= 4`` (full), in one
    sweep along points with everything in registers. Two variants, d <= 2 and
    d <= 4: the missing features read as 0 (``Xt`` and ``A`` have zero rows
    up to 4, and the missing columns of ``A`` and entries of ``m`` are
    replaced by ``zero``)."""
    x0 = Xt[0]
    x1 = Xt[1]
    m0 = m[0]
    m1 = m[1] if d > 1 else zero
    a00 = A[0, 0]
    a10 = A[1, 0]
    a11 = A[1, 1] if d > 1 else zero
    if d <= 2:
        for b in range(nb):
            t0 = x0[b] - m0
            t1 = x1[b] - m1
            z0 = a00 * t0
            z1 = a10 * t0 + a11 * t1
            ssx[b] = z0 * z0 + z1 * z1
    else:
        x2 = Xt[2]
        x3 = Xt[3]
        m2 = m[2]
        m3 = m[3] if d > 3 else zero
        a20 = A[2, 0]
        a21 = A[2, 1]
        a22 = A[2, 2]
        a30 = A[3, 0]
        a31 = A[3, 1]
        a32 = A[3, 2]
        a33 = A[3, 3] if d > 3 else zero
        for b in range(nb):
            t0 = x0[b] - m0
            t1 = x1[b] - m1
            t2 = x2[b] - m2
            t3 = x3[b] - m3
            z0 = a00 * t0
            z1 = a10 * t0 + a11 * t1
            z2 = a20 * t0 + a21 * t1 + a22 * t2
            z3 = a30 * t0 + a31 * t1 + a32 * t2 + a33 * t3
            ssx[b] = z0 * z0 + z1 * z1 + z2 * z2 + z3 * z3
    for b in range(nb):
        out[b] = ck - 0.5 * ssx[b]


@njit(**INNER)
def _lp_mid(Xt, d, nb, m, A, ck, zero, ssx, out):
    """:func:`_lp_small` for ``4 < d <= 8``: ``z = A (x - m)`` for eight
    features in registers (the missing ones read as 0, as there), one sweep
    along points instead of ``D`` and ``_dots``' tiles of 4-8 features."""
    m4 = m[4]
    m5 = m[5] if d > 5 else zero
    m6 = m[6] if d > 6 else zero
    m7 = m[7] if d > 7 else zero
    a00 = A[0, 0]
    a10, a11 = A[1, 0], A[1, 1]
    a20, a21, a22 = A[2, 0], A[2, 1], A[2, 2]
    a30, a31, a32, a33 = A[3, 0], A[3, 1], A[3, 2], A[3, 3]
    a40, a41, a42, a43, a44 = A[4, 0], A[4, 1], A[4, 2], A[4, 3], A[4, 4]
    a50, a51, a52, a53, a54 = A[5, 0], A[5, 1], A[5, 2], A[5, 3], A[5, 4]
    a60, a61, a62, a63, a64 = A[6, 0], A[6, 1], A[6, 2], A[6, 3], A[6, 4]
    a70, a71, a72, a73, a74 = A[7, 0], A[7, 1], A[7, 2], A[7, 3], A[7, 4]
    a55 = A[5, 5] if d > 5 else zero
    a65 = A[6, 5] if d > 5 else zero
    a75 = A[7, 5] if d > 5 else zero
    a66 = A[6, 6] if d > 6 else zero
    a76 = A[7, 6] if d > 6 else zero
    a77 = A[7, 7] if d > 7 else zero
    x0, x1, x2, x3, x4, x5, x6, x7 = Xt[0], Xt[1], Xt[2], Xt[3], Xt[4], Xt[5], Xt[6], Xt[7]
    m0, m1, m2, m3 = m[0], m[1], m[2], m[3]
    for b in range(nb):
        t0 = x0[b] - m0
        t1 = x1[b] - m1
        t2 = x2[b] - m2
        t3 = x3[b] - m3
        t4 = x4[b] - m4
        t5 = x5[b] - m5
        t6 = x6[b] - m6
        t7 = x7[b] - m7
        z0 = a00 * t0
        z1 = a10 * t0 + a11 * t1
        z2 = a20 * t0 + a21 * t1 + a22 * t2
        z3 = a30 * t0 + a31 * t1 + a32 * t2 + a33 * t3
        z4 = a40 * t0 + a41 * t1 + a42 * t2 + a43 * t3 + a44 * t4
        z5 = a50 * t0 + a51 * t1 + a52 * t2 + a53 * t3 + a54 * t4 + a55 * t5
        z6 = a60 * t0 + a61 * t1 + a62 * t2 + a63 * t3 + a64 * t4 + a65 * t5 + a66 * t6
        z7 = a70 * t0 + a71 * t1 + a72 * t2 + a73 * t3 + a74 * t4 + a75 * t5 + a76 * t6 + a77 * t7
        ssx[b] = (z0 * z0 + z1 * z1 + z2 * z2 + z3 * z3) + (z4 * z4 + z5 * z5 + z6 * z6 + z7 * z7)
    for b in range(nb):
        out[b] = ck - 0.5 * ssx[b]


@njit(**STAGE)
def _lp_full_mid(model, w, nb):
    """'full' for 4 < d <= 8: one register sweep per component (:func:`_lp_mid`)."""
    _lp_full_mid_arrays(model, w.Xt, w.ssx, w.lp, w.zero, nb)


@njit(**INNER)
def _lp_full_mid_arrays(model, Xt, ssx, lp, zero, nb):
    """:func:`_lp_full_mid` on the arrays it uses."""
    d = model.means.shape[1]
    for k in range(model.means.shape[0]):
        _lp_mid(Xt, d, nb, model.means[k], model.mats[k], model.const[k], zero, ssx, lp[k])


@njit(**STAGE)
def _lp_full(model, w, nb):
    """'full' (d > 8): ``Z = L_k^-1 (x - mu_k)`` and ``||Z||^2`` by register
    tiles (:func:`fastgmm._kernels.tiles._dots`, centring in the tiles)."""
    _lp_full_arrays(model, w.Xt, w.Z, w.ssx, w.lp, nb)


@njit(**STAGE)
def _lp_full_small(model, w, nb):
    """'full' for d <= 4: one register sweep per component (:func:`_lp_small`)."""
    _lp_full_small_arrays(model, w.Xt, w.ssx, w.lp, w.zero, nb)


@njit(**INNER)
def _lp_full_small_arrays(model, Xt, ssx, lp, zero, nb):
    """:func:`_lp_full_small` on the arrays it uses (a call, as :func:`_lp_full_arrays`)."""
    d = model.means.shape[1]
    for k in range(model.means.shape[0]):
        _lp_small(Xt, d, nb, model.means[k], model.mats[k], model.const[k], zero, ssx, lp[k])


@njit(**INNER)
def _lp_full_arrays(model, Xt, Z, ssx, lp, nb):
    """:func:`_lp_full` on the arrays it uses: a call, not inlined (inlined, the
    pass at d = 32 was 10% slower), that passes four arrays rather than the
    whole work tuple (a reference count each per block)."""
    C, d = model.means.shape
    d4 = model.mats.shape[1]
    for k in range(C):
        _dots(Xt, model.means[k], d, nb, model.mats[k], d4, Z, True, ssx)
        ck = model.const[k]
        for b in range(nb):
            lp[k, b] = ck - 0.5 * ssx[b]


@njit(**STAGE)
def _lp_tied(model, w, nb):
    """'tied': ``y = L^-1 (x - c)`` once per point, then ``||y - L^-1 (mu_k - c)||^2``."""
    C, d = model.vecs.shape
    d4 = model.mat.shape[0]
    _dots(w.Xt, model.center, d, nb, model.mat, d4, w.Z, True, w.ssx0)
    for k in range(C):
        for b in range(nb):
            w.ssx[b] = 0.0
        for j in range(d):
            yk = model.vecs[k, j]
            for b in range(nb):
                t = w.Z[j, b] - yk
                w.ssx[b] += t * t
        ck = model.const[k]
        for b in range(nb):
            w.lp[k, b] = ck - 0.5 * w.ssx[b]


@njit(**STAGE)
def _lp_diag(model, w, nb):
    """'diag' and 'spherical': ``t = a x - b = a (x - b/a)`` by one fused
    multiply-add per feature (two features per sweep); ``sq[k] = ||t||^2`` is
    kept for the spherical statistics."""
    C, d = model.a.shape
    for k in range(C):
        sk = w.sq[k]
        for b in range(nb):
            sk[b] = 0.0
        for i in range(0, d - 1, 2):
            ai = model.a[k, i]
            bi = model.b[k, i]
            aj = model.a[k, i + 1]
            bj = model.b[k, i + 1]
            xi = w.Xt[i]
            xj = w.Xt[i + 1]
            for b in range(nb):
                t = ai * xi[b] - bi
                u = aj * xj[b] - bj
                sk[b] += t * t + u * u
        if d % 2 == 1:
            ai = model.a[k, d - 1]
            bi = model.b[k, d - 1]
            xi = w.Xt[d - 1]
            for b in range(nb):
                t = ai * xi[b] - bi
                sk[b] += t * t
        ck = model.const[k]
        for b in range(nb):
            w.lp[k, b] = ck - 0.5 * sk[b]


#: the stage of each model type (:func:`fastgmm._kernels.drivers.for_model`)
STAGES = {FullModel: _lp_full, TiedModel: _lp_tied, DiagModel: _lp_diag, SphericalModel: _lp_diag}


def stage_for(model):
    """The log-probability stage for ``model``: its type's, and for 'full' at
    d <= 4 and 4 < d <= 8 a register sweep each (so a fit at small d never
    compiles the tiles, nor one at d <= 4 the eight-feature sweep)."""
    if type(model) is FullModel:
        d = model.means.shape[1]
        if d <= 4:
            return _lp_full_small
        if d <= 8:
            return _lp_full_mid
    return STAGES[type(model)]


def log_prob(model, w, nb):
    """``w.lp[:, :nb]`` for the block in ``w.Xt``: a placeholder that
    :func:`fastgmm._kernels.drivers.for_model` replaces by the model type's stage."""
    raise NotImplementedError("log_prob is bound to a stage by drivers.for_model")
