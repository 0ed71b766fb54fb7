"""The fused pass over X: one kernel serves every covariance type and every use.

``_chunk_pass`` walks rows ``[start, stop)`` of X in blocks of ``block`` rows,
copied transposed (d x B) so that every inner loop runs along points and
vectorises. Per block:

1. E-step, per component: the rows minus the component's mean, ``D = x - mu_k``,
   then ``Z = L_k^-1 D`` by :func:`_dots` (triangular; register tiles of 4
   rows x 64 bytes of points, :func:`_tile4`) and the Mahalanobis term ``||Z||^2``.
   For d <= 4 (full) one sweep along points does all of it in registers
   (:func:`_lp_small`). 'tied' applies the shared factor once per point to
   ``x - c`` and subtracts ``L^-1 (mu_k - c)``; 'diag'/'spherical' compute
   ``t = a x - b`` per feature by one fused multiply-add (``a`` the square
   root of the precision, ``b = a mu`` rounded once: ``t = a (x - b/a)``).
2. One exp per point and component (``_exp_block``, a branch-free polynomial)
   and one log per point (``_log_block``): a log-sum-exp that subtracts the
   maximum, the responsibilities and the point's log-likelihood, all in
   branch-free sweeps along points.
3. Optional outputs: responsibilities, per-point log-likelihoods, labels.
4. M-step statistics in float64: ``N_k``, ``sum r w (x - s_k)`` and
   ``sum r w (x - s_k)(x - s_k)^T`` around a per-component shift ``s_k`` (the
   current means), lower triangle only, by :func:`_accumulate`. Second moments
   taken around each component's own mean keep tight components exact wherever
   they sit. 'tied' pools one second moment around the centre ``c``. For d <= 4
   (full) the sums stay in registers (:func:`_moments_small`). 'diag' and
   'spherical' take their moments of ``t`` around ``b/a`` when no shift is
   given (0 rows), which is exact for the same reason; 'spherical' then needs
   only ``sum r ||t||^2``, the E-step's own sums, for its second moment.

Nothing of size N x C is allocated unless the caller passes ``resp_out``.
"""


import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .._config import JIT

FULL = 0
TIED = 1
DIAG = 2
SPHER = 3

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634


@njit(**JIT)
def _exp64(t, m, out, acc, bits, n):
    """``out[:n] = exp(t[:n] - m[:n])`` for ``t <= m``, and ``acc[:n] += out[:n]``;
    0 below -708 (and for NaN).

    Range reduction by ln 2, a degree-12 Taylor polynomial on |r| <= ln2/2
    evaluated by Estrin's scheme (a chain of 5 dependent multiply-adds instead
    of Horner's 12: the loop was latency-bound), and 2^k built from its
    exponent bits in ``bits`` (an int64 buffer viewed as float64; k converted
    through int32, which AVX2 does in vectors, where an int64 conversion is
    scalar): relative error within (4 + |t|) ulp (fastmath reassociation
    may fold the two-constant reduction; tested), two branch-free loops
    without a libm call,
    measured 2.5x faster than ``np.exp`` per element here (``t`` may be
    ``out``, but that halves the speed). The subtraction and the sum ride along
    in the two loops: no sweep of their own.
    """
    for i in range(n):
        x = t[i] - m[i]
        ok = x >= -708.0
        xc = x if ok else 0.0
        k = np.floor(xc * _LOG2E + 0.5)
        r = (xc - k * _LN2_HI) - k * _LN2_LO
        # Estrin's scheme: a dependency chain of 5 multiply-adds, not 12
        r2 = r * r
        r4 = r2 * r2
        q0 = (1.0 + r) + r2 * (0.5 + r * (1.0 / 6))
        q1 = (1.0 / 24 + r * (1.0 / 120)) + r2 * (1.0 / 720 + r * (1.0 / 5040))
        q2 = (1.0 / 40320 + r * (1.0 / 362880)) + r2 * (1.0 / 3628800 + r * (1.0 / 39916800))
        out[i] = (q0 + r4 * q1) + (r4 * r4) * (q2 + r4 * (1.0 / 479001600))
        # via int32: AVX2 converts doubles to int32 in vectors, not to int64
        bits[i] = ((np.int64(np.int32(k)) + 1023) << 52) if ok else 0
    scale = bits.view(np.float64)
    for i in range(n):
        v = out[i] * scale[i]
        out[i] = v
        acc[i] += v


_SQRT2 = 1.4142135623730951
_LN2 = 0.6931471805599453


@njit(**JIT)
def _log64(s, out, bits, n):
    """``out[:n] = log(s[:n])`` for finite ``s > 0`` (here sums of exps in [1, C]).

    Exponent and mantissa from the bits (``s`` viewed as int64), the mantissa
    folded into [sqrt(1/2), sqrt(2)), then ``2 atanh(t)`` as an odd series in
    ``t = (m - 1)/(m + 1)``: within 1 ulp here, 3x faster than libm's ``log``.
    ``s`` must not be ``out``.
    """
    sb = s.view(np.int64)
    for i in range(n):
        b = sb[i]
        bits[i] = (b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
        out[i] = np.float64((b >> 52) - 1023)
    m = bits.view(np.float64)
    for i in range(n):
        mi = m[i]
        big = mi > _SQRT2
        mi = mi * 0.5 if big else mi
        e = out[i] + (1.0 if big else 0.0)
        t = (mi - 1.0) / (mi + 1.0)
        t2 = t * t
        p = 1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 * (
            1.0 / 11 + t2 * (1.0 / 13 + t2 * (1.0 / 15 + t2 * (1.0 / 17 + t2 * (
                1.0 / 19 + t2 * (1.0 / 21))))))))))
        out[i] = e * _LN2 + 2.0 * t * p


_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_F2 = np.float32(2.0)
_FHALF = np.float32(0.5)
_FLOG2E = np.float32(1.4426950408889634)
_FLN2_HI = np.float32(0.693359375)  # exact in float32, 9 bits
_FLN2_LO = np.float32(-2.12194440e-4)
_FLN2 = np.float32(0.6931471805599453)
_FSQRT2 = np.float32(1.4142135623730951)
_FMIN = np.float32(-87.0)
_FC = [np.float32(1.0 / v) for v in (2, 6, 24, 120, 720, 5040)]
_FC2, _FC3, _FC4, _FC5, _FC6, _FC7 = _FC
_FL = [np.float32(1.0 / v) for v in (3, 5, 7, 9)]
_FL3, _FL5, _FL7, _FL9 = _FL


@njit(**JIT)
def _exp32(t, m, out, acc, bits, n):
    """float32 :func:`_exp64`: degree-7 polynomial (about 1 ulp), 2^k from
    int32 exponent bits (``bits`` is an int64 buffer of at least n/2); 0
    below -87."""
    b32 = bits.view(np.int32)
    for i in range(n):
        x = t[i] - m[i]
        ok = x >= _FMIN
        xc = x if ok else _F0
        k = np.floor(xc * _FLOG2E + _FHALF)
        r = (xc - k * _FLN2_HI) - k * _FLN2_LO
        r2 = r * r
        out[i] = ((_F1 + r) + r2 * (_FC2 + r * _FC3)) + (r2 * r2) * ((_FC4 + r * _FC5) + r2 * (_FC6 + r * _FC7))
        b32[i] = ((np.int32(k) + np.int32(127)) << np.int32(23)) if ok else np.int32(0)
    scale = b32.view(np.float32)
    for i in range(n):
        v = out[i] * scale[i]
        out[i] = v
        acc[i] += v


@njit(**JIT)
def _log32(s, out, bits, n):
    """float32 :func:`_log64` (series to t^9: within about 1 ulp)."""
    sb = s.view(np.int32)
    b32 = bits.view(np.int32)
    for i in range(n):
        b = sb[i]
        b32[i] = (b & np.int32(0x007FFFFF)) | np.int32(0x3F800000)
        out[i] = np.float32((b >> np.int32(23)) - np.int32(127))
    m = b32.view(np.float32)
    for i in range(n):
        mi = m[i]
        big = mi > _FSQRT2
        mi = mi * _FHALF if big else mi
        e = out[i] + (_F1 if big else _F0)
        t = (mi - _F1) / (mi + _F1)
        t2 = t * t
        p = _F1 + t2 * (_FL3 + t2 * (_FL5 + t2 * (_FL7 + t2 * _FL9)))
        out[i] = e * _FLN2 + _F2 * t * p


def _exp_block(t, m, out, acc, bits, n):
    """``out[:n] = exp(t[:n] - m[:n]); acc[:n] += out[:n]`` in the arrays' dtype (:func:`_exp64`,
    :func:`_exp32`); callable from compiled code only."""
    raise NotImplementedError("_exp_block is compiled code only")


def _log_block(s, out, bits, n):
    """``out[:n] = log(s[:n])`` in the arrays' dtype (:func:`_log64`,
    :func:`_log32`); callable from compiled code only."""
    raise NotImplementedError("_log_block is compiled code only")


@overload(_exp_block, jit_options=JIT)
def _exp_block_impl(t, m, out, acc, bits, n):
    if t.dtype == types.float32:
        return lambda t, m, out, acc, bits, n: _exp32(t, m, out, acc, bits, n)
    return lambda t, m, out, acc, bits, n: _exp64(t, m, out, acc, bits, n)


@overload(_log_block, jit_options=JIT)
def _log_block_impl(s, out, bits, n):
    if s.dtype == types.float32:
        return lambda s, out, bits, n: _log32(s, out, bits, n)
    return lambda s, out, bits, n: _log64(s, out, bits, n)


def _c_arrays(ndim, *tys) -> bool:
    """Typing check of the tile intrinsics: C-contiguous arrays of ``ndim``."""
    return all(isinstance(t, types.Array) and t.ndim == ndim and t.layout == "C" for t in tys)


def _vector_kit(context, builder, dtype, nbytes):
    """LLVM pieces of a tile intrinsic for ``nbytes``-wide vectors of ``dtype``:
    ``(element type, its size, lanes, vector type, llvm.fmuladd on it, zero vector)``."""
    fty = context.get_value_type(dtype)
    size = context.get_abi_sizeof(fty)
    w = nbytes // size
    vty = ir.VectorType(fty, w)
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty] * 3), f"llvm.fmuladd.v{w}f{8 * size}"
    )
    return fty, size, w, vty, fma, ir.Constant(vty, [ir.Constant(fty, 0.0)] * w)


def _matrices(context, builder, tys, vals):
    """Array structs of C-contiguous 2-D arguments and their row lengths."""
    arrs = [context.make_array(t)(context, builder, v) for t, v in zip(tys, vals)]
    return arrs, [cgutils.unpack_tuple(builder, a.shape, 2)[1] for a in arrs]


#: points per register tile of :func:`_tile4`: 64 bytes of X's dtype (8 float64,
#: 16 float32), two ymm registers per row on AVX2; the block work arrays' rows
#: are padded by as many columns, so a tile may run past the block's last point
TILE_BYTES = 64


@intrinsic
def _tile4(typingctx, Phi, A, out, ss, k, b0, pend, want_ss):
    """``out[k + i, b0:b0 + W] = A[k + i, :pend] . Phi[:pend, b0:b0 + W]`` for
    i < 4 and W = ``TILE_BYTES`` of the dtype, and when ``want_ss``
    ``ss[b0:b0 + W]`` set (k = 0) or increased by the sum of the four rows'
    squares, still in registers; compiled code only.

    The 4 x W sums stay in vector registers across the whole sum over features
    (per feature: one vector load of ``Phi``'s row, one broadcast per
    coefficient, 4 x W multiply-adds), and are stored once at the end. LLVM's
    loop vectoriser only vectorises the innermost loop, so written as loops it
    streams ``out`` through memory for every group of features, and on AVX2
    (16 vector registers) kept part of the coefficients in memory too: 13
    loads and 4 stores per 16 FMAs, against 12 loads and no stores here.
    ``llvm.fmuladd`` (fused where the CPU has FMA), summed in feature order:
    the same result, bit for bit, as the loops it replaced.
    """
    if not (_c_arrays(2, Phi, A, out) and _c_arrays(1, ss)):
        return None
    if not (Phi.dtype == A.dtype == out.dtype == ss.dtype and Phi.dtype in (types.float32, types.float64)):
        return None
    sig = types.void(Phi, A, out, ss, types.intp, types.intp, types.intp, types.boolean)

    def codegen(context, builder, signature, args):
        ss_v, k, b0, pend, want_ss = args[3:]
        fty, size, w, vty, fma, zero = _vector_kit(context, builder, Phi.dtype, TILE_BYTES)
        i32 = ir.IntType(32)
        (phi, a, o), (ldp, lda, ldo) = _matrices(context, builder, signature.args[:3], args[:3])
        undef = ir.Constant(vty, ir.Undefined)
        splat = ir.Constant(ir.VectorType(i32, w), [0] * w)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(4)]  # promoted to registers
        rows = [builder.add(k, ir.Constant(k.type, i)) for i in range(4)]
        arows = [builder.mul(r, lda) for r in rows]
        with cgutils.for_range(builder, pend) as loop:
            p = loop.index
            src = builder.gep(phi.data, [builder.add(builder.mul(p, ldp), b0)])
            u = builder.load(builder.bitcast(src, vty.as_pointer()), align=size)
            for i in range(4):
                c = builder.load(builder.gep(a.data, [builder.add(arows[i], p)]))
                cv = builder.shuffle_vector(builder.insert_element(undef, c, ir.Constant(i32, 0)), undef, splat)
                builder.store(builder.call(fma, [cv, u, builder.load(accs[i])]), accs[i])
        z = [builder.load(acc) for acc in accs]
        for i in range(4):
            dst = builder.gep(o.data, [builder.add(builder.mul(rows[i], ldo), b0)])
            builder.store(z[i], builder.bitcast(dst, vty.as_pointer()), align=size)
        with builder.if_then(want_ss):
            sq = builder.fadd(
                builder.call(fma, [z[1], z[1], builder.fmul(z[0], z[0])]),
                builder.call(fma, [z[3], z[3], builder.fmul(z[2], z[2])]),
            )
            sv = context.make_array(signature.args[3])(context, builder, ss_v)
            dst = builder.bitcast(builder.gep(sv.data, [b0]), vty.as_pointer())
            old = builder.select(
                builder.icmp_signed("==", k, ir.Constant(k.type, 0)), zero, builder.load(dst, align=size)
            )
            builder.store(builder.fadd(old, sq), dst, align=size)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _dots(Phi, F, nb, A, C4, out, tri, ss):
    """``out[k, b] = A[k, :F] . Phi[:F, b]`` for k < C4 (a multiple of 4), and
    ``ss[b] = sum_k out[k, b]^2`` when ``ss`` has rows (summed while each tile
    is still in registers).

    Four output rows at a time, in register tiles of ``TILE_BYTES`` of points
    (:func:`_tile4`; ``_dots`` 23-25% and the whole pass 3-7% faster at
    d >= 32 than the sweeps of four feature rows along points it replaced). ``Phi``'s and
    ``out``'s rows and ``ss`` must have ``TILE_BYTES`` of padding past ``nb``. ``tri``:
    ``A`` is lower triangular, so row group k stops at column k + 3.
    """
    w = TILE_BYTES // Phi.itemsize
    want_ss = ss.shape[0] > 0
    for k in range(0, C4, 4):
        pend = min(F, k + 4) if tri else F
        for b0 in range(0, nb, w):
            _tile4(Phi, A, out, ss, k, b0, pend, want_ss)


#: bytes per vector accumulator of :func:`_acc_tile`: one ymm register, so that
#: its 12 accumulators, 3 rows of ``Phi`` and one of ``RW`` fit AVX2's 16
ACC_BYTES = 32


@intrinsic
def _acc_tile(typingctx, Phi, RW, T, k, p, nv):
    """``T[k + i, p + j] += RW[k + i, :n] . Phi[p + j, :n]`` for i < 4, j < 3
    and n = ``nv`` vectors of ``ACC_BYTES``; compiled code only.

    Twelve vector accumulators (4 x 3) against the loops' eight (4 x 2, which
    is as many as LLVM keeps without spilling, and exactly the FMA latency
    times its throughput on Zen 3): 7 loads per 12 multiply-adds. Each sum is
    reduced across lanes by pairwise halving (a fixed order), in the arrays'
    dtype, then added to the float64 ``T``. Reads ``nv`` whole vectors, so
    ``RW`` must be zero past the last point up to that boundary.
    """
    if not _c_arrays(2, Phi, RW, T):
        return None
    if not (Phi.dtype == RW.dtype and Phi.dtype in (types.float32, types.float64) and T.dtype == types.float64):
        return None
    sig = types.void(Phi, RW, T, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        k, p, nv = args[3:]
        fty, size, w, vty, fma, zero = _vector_kit(context, builder, Phi.dtype, ACC_BYTES)
        dty = ir.DoubleType()
        (phi, rw, t), (ldp, ldr, ldt) = _matrices(context, builder, signature.args[:3], args[:3])
        prow = [builder.add(p, ir.Constant(p.type, j)) for j in range(3)]
        rrow = [builder.add(k, ir.Constant(k.type, i)) for i in range(4)]
        pbase = [builder.gep(phi.data, [builder.mul(r, ldp)]) for r in prow]
        rbase = [builder.gep(rw.data, [builder.mul(r, ldr)]) for r in rrow]
        accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(3)] for _ in range(4)]
        with cgutils.for_range(builder, nv) as loop:
            off = builder.mul(loop.index, ir.Constant(p.type, w))
            u = [builder.load(builder.bitcast(builder.gep(b, [off]), vty.as_pointer()), align=size) for b in pbase]
            for i in range(4):
                r = builder.load(builder.bitcast(builder.gep(rbase[i], [off]), vty.as_pointer()), align=size)
                for j in range(3):
                    builder.store(builder.call(fma, [r, u[j], builder.load(accs[i][j])]), accs[i][j])
        i32 = ir.IntType(32)
        for i in range(4):
            for j in range(3):
                v = builder.load(accs[i][j])
                n = w
                while n > 1:  # pairwise halving: a fixed order
                    n //= 2
                    lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, n), list(range(n))))
                    hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, n), list(range(n, 2 * n))))
                    v = builder.fadd(lo, hi)
                sval = builder.extract_element(v, ir.Constant(i32, 0))
                if fty != dty:
                    sval = builder.fpext(sval, dty)
                ptr = builder.gep(t.data, [builder.add(builder.mul(rrow[i], ldt), prow[j])])
                builder.store(builder.fadd(builder.load(ptr), sval), ptr)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _accumulate(Phi, F, nb, RW, C4, T, tri, zero):
    """``T[k, p] += RW[k, :nb] . Phi[p, :nb]`` for k < C4, p < F.

    Tiles of 4 rows of ``RW`` x 3 rows of ``Phi`` (:func:`_acc_tile`;
    ``_accumulate`` 18% faster at d = 64 and 4% at d = 32 alone, the pass 2-7%
    at d >= 16 on the Zen 3 host), the last one or two rows of a row group by
    loops of 4 x 2 reductions along points. The tiles read whole vectors:
    ``RW``'s rows are zeroed from ``nb`` up to the next multiple of
    ``ACC_BYTES`` of points (they must be that long).
    ``tri``: only the lower triangle (p <= k, by row groups) is needed.
    ``zero`` is a 0 of Phi's dtype: block sums of float32 run in float32.
    """
    w = ACC_BYTES // Phi.itemsize
    nv = -(-nb // w)
    for k in range(C4):
        for b in range(nb, nv * w):
            RW[k, b] = 0.0
    for k in range(0, C4, 4):
        pend = min(F, k + 4) if tri else F
        p = 0
        while p + 3 <= pend:
            _acc_tile(Phi, RW, T, k, p, nv)
            p += 3
        if p < pend:  # one or two columns left: by loops
            q = p + 1 if p + 1 < pend else p
            a00 = zero
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


@njit(**JIT)
def _moments_small(Xt, d, nb, rw, s, s1, s2, zero):
    """``s1 += sum rw (x - s)`` and the lower triangle of ``s2 += sum rw (x -
    s)(x - s)^T`` for ``d <= 4`` (full): one sweep along points with the sums
    in registers; variants and padding as in :func:`_lp_small`."""
    x0 = Xt[0]
    x1 = Xt[1]
    c0 = s[0]
    c1 = s[1] if d > 1 else zero
    a0 = zero
    a1 = zero
    q00 = zero
    q10 = zero
    q11 = zero
    if d <= 2:
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
        x2 = Xt[2]
        x3 = Xt[3]
        c2 = s[2]
        c3 = s[3] if d > 3 else zero
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
        s1[2] += a2
        s2[2, 0] += q20
        s2[2, 1] += q21
        s2[2, 2] += q22
        if d > 3:
            s1[3] += a3
            s2[3, 0] += q30
            s2[3, 1] += q31
            s2[3, 2] += q32
            s2[3, 3] += q33
    s1[0] += a0
    s2[0, 0] += q00
    if d > 1:
        s1[1] += a1
        s2[1, 0] += q10
        s2[1, 1] += q11


@njit(**JIT)
def _transpose(X, b0, nb, d, Xt):
    """``Xt[:d, :nb] = X[b0:b0 + nb].T`` (d = 2 by a loop LLVM vectorises)."""
    if d == 2:
        for b in range(nb):
            Xt[0, b] = X[b0 + b, 0]
            Xt[1, b] = X[b0 + b, 1]
    else:
        for b in range(nb):
            for i in range(d):
                Xt[i, b] = X[b0 + b, i]


@njit(**JIT)
def _chunk_pass(
    kind, X, start, stop, sw, mats, vecs, means, const, shift, center,
    resp_in, lab_in, resp_out, ll_out, lab_out, want_stats, want_ecl, block,
    nk, s1, s2,
):
    """Serial pass over rows ``[start, stop)`` (see the module docstring).

    Parameters (all C-contiguous): ``mats`` (K, d4, d) the lower-triangular
    ``L^-1`` per component ('full'; one for 'tied'; K = 0 for 'diag'), rows
    padded with zeros to d4 (d rounded up to 4); ``vecs``: 'tied' (C, d)
    ``L^-1 (mu_k - c)``, 'diag'/'spherical' (2C, d) the square roots ``a`` of
    the precisions over ``b = a mu``; ``means`` (C, d); ``shift`` (C, d) the
    points the statistics are taken around ('diag'/'spherical': 0 rows for
    ``b/a``); ``center`` (d,). These,
    X, ``resp_in`` and ``resp_out`` share X's dtype. ``sw``, ``const`` (C,
    ``log w_k + log|L_k^-1| - d log(2 pi)/2``) and ``ll_out`` are float64,
    ``lab_in`` int32, ``lab_out`` int64. An optional input or output has 0 rows.

    Accumulates into float64 ``nk`` (C,), ``s1`` (C, d) and ``s2``: (C, d4, d)
    lower triangles for 'full', (1, d4, d) pooled around ``center`` for 'tied',
    (C, 1, d) per feature for 'diag' and 'spherical' (whose sum over features
    may sit in the first column). Returns ``(ll_sum, ecl_sum, worst_ll,
    worst_index, entropy_sum)`` (the entropy of the responsibilities when
    ``want_ecl`` and the pass computes them, else 0).

    Serial and ``nogil``: :func:`fastgmm.stats.run_pass` runs fixed chunks of
    rows on a thread pool and sums their accumulators in chunk order; a dask
    task calls it on a block.
    """
    d = X.shape[1]
    C = const.shape[0]
    d4 = -(-d // 4) * 4
    have_resp = resp_in.shape[0] > 0
    have_lab = lab_in.shape[0] > 0
    given = have_resp or have_lab  # responsibilities given, not computed
    need_lp = (not given) or want_ecl
    have_w = sw.shape[0] > 0
    # 'diag'/'spherical' with no shift given: statistics around the E-step's b/a
    implicit = kind >= DIAG and shift.shape[0] == 0
    # 'spherical' second moments from the E-step's sums (when it ran this pass)
    spher = kind == SPHER and implicit and need_lp
    dt = X.dtype
    # rows of the d x block work arrays are padded by one register tile of
    # _dots (one cache line): with a power-of-two stride their rows would share
    # a few L1 sets
    ld = block + TILE_BYTES // X.itemsize
    Xt = np.zeros((d4, ld), dt)  # rows d..d4 stay 0 (read by the d <= 4 path)
    D = np.zeros((d, ld), dt)  # zeros: _dots' last tile reads the padding
    Z = np.zeros((d4, ld), dt)
    RD = np.zeros((d4, ld), dt)
    # log-probabilities, responsibilities and the log-sum-exp in X's dtype:
    # float32 data runs them at twice the vector width
    lp = np.zeros((C, ld), dt)
    r = np.empty((C, ld), dt)
    e = np.empty((C, ld), dt)
    sq = np.empty((C if kind >= DIAG else 0, ld), dt)  # Mahalanobis sums per component
    rw = np.empty(block, dt)
    mx = np.empty(block, dt)
    mx2 = np.empty(block, dt)
    amx = np.empty(block, np.int64)
    amx2 = np.empty(block, np.int64)
    amz = np.zeros(block, np.int64)  # label 0, never written
    wbuf = np.empty(1, dt)
    ssum = np.empty(block, dt)
    ssx = np.empty(ld, dt)  # Mahalanobis sums in X's dtype (padded: _dots' tiles)
    ssx0 = ssx[:0].copy()  # no sums wanted (the same array type as ssx)
    zero = np.zeros(1, dt)[0]  # a 0 of X's dtype (0.0 * x would be float64)
    one = np.ones(1, dt)[0]
    bits = np.empty(block, np.int64)
    tx = np.empty(block, dt)
    logs = np.empty(block, dt)
    w = np.ones(block)
    fw = np.empty(block, dt)  # per-point factor of the statistics' weights
    need_r = resp_out.shape[0] > 0 or want_ecl
    want_lab = lab_out.shape[0] > 0  # the argmax only when labels are asked for
    ll_sum = 0.0
    ecl_sum = 0.0
    ent_sum = 0.0
    worst = np.inf
    worsti = start
    for b0 in range(start, stop, block):
        nb = min(block, stop - b0)
        _transpose(X, b0, nb, d, Xt)
        if have_w:
            for b in range(nb):
                w[b] = sw[b0 + b]
        if need_lp:
            if kind == TIED:
                # y = L^-1 (x - c) once per point, then ||y - L^-1 (mu_k - c)||^2
                for i in range(d):
                    ci = center[i]
                    for b in range(nb):
                        D[i, b] = Xt[i, b] - ci
                _dots(D, d, nb, mats[0], d4, Z, True, ssx0)
            for k in range(C):
                for b in range(nb):
                    ssx[b] = 0.0
                if kind == TIED:
                    for j in range(d):
                        yk = vecs[k, j]
                        for b in range(nb):
                            t = Z[j, b] - yk
                            ssx[b] += t * t
                elif kind >= DIAG:
                    # t = a x - b = a (x - b/a) by one fused multiply-add per
                    # feature (b = a m rounded once: the shift b/a is the mean
                    # to within one rounding), two features per sweep
                    sk = sq[k]
                    for b in range(nb):
                        sk[b] = 0.0
                    for i in range(0, d - 1, 2):
                        ai = vecs[k, i]
                        bi = vecs[C + k, i]
                        aj = vecs[k, i + 1]
                        bj = vecs[C + k, i + 1]
                        xi = Xt[i]
                        xj = Xt[i + 1]
                        for b in range(nb):
                            t = ai * xi[b] - bi
                            u = aj * xj[b] - bj
                            sk[b] += t * t + u * u
                    if d % 2 == 1:
                        ai = vecs[k, d - 1]
                        bi = vecs[C + k, d - 1]
                        xi = Xt[d - 1]
                        for b in range(nb):
                            t = ai * xi[b] - bi
                            sk[b] += t * t
                    ck = const[k]
                    for b in range(nb):
                        lp[k, b] = ck - 0.5 * sk[b]
                    continue
                elif d <= 4:
                    _lp_small(Xt, d, nb, means[k], mats[k], const[k], zero, ssx, lp[k])
                    continue
                else:
                    for i in range(d):
                        mi = means[k, i]
                        for b in range(nb):
                            D[i, b] = Xt[i, b] - mi
                    _dots(D, d, nb, mats[k], d4, Z, True, ssx)
                ck = const[k]
                for b in range(nb):
                    lp[k, b] = ck - 0.5 * ssx[b]
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
            # log-sum-exp along points: the maximum, one exp per pair, the sum.
            # The maximum over components ping-pongs between two buffers so
            # that no sweep writes the array it reads: an in-place
            # ``mx[b] = v if v > mx[b] else mx[b]`` compiles to masked stores
            # (slow on AVX2), and Python's ``max`` does not vectorise
            src = lp[0]
            asrc = amz
            for k in range(1, C):
                last = (C - 1 - k) % 2 == 0
                dst = mx2 if last else mx
                lk = lp[k]
                if want_lab:
                    adst = amx2 if last else amx
                    for b in range(nb):
                        m = src[b]
                        v = lk[b]
                        dst[b] = v if v > m else m
                        # arithmetic, not a select: a select compiled to masked loads
                        a = asrc[b]
                        adst[b] = a + np.int64(v > m) * (k - a)
                    asrc = adst
                else:
                    for b in range(nb):
                        m = src[b]
                        v = lk[b]
                        dst[b] = v if v > m else m
                src = dst
            for b in range(nb):
                ssum[b] = 0.0
                m = src[b]
                mx[b] = zero if m == -np.inf else m  # every component impossible: caught below
            for k in range(C):
                _exp_block(lp[k], mx, e[k], ssum, bits, nb)  # not in place: 2x faster
            _log_block(ssum, logs, bits, nb)
            # branch-free sweeps along points; rows whose sum is 0 (every
            # component impossible) are fixed up afterwards
            # counts, not a minimum: a min reduction does not vectorise
            # without the nnan flag, and it kept the whole sweep scalar
            nbad = 0
            nlow = 0
            wbuf[0] = worst
            wx = wbuf[0]
            wll = 0.0
            for b in range(nb):
                s = ssum[b]
                ok = s > 0.0
                lse = mx[b] + logs[b]  # loaded unconditionally (no masked loads)
                lse = lse if ok else -np.inf
                logs[b] = lse
                q = one / s
                tx[b] = q if ok else zero
                nbad += 0 if ok else 1
                nlow += 1 if lse < wx else 0
                wll += w[b] * lse
            ll_sum += wll
            # the statistics weigh e[k, b] by fw[b] = w[b] / sum_k e[k, b]:
            # the responsibilities themselves only when they are asked for
            for b in range(nb):
                fw[b] = w[b] * tx[b]
            if need_r:
                for k in range(C):
                    for b in range(nb):
                        r[k, b] = e[k, b] * tx[b]
            if nbad > 0:
                for b in range(nb):
                    if not ssum[b] > 0.0:
                        fw[b] = w[b]
                        for k in range(C):
                            r[k, b] = 1.0 / C
                            e[k, b] = 1.0 / C
            if nlow > 0:
                for b in range(nb):
                    if logs[b] < worst:
                        worst = logs[b]
                        worsti = b0 + b
            if ll_out.shape[0] > 0:
                for b in range(nb):
                    ll_out[b0 + b] = logs[b]
            if lab_out.shape[0] > 0:
                for b in range(nb):
                    lab_out[b0 + b] = asrc[b]
        if want_ecl:
            for b in range(nb):
                acc = 0.0
                for k in range(C):
                    if r[k, b] > 0.0:
                        acc += r[k, b] * lp[k, b]
                ecl_sum += w[b] * acc
                if not given:
                    # -sum_k r log r = log p(x) - sum_k r log(w_k N(x|k)), per
                    # point: exactly 0 for one component (the difference of
                    # the two totals is not)
                    ent_sum += w[b] * (logs[b] - acc)
        if resp_out.shape[0] > 0:
            for b in range(nb):
                for k in range(C):
                    resp_out[b0 + b, k] = r[k, b]
        if want_stats:
            if given:
                for b in range(nb):
                    fw[b] = w[b]
            src = r if given else e
            for k in range(C):
                tot = 0.0
                for b in range(nb):
                    v = src[k, b] * fw[b]
                    rw[b] = v
                    tot += v
                if tot == 0.0:
                    continue
                nk[k] += tot
                if kind == TIED:
                    # first moments per component around the centre
                    for i in range(d):
                        si = shift[k, i]
                        acc1 = zero
                        for b in range(nb):
                            acc1 += rw[b] * (Xt[i, b] - si)
                        s1[k, i] += acc1
                    continue
                if kind >= DIAG:
                    # moments of t = a x - b = a (x - b/a): around the E-step's
                    # shift b/a (no shift given), else a = 1 and b = the shift
                    if spher:
                        # sum_i t_i^2 is the E-step's Mahalanobis sum
                        acc2 = zero
                        sk = sq[k]
                        for b in range(nb):
                            acc2 += rw[b] * sk[b]
                        a0 = np.float64(vecs[k, 0])
                        s2[k, 0, 0] += acc2 / (a0 * a0)
                    for i in range(d):
                        ai = vecs[k, i] if implicit else one
                        bi = vecs[C + k, i] if implicit else shift[k, i]
                        acc1 = zero
                        acc2 = zero
                        if spher:
                            for b in range(nb):
                                acc1 += rw[b] * (ai * Xt[i, b] - bi)
                        else:
                            for b in range(nb):
                                t = ai * Xt[i, b] - bi
                                u = rw[b] * t
                                acc1 += u
                                acc2 += u * t
                        a64 = np.float64(ai)
                        s1[k, i] += acc1 / a64
                        if not spher:
                            s2[k, 0, i] += acc2 / (a64 * a64)
                    continue
                if d <= 4:
                    _moments_small(Xt, d, nb, rw, shift[k], s1[k], s2[k], zero)
                    continue
                for i in range(d):
                    si = shift[k, i]
                    acc1 = zero
                    for b in range(nb):
                        t = Xt[i, b] - si
                        D[i, b] = t
                        u = rw[b] * t
                        RD[i, b] = u
                        acc1 += u
                    s1[k, i] += acc1
                _accumulate(D, d, nb, RD, d4, s2[k], True, zero)
            if kind == TIED:
                for i in range(d):
                    ci = center[i]
                    for b in range(nb):
                        t = Xt[i, b] - ci
                        D[i, b] = t
                        RD[i, b] = w[b] * t
                _accumulate(D, d, nb, RD, d4, s2[0], True, zero)
    return ll_sum, ecl_sum, worst, worsti, ent_sum
