"""One place for every Numba policy: fastmath flags, caching, chunking, locking.

Kernels import their decorator options from here so that the whole package
compiles with one flag set and one cache setting.
"""

from __future__ import annotations

import os
import threading


# fastmath without ``nnan``/``ninf``: log-probabilities legitimately reach -inf and
# must stay -inf; reassociation lets LLVM vectorise the reductions over points.
FASTMATH = set({"nsz", "arcp", "contract", "afn", "reassoc"})

# ``FASTGMM_NO_CACHE=1`` turns the on-disk Numba cache off (useful when the
# package directory is read-only, or to measure cold compile time).
CACHE = os.environ.get("FASTGMM_NO_CACHE", "0").lower() in ("0", "", "false", "no")

_build_lock = threading.RLock()


def built_once(table: dict, key, build):
    """``table[key]``, made by ``build()`` the first time (under one lock, so that
    concurrent fits compile a kernel once)."""
    fn = table.get(key)
    if fn is None:
        with _build_lock:
            fn = table.get(key)
            if fn is None:
                fn = table[key] = build()
    return fn


#: options for serial kernels (also the ones dask tasks call: they release the GIL)
JIT = dict(cache=CACHE, fastmath=FASTMATH, nogil=True, error_model="numpy")
#: options for the stages that take a block's work arrays (a named tuple of
#: two dozen arrays): inlined at the Numba level, since a call that passes the
#: tuple by value (flattened to ~150 words) per block made a pass at d = 2 70%
#: slower on one thread
STAGE = dict(JIT, inline="always")
#: options for kernels called only from compiled code: no wrappers to call them
#: from Python (the wrapper of a function taking or returning the named tuples
#: boxes two dozen arrays: 0.45 s of the cold first fit)
INNER = dict(JIT, no_cpython_wrapper=True, no_cfunc_wrapper=True)
#: rows per inner block (the unit the inner loops vectorise over) are chosen so
#: that each of the block's d x rows work arrays stays near this many bytes
#: (64 KiB: at d = 64, 128-row blocks ran the pass 12% faster than 64-row ones)
BLOCK_BYTES = 64 * 1024
#: chunks a pass is cut into while they hold at most ``MAX_CHUNK_ROWS`` rows
#: (enough to keep 64 threads busy); larger passes get more chunks
TARGET_CHUNKS = 64
#: most rows per chunk: past 64 x this many rows a pass has more chunks than
#: 64, so that machines with more cores can use them all
MAX_CHUNK_ROWS = 16384
#: fewest rows worth a chunk of their own
MIN_CHUNK_ROWS = 2048
#: most rows per block
MAX_BLOCK = 1024
#: most bytes of one feature's row of a block for d > 4: 256 rows of float64,
#: 512 of float32 (with 256 float32 rows the per-loop costs of the short sweeps
#: weighed twice as much: float32 passes 5-13% slower, docs/performance.md)
MAX_ROW_BYTES = 2048
#: bytes of per-chunk accumulators one wave of chunks may hold (a pass with
#: more chunks runs them in waves, each summed into the totals in chunk order)
WAVE_BYTES = 64 * 2**20
#: most chunks per wave
MAX_WAVE = 1024


def chunk_rows(n_samples: int, n_features: int | None = None, itemsize: int = 8) -> int:
    """Rows per chunk of a pass over ``n_samples`` rows of ``n_features``
    columns of ``itemsize`` bytes (``n_features`` None: a multiple of every
    block size).

    Depends on the data's shape and dtype only, never on the thread count, so that the fixed
    order reduction of the per-chunk accumulators gives bit-identical results for
    any number of threads. Chunks hold whole blocks; the unit is no larger than
    the blocks need, so that the chunks split evenly between threads.
    """
    many = -(-n_samples // MAX_CHUNK_ROWS)
    n_chunks = max(1, min(max(TARGET_CHUNKS, many), n_samples // MIN_CHUNK_ROWS))
    rows = -(-n_samples // n_chunks)
    unit = MAX_BLOCK if n_features is None or n_features <= 4 else MAX_ROW_BYTES // itemsize
    return max(unit, -(-rows // unit) * unit)


def wave_chunks(chunk_bytes: int) -> int:
    """Chunks per wave for accumulators of ``chunk_bytes`` per chunk: as many
    as ``WAVE_BYTES`` holds, between ``TARGET_CHUNKS`` and ``MAX_WAVE`` (from
    the shape only, like the chunks)."""
    return max(TARGET_CHUNKS, min(MAX_WAVE, WAVE_BYTES // max(1, chunk_bytes)))


def block_rows(n_features: int, itemsize: int) -> int:
    """Rows per block for ``n_features`` columns of ``itemsize`` bytes: a
    divisor of ``MAX_BLOCK`` between 16 and ``MAX_ROW_BYTES`` of a feature, or
    ``MAX_BLOCK`` for d <= 4 (so chunks hold whole blocks). At d <= 4 the
    per-block work is small and 1024-row blocks halve its fixed cost; at d = 8,
    1024-row blocks of float64 made the pass 4x slower."""
    rows = BLOCK_BYTES // max(1, n_features * itemsize)
    b = MAX_BLOCK if n_features <= 4 else MAX_ROW_BYTES // itemsize
    while b > 16 and b > rows:
        b //= 2
    return b
