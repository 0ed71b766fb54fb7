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



@njit(**STAGE)
def _lp_full(model, w, nb):
    """'full' (d > 4): ``D = x - mu_k``, ``Z = L_k^-1 D`` and ``||Z||^2`` by
    register tiles (:func:`fastgmm._kernels.tiles._dots`)."""
    _lp_full_arrays(model, w.Xt, w.D, w.Z, w.ssx, w.lp, w.zero, nb)


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
def _lp_full_arrays(model, Xt, D, Z, ssx, lp, zero, nb):
    """:func:`_lp_full` on the arrays it uses: a call, not inlined (inlined, the
    pass at d = 32 was 10% slower), that passes five arrays rather than the
    whole work tuple (a reference count each per block)."""
    C, d = model.means.shape
    d4 = model.mats.shape[1]
    for k in range(C):
        for i in range(d):
            mi = model.means[k, i]
            for b in range(nb):
                D[i, b] = Xt[i, b] - mi
        _dots(D, d, nb, model.mats[k], d4, Z, True, ssx)
        ck = model.const[k]
        for b in range(nb):
            lp[k, b] = ck - 0.5 * ssx[b]


@njit(**STAGE)
def _lp_tied(model, w, nb):
    """'tied': ``y = L^-1 (x - c)`` once per point, then ``||y - L^-1 (mu_k - c)||^2``."""
    C, d = model.vecs.shape
    d4 = model.mat.shape[0]
    for i in range(d):
        ci = model.center[i]
        for b in range(nb):
            w.D[i, b] = w.Xt[i, b] - ci
    _dots(w.D, d, nb, model.mat, d4, w.Z, True, w.ssx0)
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
    d <= 4 the register sweep (so a fit at small d never compiles the tiles)."""
    if type(model) is FullModel and model.means.shape[1] <= 4:
        return _lp_full_small
    return STAGES[type(model)]


def log_prob(model, w, nb):
    """``w.lp[:, :nb]`` for the block in ``w.Xt``: a placeholder that
    :func:`fastgmm._kernels.drivers.for_model` replaces by the model type's stage."""
    raise NotImplementedError("log_prob is bound to a stage by drivers.for_model")
