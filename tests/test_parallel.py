"""The parallel runner of the stage drivers: every chunk exactly once, results
independent of the thread count, safe under concurrent launches."""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest
from numba import njit

import fastgmm
from fastgmm._kernels.models import Accumulators
from fastgmm._parallel import run_chunks
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import em_stats


@njit(nogil=True)
def _mark_chunk(X, sw, model, io, c, lo, hi, block, acc):
    s = 0.0
    for i in range(lo, hi):
        io[i] += 1
        s += X[i, 0]
    acc.sums[c, 0] = s
    acc.sums[c, 1] = lo
    acc.sums[c, 2] = hi


def _acc(m):
    return Accumulators(np.zeros((m, 1)), np.zeros((m, 1, 1)), np.zeros((m, 1, 1, 1)), np.zeros((m, 3)))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("parallel", [True, False])
def test_every_chunk_runs_exactly_once(threads, parallel):
    X = np.arange(1000.0)[:, None].copy()
    bounds = np.array([0, 10, 10, 300, 999, 1000], np.int64)  # an empty chunk too
    seen = np.zeros(1000, np.int64)
    acc = _acc(len(bounds) - 1)
    with fastgmm.num_threads(threads):
        run_chunks(_mark_chunk, X, np.zeros(0), 0.0, seen, bounds, 256, acc, parallel)
    assert np.all(seen == 1)
    assert np.array_equal(acc.sums[:, 1], bounds[:-1]) and np.array_equal(acc.sums[:, 2], bounds[1:])
    assert np.array_equal(acc.sums[:, 0], [X[lo:hi, 0].sum() for lo, hi in zip(bounds[:-1], bounds[1:])])


def test_threading_layer_is_thread_safe_or_launches_are_locked():
    X = np.arange(5000.0)[:, None].copy()
    bounds = np.arange(0, 5001, 500, dtype=np.int64)
    with fastgmm.num_threads(2):
        run_chunks(_mark_chunk, X, np.zeros(0), 0.0, np.zeros(5000, np.int64), bounds, 256, _acc(10))
    layer = numba.threading_layer()
    from fastgmm import _parallel

    assert layer in ("omp", "tbb") or _parallel._layer == ["workqueue"]


def test_concurrent_passes_from_python_threads_give_the_same_statistics():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30_000, 4))
    f = factorize(GMMParams(np.full(3, 1 / 3), X[:3].copy(), np.repeat(np.eye(4)[None], 3, 0), "full"))
    ref = em_stats(X, None, f)
    out = [None] * 6
    errors = []

    def work(i):
        try:
            with fastgmm.num_threads(1 + i % 2):
                out[i] = em_stats(X, None, f)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for st in out:
        assert np.array_equal(st.nk, ref.nk) and np.array_equal(st.s2, ref.s2) and st.ll == ref.ll


def test_num_threads_is_local_to_the_python_thread():
    seen = {}

    def other():
        seen["other"] = fastgmm.get_num_threads()

    with fastgmm.num_threads(1):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert fastgmm.get_num_threads() == 1
    assert seen["other"] == fastgmm.get_num_threads()
