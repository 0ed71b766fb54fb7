"""A block's work arrays and loading rows into them."""

import numpy as np
from numba import njit

from .._config import INNER, JIT, STAGE
from .models import Work
from .tiles import OUTER_ROWS, TILE_BYTES, TRANSPOSE, VECTOR_BYTES, _transpose8


@njit(**INNER)
def _work(X, C, block):
    """Work arrays for blocks of ``block`` rows of X and ``C`` components.

    Rows of the d x block arrays are padded by one register tile of ``_dots``
    (whole cache lines): with a power-of-two stride they would share a few L1 sets.
    Zero-filled where a tile reads past the block's last point or features.
    """
    d = X.shape[1]
    d4 = -(-d // 4) * 4
    dr = -(-d // OUTER_ROWS) * OUTER_ROWS
    dt = X.dtype
    ld = block + TILE_BYTES // X.itemsize
    # P's rows hold whole outer-product tiles: one vector, or pairs of vectors
    v = VECTOR_BYTES // X.itemsize
    ldp = v if d <= v else -(-d // (2 * v)) * 2 * v
    # log-probabilities, responsibilities and the log-sum-exp in X's dtype:
    # float32 data runs them at twice the vector width
    return Work(
        np.zeros((d4, ld), dt), np.zeros((d, ld), dt), np.zeros((d4, ld), dt), np.zeros((dr, ld), dt),
        np.zeros((block, ldp), dt), np.zeros(ldp, dt), np.zeros((block, ldp), dt), np.empty(block, np.int64),
        np.zeros((C, ld), dt), np.empty((C, ld), dt), np.empty((C, ld), dt), np.empty((C, ld), dt),
        np.ones(block), np.empty(block, dt), np.empty(block, dt),
        np.empty(block, dt), np.empty(block, dt),
        np.empty(block, np.int64), np.empty(block, np.int64), np.zeros(block, np.int64),
        np.empty(block, dt), np.empty(ld, dt), np.empty(0, dt),
        np.empty(block, dt), np.empty(block, dt), np.empty(block), np.empty(1, dt),
        np.zeros(1, dt)[0], np.ones(1, dt)[0],
    )


@njit(**STAGE)
def _load(X, sw, b0, nb, w):
    """Rows ``[b0, b0 + nb)`` of X into ``w.Xt`` (transposed) and their weights
    into ``w.w`` (``sw`` with 0 rows: unit weights, already there)."""
    d = X.shape[1]
    Xt = w.Xt
    if d == 2:  # a constant stride LLVM vectorises
        for b in range(nb):
            Xt[0, b] = X[b0 + b, 0]
            Xt[1, b] = X[b0 + b, 1]
    elif d < TRANSPOSE:  # one loop over all rows: the tiles' groups of 8 made it 2x slower
        _copy(X, Xt, b0, 0, nb, 0, d)
    else:
        _load_tiles(X, Xt, b0, nb, d)
    if sw.shape[0] > 0:
        for b in range(nb):
            w.w[b] = sw[b0 + b]


@njit(**STAGE)
def _load_tiles(X, Xt, b0, nb, d):
    """``Xt[:, :nb] = X[b0:b0 + nb].T`` (d >= 8): whole 8 x 8 tiles by
    :func:`~fastgmm._kernels.tiles._transpose8`, the ragged edges by scalars."""
    n = TRANSPOSE
    nbt = nb - nb % n
    dt = d - d % n
    for b in range(0, nbt, n):
        for i in range(0, dt, n):
            _transpose8(X, Xt, b0 + b, b, i)
        _copy(X, Xt, b0, b, b + n, dt, d)
    _copy(X, Xt, b0, nbt, nb, 0, d)


@njit(**STAGE)
def _copy(X, Xt, b0, j0, j1, i0, d):
    """``Xt[i, j] = X[b0 + j, i]`` for ``j0 <= j < j1``, ``i0 <= i < d``, one by one."""
    for j in range(j0, j1):
        for i in range(i0, d):
            Xt[i, j] = X[b0 + j, i]
