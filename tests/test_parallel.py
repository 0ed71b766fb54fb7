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

from conftest import THREAD_COUNTS


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


def test_chunks_past_64_depend_on_the_shape_only():
    from fastgmm import _config

    assert -(-1_000_000 // _config.chunk_rows(1_000_000, 8)) <= 64  # a million rows: as before
    rows = _config.chunk_rows(10_000_000, 8)
    assert -(-10_000_000 // rows) > 64 * 8 and rows <= _config.MAX_CHUNK_ROWS + 256
    assert _config.wave_chunks(10**9) == _config.TARGET_CHUNKS and _config.wave_chunks(1) == _config.MAX_WAVE


@pytest.fixture
def small_waves(monkeypatch):
    """Chunks of ~600 rows in waves of 3, so that small data runs many waves."""
    from fastgmm import _config

    monkeypatch.setattr(_config, "TARGET_CHUNKS", 3)
    monkeypatch.setattr(_config, "MIN_CHUNK_ROWS", 256)
    monkeypatch.setattr(_config, "MAX_CHUNK_ROWS", 600)
    monkeypatch.setattr(_config, "WAVE_BYTES", 1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_waves_give_the_sums_of_one_wave_bit_for_bit(covariance_type, small_waves, monkeypatch):
    from fastgmm import _config
    from naive import e_step, m_step, random_params, sample_mixture

    rng = np.random.RandomState(5)
    p = random_params(rng, 3, 5, covariance_type)
    X = sample_mixture(rng, 9000, *p, covariance_type)
    sw = rng.uniform(0.5, 2.0, 9000)
    f = factorize(GMMParams(*p, covariance_type))
    assert -(-9000 // _config.chunk_rows(9000, 5)) > 3 * 3  # more than three waves
    runs = []
    for threads in THREAD_COUNTS:
        with fastgmm.num_threads(threads):
            runs.append(em_stats(X, sw, f))
    monkeypatch.setattr(_config, "WAVE_BYTES", 2**40)  # the same chunks in one wave
    runs.append(em_stats(X, sw, f))
    for st in runs[1:]:
        assert st.ll == runs[0].ll and st.worst_index == runs[0].worst_index
        assert np.array_equal(st.nk, runs[0].nk) and np.array_equal(st.s1, runs[0].s1)
        assert np.array_equal(st.s2, runs[0].s2)
    # and the sums are the naive E-step's
    resp, ll, _ = e_step(X, *p, covariance_type)
    assert runs[0].ll == pytest.approx(np.sum(sw * ll), rel=1e-12)
    want = m_step(X, resp, covariance_type, sample_weight=sw)
    from fastgmm.stats import m_step as fast_m_step

    got = fast_m_step(runs[0], covariance_type, 0.0, np.finfo(float).eps)
    np.testing.assert_allclose(got.weights, want[0], rtol=1e-10)
    np.testing.assert_allclose(got.means, want[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.covariances, want[2], rtol=1e-9, atol=1e-12)


def test_kmeans_in_waves_equals_one_wave(small_waves, monkeypatch):
    from fastgmm import _config
    from fastgmm.init import kmeans

    rng = np.random.RandomState(1)
    X = np.concatenate([rng.standard_normal((3000, 3)) + 6 * k for k in range(3)])
    c1, l1 = kmeans(X, 3, np.random.RandomState(0))
    monkeypatch.setattr(_config, "WAVE_BYTES", 2**40)
    c2, l2 = kmeans(X, 3, np.random.RandomState(0))
    assert np.array_equal(c1, c2) and np.array_equal(l1, l2)
    assert len(set(l1.tolist())) == 3


@pytest.mark.parametrize("d", [3, 8])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_past_64_chunks_in_two_waves_any_thread_count_bit_for_bit(covariance_type, d, monkeypatch):
    """A pass of today's real chunking with more than 64 chunks, folded in two
    waves (64 chunks and the rest), gives the same sums for every thread count
    and one wave."""
    from fastgmm import _config

    n = 64 * _config.MAX_CHUNK_ROWS + 70_000
    assert -(-n // _config.chunk_rows(n, d)) > _config.TARGET_CHUNKS
    rng = np.random.RandomState(9)
    X = rng.standard_normal((n, d)) + np.repeat(np.arange(3.0), -(-n // 3))[:n, None]
    p = GMMParams(np.array([0.3, 0.3, 0.4]), np.array([[0.0] * d, [1.0] * d, [2.0] * d]),
                  *{"full": (np.stack([np.eye(d)] * 3),), "tied": (np.eye(d),),
                    "diag": (np.ones((3, d)),), "spherical": (np.ones(3),)}[covariance_type], covariance_type)
    f = factorize(p)
    monkeypatch.setattr(_config, "WAVE_BYTES", 1)  # waves of TARGET_CHUNKS chunks: two of them
    runs = []
    for threads in THREAD_COUNTS:
        with fastgmm.num_threads(threads):
            runs.append(em_stats(X, None, f))
    monkeypatch.setattr(_config, "WAVE_BYTES", 2**40)
    runs.append(em_stats(X, None, f))
    for st in runs[1:]:
        assert st.ll == runs[0].ll
        assert np.array_equal(st.nk, runs[0].nk) and np.array_equal(st.s1, runs[0].s1)
        assert np.array_equal(st.s2, runs[0].s2)
    assert runs[0].nk.sum() == pytest.approx(n, rel=1e-12)
