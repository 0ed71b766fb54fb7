"""In-process parallelism: the serial stage drivers run over fixed row chunks
under one ``@njit(parallel=True)`` runner.

The runner receives the driver as a first-class function (a pointer typed
``FunctionType``), so it compiles in well under a second and never re-optimises
the driver's code: a runner that called the driver directly would link the
driver's whole call tree into the parfor and have LLVM optimise it again
(4-8 s of compile time per driver, measured). A dask task calls the same
drivers serially.

Determinism: the chunks depend on the data's shape only, each chunk writes its
own accumulators, and the caller sums them in chunk order (in waves of
chunks past a memory bound: :func:`run_waves`), so results are
bit-identical for any thread count.

Thread safety: Numba is asked for a thread-safe threading layer (TBB or
OpenMP; pip's Numba on Linux has OpenMP). Where only ``workqueue`` exists,
which aborts the process when two threads launch parallel kernels at once,
launches are serialised by a lock.
"""

from __future__ import annotations

import importlib
import os
import threading
from contextlib import contextmanager
from typing import Iterator

import numba
import numpy as np
from numba import njit, prange, types, typeof

from ._config import CACHE, FASTMATH, built_once

_local = threading.local()
_runners: dict = {}
_launch_lock = threading.Lock()
_layer: list[str] = []  # the threading layer, once a launch has chosen it


def _safe_layer_available() -> bool:
    for mod in ("tbbpool", "omppool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{mod}")
            return True
        except ImportError:
            continue
    return False


def _choose_layer() -> None:
    """Ask Numba for a thread-safe layer unless the user chose one or a layer
    is already running."""
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    try:
        numba.threading_layer()
        return  # already launched: too late to choose
    except ValueError:
        pass
    if _safe_layer_available():
        numba.config.THREADING_LAYER = "threadsafe"


def _default_threads() -> int:
    env = os.environ.get("FASTGMM_NUM_THREADS")
    n = int(env) if env else numba.config.NUMBA_NUM_THREADS
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """Threads the kernels use in the calling thread (default: Numba's thread
    count, i.e. the usable cores or ``NUMBA_NUM_THREADS``; ``FASTGMM_NUM_THREADS``
    lowers it)."""
    n = getattr(_local, "n_threads", None)
    return _default_threads() if n is None else n


@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run the kernels inside the block on ``n`` threads (``None``: default).

    The setting is local to the calling Python thread and restored on exit;
    more threads than Numba started (``numba.config.NUMBA_NUM_THREADS``) are
    capped to that.
    """
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
        raise ValueError(f"n_threads must be a positive integer or None, got {n!r}")
    old = getattr(_local, "n_threads", None)
    _local.n_threads = min(int(n), numba.config.NUMBA_NUM_THREADS) if n is not None else old
    try:
        yield
    finally:
        _local.n_threads = old


def _run_chunks(fn, X, sw, model, io, bounds, block, acc):
    for c in prange(bounds.shape[0] - 1):
        i = np.intp(c)  # prange's index may be unsigned
        fn(X, sw, model, io, i, bounds[i], bounds[i + 1], block, acc)


def _key(a):
    """What decides ``a``'s Numba type, cheaper to compute than ``typeof``
    (which cost a fifth of a small pass): arrays by dtype, rank and flags,
    named tuples by class and members, scalars by class."""
    if isinstance(a, np.ndarray):
        f = a.flags
        return (a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    if isinstance(a, tuple):
        return (type(a),) + tuple(_key(x) for x in a)
    return type(a)


_types: dict = {}


def _runner(driver, args: tuple):
    """The parallel runner for ``driver`` on arguments of these types (compiled
    or loaded from Numba's cache once per type combination)."""
    key = (driver,) + tuple(_key(a) for a in args)
    fn = _types.get(key)
    if fn is not None:
        return fn
    tys = tuple(typeof(a) for a in args)  # X, sw, model, io, bounds, block, acc

    def build():
        if not _runners:
            _choose_layer()  # before this process's first parallel launch
        dsig = types.void(tys[0], tys[1], tys[2], tys[3], types.intp, types.intp, types.intp, tys[5], tys[6])
        driver.compile(dsig)
        sig = types.void(types.FunctionType(dsig), *tys)
        return njit(sig, parallel=True, cache=CACHE, fastmath=FASTMATH, nogil=True)(_run_chunks)

    fn = _types[key] = built_once(_runners, (driver, tys), build)
    return fn


def run_chunks(driver, X, sw, model, io, bounds: np.ndarray, block: int, acc, parallel: bool = True) -> None:
    """``driver(X, sw, model, io, c, bounds[c], bounds[c + 1], block, acc)`` for
    every chunk ``c``: under the parallel runner on :func:`get_num_threads`
    threads (one thread too: one launch instead of a Python call per chunk), or
    one after another on the calling thread (``parallel=False``: dask tasks)."""
    n = bounds.shape[0] - 1
    threads = get_num_threads()
    if n <= 1 or not parallel:  # one thread, one chunk: no launch (dask tasks)
        for c in range(n):
            driver(X, sw, model, io, c, bounds[c], bounds[c + 1], block, acc)
        return
    fn = _runner(driver, (X, sw, model, io, bounds, block, acc))
    locked = not _layer or _layer[0] == "workqueue"
    if locked:
        _launch_lock.acquire()
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(threads)
        fn(driver, X, sw, model, io, bounds, block, acc)
    finally:
        numba.set_num_threads(old)
        if locked:
            if not _layer:
                _layer.append(numba.threading_layer())
            _launch_lock.release()


def run_waves(driver, X, sw, model, io, bounds: np.ndarray, block: int, acc, fold, parallel: bool = True) -> None:
    """:func:`run_chunks` over ``bounds`` in waves of as many chunks as ``acc``
    has rows: after each wave, ``fold(acc, m)`` takes its ``m`` chunks'
    accumulators (in chunk order: the same sums, bit for bit, as one wave of
    all chunks), and ``acc`` is zeroed for the next. Memory is one wave's
    accumulators however many chunks the pass has."""
    rows = acc.nk.shape[0]
    n = bounds.shape[0] - 1
    for w0 in range(0, n, rows):
        if w0:
            for a in acc:
                a.fill(0.0)
        wave = bounds[w0 : min(n, w0 + rows) + 1]
        run_chunks(driver, X, sw, model, io, wave, block, acc, parallel)
        fold(acc, wave.shape[0] - 1)
