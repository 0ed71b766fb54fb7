"""Dense products in register tiles, for the full and tied stages.

``_dots`` computes ``Z = A Phi`` (A lower triangular, rows of L^-1) and the
Mahalanobis sums ``||Z||^2``, holding its partial sums in vector registers
through a Numba intrinsic that emits LLVM vector IR (:func:`_tile4`): LLVM's
loop vectoriser only vectorises the innermost loop, so loops cannot keep a 2-D
tile of sums in registers across the whole reduction. ``_second_moments``
adds ``T += RD (P - s)`` by outer-product tiles along points
(:func:`_outer1` and kin), ``_accumulate`` the same by reductions along points
for small d. ``_transpose8`` moves 8 x 8 tiles of rows into a block's
transposed work array (the load stage). Tile shapes follow the vector width
Numba targets (:data:`VECTOR_BYTES`).
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import INNER, JIT


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


def _splat(builder, value, w):
    """``value`` (a scalar) in all ``w`` lanes of a vector: a broadcast."""
    vty = ir.VectorType(value.type, w)
    i32 = ir.IntType(32)
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(i32, w), [0] * w))


def _matrices(context, builder, tys, vals):
    """Array structs of C-contiguous 2-D arguments and their row lengths."""
    arrs = [context.make_array(t)(context, builder, v) for t, v in zip(tys, vals)]
    return arrs, [cgutils.unpack_tuple(builder, a.shape, 2)[1] for a in arrs]


def _target_vector_bytes() -> int:
    """Bytes of the widest vector registers of the CPU Numba compiles for: 64
    where it targets AVX-512F (Numba's ``NUMBA_CPU_FEATURES``, else the host's),
    32 otherwise."""
    from numba.core import config
    import llvmlite.binding as ll

    if config.CPU_FEATURES is not None:
        features = config.CPU_FEATURES
    elif config.CPU_NAME is None:
        features = ll.get_host_cpu_features().flatten()
    else:
        features = ""
    return 64 if "+avx512f" in features else 32


#: width of the vector registers the tiles are written for
VECTOR_BYTES = _target_vector_bytes()
#: points per register tile of :func:`_tile4`: two vectors of X's dtype a row
#: (eight accumulators: the FMA latency times two ports needs eight; with one
#: zmm a row, AVX-512 ran at half rate); the block work arrays' rows are padded
#: by as many columns, so a tile may run past the block's last point
TILE_BYTES = 2 * VECTOR_BYTES


@intrinsic
def _tile4(typingctx, Phi, c, A, out, ss, k, b0, pend, want_ss):
    """``out[k + i, b0:b0 + W] = A[k + i, :pend] . (Phi[:pend, b0:b0 + W] -
    c[:pend])`` for i < 4 and W = ``TILE_BYTES`` of the dtype, and when ``want_ss``
    ``ss[b0:b0 + W]`` set (k = 0) or increased by the sum of the four rows'
    squares, still in registers; compiled code only.

    The 4 x W sums stay in vector registers across the whole sum over features
    (per feature: one vector load of ``Phi``'s row less a broadcast of ``c``,
    one broadcast per coefficient, 4 x W multiply-adds), and are stored once
    at the end. Centring in the tile, rather than writing ``Phi - c`` to
    memory first for each component, saves a store and a load of the block
    per component; the subtraction is the same, so are the results.

    LLVM's loop vectoriser only vectorises the innermost loop, so written as loops it
    streams ``out`` through memory for every group of features, and on AVX2
    (16 vector registers) kept part of the coefficients in memory too: 13
    loads and 4 stores per 16 FMAs, against 12 loads and no stores here.
    ``llvm.fmuladd`` (fused where the CPU has FMA), summed in feature order:
    the same result, bit for bit, as the loops it replaced.
    """
    if not (_c_arrays(2, Phi, A, out) and _c_arrays(1, c, ss)):
        return None
    if not (Phi.dtype == c.dtype == A.dtype == out.dtype == ss.dtype and Phi.dtype in (types.float32, types.float64)):
        return None
    sig = types.void(Phi, c, A, out, ss, types.intp, types.intp, types.intp, types.boolean)

    def codegen(context, builder, signature, args):
        ss_v, k, b0, pend, want_ss = args[4:]
        fty, size, w, vty, fma, zero = _vector_kit(context, builder, Phi.dtype, TILE_BYTES)
        (phi, a, o), (ldp, lda, ldo) = _matrices(
            context, builder, (signature.args[0],) + signature.args[2:4], (args[0],) + args[2:4]
        )
        cv = context.make_array(signature.args[1])(context, builder, args[1])
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(4)]  # promoted to registers
        rows = [builder.add(k, ir.Constant(k.type, i)) for i in range(4)]
        arows = [builder.mul(r, lda) for r in rows]
        with cgutils.for_range(builder, pend) as loop:
            p = loop.index
            src = builder.gep(phi.data, [builder.add(builder.mul(p, ldp), b0)])
            u = builder.load(builder.bitcast(src, vty.as_pointer()), align=size)
            u = builder.fsub(u, _splat(builder, builder.load(builder.gep(cv.data, [p])), w))
            for i in range(4):
                coef = builder.load(builder.gep(a.data, [builder.add(arows[i], p)]))
                builder.store(builder.call(fma, [_splat(builder, coef, w), u, builder.load(accs[i])]), accs[i])
        z = [builder.load(acc) for acc in accs]
        for i in range(4):
            dst = builder.gep(o.data, [builder.add(builder.mul(rows[i], ldo), b0)])
            builder.store(z[i], builder.bitcast(dst, vty.as_pointer()), align=size)
        with builder.if_then(want_ss):
            sq = builder.fadd(
                builder.call(fma, [z[1], z[1], builder.fmul(z[0], z[0])]),
                builder.call(fma, [z[3], z[3], builder.fmul(z[2], z[2])]),
            )
            sv = context.make_array(signature.args[4])(context, builder, ss_v)
            dst = builder.bitcast(builder.gep(sv.data, [b0]), vty.as_pointer())
            old = builder.select(
                builder.icmp_signed("==", k, ir.Constant(k.type, 0)), zero, builder.load(dst, align=size)
            )
            builder.store(builder.fadd(old, sq), dst, align=size)
        return context.get_dummy_value()

    return sig, codegen


#: bytes of a block's Phi above which :func:`_dots` runs point tiles outermost
#: (at d = 32-64 in float64 the pass without statistics 9-14% faster; float32
#: at d = 32, 37 KiB, ran slower so: docs/performance.md, 2026-12-03)
PHI_IN_L1 = 40 * 1024


@njit(**INNER)
def _dots(Phi, c, F, nb, A, C4, out, tri, ss):
    """``out[k, b] = A[k, :F] . (Phi[:F, b] - c[:F])`` for k < C4 (a multiple of 4), and
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
    if F * nb * Phi.itemsize > PHI_IN_L1:  # points outer: a tile's column of Phi stays in L1
        for b0 in range(0, nb, w):
            for k in range(0, C4, 4):
                _tile4(Phi, c, A, out, ss, k, b0, min(F, k + 4) if tri else F, want_ss)
    else:
        for k in range(0, C4, 4):
            pend = min(F, k + 4) if tri else F
            for b0 in range(0, nb, w):
                _tile4(Phi, c, A, out, ss, k, b0, pend, want_ss)


@njit(**INNER)
def _accumulate(Phi, F, nb, RW, C4, T, tri, zero):
    """``T[k, p] += RW[k, :nb] . Phi[p, :nb]`` for k < C4, p < F.

    Blocks of 4 rows of ``RW`` x 2 rows of ``Phi``, reduced along points (eight
    accumulators: as many as LLVM keeps in registers without spilling).
    ``tri``: only the lower triangle (p <= k, by row groups) is needed.
    ``zero`` is a 0 of Phi's dtype: block sums of float32 run in float32.
    Used where :func:`fastgmm._kernels.accumulate._by_tiles` says no: below
    64 bytes of features (vectors along points stay full there) and for one
    vector and a ragged part; elsewhere :func:`_second_moments` is faster.
    """
    for k in range(0, C4, 4):
        pend = min(F, k + 4) if tri else F
        for p in range(0, pend, 2):
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


#: rows of an outer-product tile: 8 rows x 1-2 vectors of sums fill 16-24 of
#: AVX-512's 32 registers and cover its FMA latency; AVX2 has 16 registers
OUTER_ROWS = 8 if VECTOR_BYTES == 64 else 4


def _masked(builder, vty):
    """LLVM's masked load and store of ``vty`` through a ``double*``."""
    n = vty.count
    pty = vty.element.as_pointer()
    i1v = ir.VectorType(ir.IntType(1), n)
    i32 = ir.IntType(32)
    load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [pty, i32, i1v, vty]), f"llvm.masked.load.v{n}f64.p0"
    )
    store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vty, pty, i32, i1v]), f"llvm.masked.store.v{n}f64.p0"
    )
    return load, store


def _make_outer(nbytes: int, vectors: int):
    """An outer-product tile of ``OUTER_ROWS`` rows by ``vectors`` vectors of
    ``nbytes`` (:func:`_outer_half`, :func:`_outer1`, :func:`_outer2`)."""

    @intrinsic
    def outer(typingctx, P, s, RD, T, nb, i0, j0):
        """``T[i0 + r, j0:j0 + J] += sum_b RD[i0 + r, b] * (P[b, j0:j0 + J] -
        s[j0:j0 + J])`` for r < ``OUTER_ROWS``, rows of ``T`` only, columns
        ``< T.shape[1]`` only; J = the tile's columns; compiled code only.

        The sums over points stay in vector registers (per point: the tile's
        vector loads of ``P``'s row, a subtraction each, one broadcast of
        ``RD`` per row, rows x vectors multiply-adds) and are added to ``T``
        (float64) once: no horizontal reductions, as a product of two
        transposed blocks needs. ``P``'s rows and ``s`` must hold J columns
        past ``j0``; ``RD`` must have ``i0 + OUTER_ROWS`` rows.
        """
        if not (_c_arrays(2, P, RD, T) and _c_arrays(1, s) and T.dtype == types.float64):
            return None
        if not (P.dtype == RD.dtype == s.dtype and P.dtype in (types.float32, types.float64)):
            return None
        sig = types.void(P, s, RD, T, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            nb, i0, j0 = args[4:]
            fty, size, w, vty, fma, zero = _vector_kit(context, builder, P.dtype, nbytes)
            i32 = ir.IntType(32)
            (p, rd, t), (ldp, ldr, ldt) = _matrices(
                context, builder, (signature.args[0],) + signature.args[2:4], (args[0],) + args[2:4]
            )
            sv = context.make_array(signature.args[1])(context, builder, args[1])
            mus = []
            for v in range(vectors):
                src = builder.gep(sv.data, [builder.add(j0, ir.Constant(j0.type, v * w))])
                mus.append(builder.load(builder.bitcast(src, vty.as_pointer()), align=size))
            trows = cgutils.unpack_tuple(builder, t.shape, 2)[0]
            R = OUTER_ROWS
            accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(vectors)] for _ in range(R)]
            rdrows = [builder.mul(builder.add(i0, ir.Constant(i0.type, r)), ldr) for r in range(R)]
            with cgutils.for_range(builder, nb) as loop:
                b = loop.index
                row = builder.add(builder.mul(b, ldp), j0)
                us = []
                for v in range(vectors):
                    src = builder.gep(p.data, [builder.add(row, ir.Constant(row.type, v * w))])
                    u = builder.load(builder.bitcast(src, vty.as_pointer()), align=size)
                    us.append(builder.fsub(u, mus[v]))
                for r in range(R):
                    c = builder.load(builder.gep(rd.data, [builder.add(rdrows[r], b)]))
                    cv = _splat(builder, c, w)
                    for v in range(vectors):
                        builder.store(builder.call(fma, [cv, us[v], builder.load(accs[r][v])]), accs[r][v])
            dty = ir.DoubleType()
            dvty = ir.VectorType(dty, w)
            mload, mstore = _masked(builder, dvty)
            dzero = ir.Constant(dvty, [ir.Constant(dty, 0.0)] * w)
            lane_ids = ir.Constant(ir.VectorType(ir.IntType(64), w), list(range(w)))
            for r in range(R):
                ti = builder.add(i0, ir.Constant(i0.type, r))
                with builder.if_then(builder.icmp_signed("<", ti, trows)):
                    for v in range(vectors):
                        z = builder.load(accs[r][v])
                        if size != 8:
                            z = builder.fpext(z, dvty)
                        col = builder.add(j0, ir.Constant(j0.type, v * w))
                        at = builder.add(builder.mul(ti, ldt), col)
                        room = builder.sub(ldt, col)
                        # columns past T's row are masked off (lanes >= room)
                        mask = builder.icmp_signed("<", lane_ids, _splat(builder, room, w))
                        dst = builder.gep(t.data, [at])
                        old = builder.call(mload, [dst, ir.Constant(i32, 8), mask, dzero])
                        builder.call(mstore, [builder.fadd(old, z), dst, ir.Constant(i32, 8), mask])
            return context.get_dummy_value()

        return sig, codegen

    return outer


_outer_half = _make_outer(VECTOR_BYTES // 2, 1)
_outer1 = _make_outer(VECTOR_BYTES, 1)
_outer2 = _make_outer(VECTOR_BYTES, 2)


@njit(**INNER)
def _second_moments(P, s, RD, d, nb, T):
    """The lower triangle of ``T += RD[:d, :nb] (P[:nb, :d] - s)`` (``P``
    row-major: points by features, ``RD`` transposed: features by points), by
    outer-product tiles of ``OUTER_ROWS`` rows: along each group of rows,
    tiles of two vectors (:func:`_outer2`) while more than one vector of
    columns is left, then one (:func:`_outer1`) or half of one
    (:func:`_outer_half`), so the tiles cover the triangle to within half a
    vector. Strips of two vectors of columns are the outer loop, so a strip
    of ``P`` stays in L1 while the row groups below it stream their rows of
    ``RD`` (on Zen 3 level with row groups outer, within the noise:
    docs/performance.md). The tiles, and so the sums, are the same in either
    order."""
    w = VECTOR_BYTES // P.itemsize
    h = w // 2
    R = OUTER_ROWS
    for j0 in range(0, d, 2 * w):
        for i0 in range(j0 - j0 % R, d, R):
            m = min(d, i0 + R) - j0
            if m > w:
                _outer2(P, s, RD, T, nb, i0, j0)
            elif m > h:
                _outer1(P, s, RD, T, nb, i0, j0)
            else:
                _outer_half(P, s, RD, T, nb, i0, j0)


#: rows and columns of the square tiles :func:`_transpose8` moves
TRANSPOSE = 8


def _transpose_masks(h: int, n: int):
    """Shuffle masks of one butterfly stage of an ``n x n`` transpose: rows
    ``p`` and ``q = p | h`` swap their off-diagonal ``h x h`` blocks."""
    low = [c if c & h == 0 else n + c - h for c in range(n)]
    high = [c + h if c & h == 0 else n + c for c in range(n)]
    return low, high


@intrinsic
def _transpose8(typingctx, X, Xt, r, b, i):
    """``Xt[i + c, b + j] = X[r + j, i + c]`` for j, c < 8: one 8 x 8 tile of a
    row-major block into the transposed work array, by 8 vector loads, three
    stages of 8 two-vector shuffles and 8 vector stores (the scalar loop's
    strided stores made loading a block as slow as its log-probabilities for
    diag at d = 16 in float32); compiled code only."""
    if not (_c_arrays(2, X, Xt) and X.dtype == Xt.dtype and X.dtype in (types.float32, types.float64)):
        return None
    sig = types.void(X, Xt, types.intp, types.intp, types.intp)
    n = TRANSPOSE

    def codegen(context, builder, signature, args):
        r, b, i = args[2:]
        fty = context.get_value_type(X.dtype)
        size = context.get_abi_sizeof(fty)
        vty = ir.VectorType(fty, n)
        i32 = ir.IntType(32)
        (x, xt), (ldx, ldt) = _matrices(context, builder, signature.args[:2], args[:2])
        rows = []
        for j in range(n):
            src = builder.gep(x.data, [builder.add(builder.mul(builder.add(r, ir.Constant(r.type, j)), ldx), i)])
            rows.append(builder.load(builder.bitcast(src, vty.as_pointer()), align=size))
        h = n // 2
        while h >= 1:
            low, high = _transpose_masks(h, n)
            for p in range(n):
                if p & h == 0:
                    q = p | h
                    a, c = rows[p], rows[q]
                    rows[p] = builder.shuffle_vector(a, c, ir.Constant(ir.VectorType(i32, n), low))
                    rows[q] = builder.shuffle_vector(a, c, ir.Constant(ir.VectorType(i32, n), high))
            h //= 2
        for c in range(n):
            dst = builder.gep(xt.data, [builder.add(builder.mul(builder.add(i, ir.Constant(i.type, c)), ldt), b)])
            builder.store(rows[c], builder.bitcast(dst, vty.as_pointer()), align=size)
        return context.get_dummy_value()

    return sig, codegen
