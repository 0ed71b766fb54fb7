"""Memory-mapped data: the in-memory fit does not copy it, and
``fastgmm.outofcore.fit_memmap`` streams row windows of a file (exact EM).

The files are larger than one chunk of the in-memory pass
(``fastgmm._config.chunk_rows``) and than one window of ``fit_memmap``.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import fastgmm.em
import fastgmm.sources
from fitcheck import assert_same_fit
from fitcheck import init_params as _init_params
from fastgmm import GaussianMixture, RecoveryWarning, _config
from fastgmm.outofcore import fit_memmap

TYPES = ("full", "tied", "diag", "spherical")
N, D, C = 24_000, 4, 3
#: rows of the files whose memory use is measured: the passes' fixed buffers
#: (about 200 kB per thread at d <= 4, whose blocks hold 1024 rows) must be
#: small next to the file
BIG = 250_000


def blobs(n=N, d=D, k=C, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, d))
    X = centers[rng.integers(k, size=n)] + rng.standard_normal((n, d))
    return X, rng.uniform(0.2, 2.0, size=n)


def init_params(X, ct="full"):
    return _init_params(X, C, ct)


@pytest.fixture
def npy(tmp_path):
    """Write X to a .npy file; return the path."""

    def write(X, name="X.npy"):
        path = tmp_path / name
        np.save(path, X)
        return path

    return write


def quiet_fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


# ------------------------------------------------------------ in-memory path
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_memory_fit_does_not_copy_a_memmap(npy, monkeypatch, dtype):
    X, sw = blobs(n=BIG)
    X = X.astype(dtype)
    mm = np.load(npy(X), mmap_mode="r")
    assert _config.chunk_rows(BIG) < BIG
    kw = init_params(X)
    seen = []
    em_stats = fastgmm.sources.em_stats

    def spy(Xp, *a, **k):
        seen.append(np.shares_memory(Xp, mm))
        return em_stats(Xp, *a, **k)

    monkeypatch.setattr(fastgmm.sources, "em_stats", spy)
    quiet_fit(GaussianMixture(C, **kw, max_iter=2), mm)  # compile and warm up
    tracemalloc.start()
    try:
        a = quiet_fit(GaussianMixture(C, **kw), mm, sample_weight=sw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen and all(seen)  # every pass ran on the mapped file itself
    assert peak < mm.nbytes / 4, (peak, mm.nbytes)  # a copy would be >= 1x
    b = quiet_fit(GaussianMixture(C, **kw), np.array(mm), sample_weight=sw)
    assert_same_fit(a, b, 0.0)


# ---------------------------------------------------------------- fit_memmap
@pytest.mark.parametrize("ct", TYPES)
def test_fit_memmap_matches_in_memory(npy, tmp_path, ct):
    X, sw = blobs(seed=1)
    path = npy(X)
    swm = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=np.float64, shape=sw.shape)
    swm[:] = sw
    kw = dict(covariance_type=ct, tol=1e-5, **init_params(X, ct))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_memmap(GaussianMixture(C, **kw), path, swm, chunk_rows=5000)
    b = quiet_fit(GaussianMixture(C, **kw), X, sample_weight=sw)
    assert b.n_iter_ > 3
    assert_same_fit(a, b)
    assert a.n_features_in_ == D


def test_fit_memmap_float32_and_array_sources(npy):
    X, _ = blobs(seed=2)
    X32 = X.astype(np.float32)
    path = npy(X32)
    kw = init_params(X32)
    b = quiet_fit(GaussianMixture(C, **kw), X32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for source in (path, str(path), np.load(path, mmap_mode="r"), X32):
            a = fit_memmap(GaussianMixture(C, **kw), source, chunk_rows=4096)
            assert a.means_.dtype == np.float32
            # float32 EM amplifies float64 round-off differences of the sums
            assert_same_fit(a, b, 1e-4)


def test_fit_memmap_converts_integers_one_window_at_a_time(npy):
    X, _ = blobs(seed=3)
    Xi = np.round(X * 100).astype(np.int32)
    kw = dict(covariance_type="diag", **init_params(Xi, "diag"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_memmap(GaussianMixture(C, **kw), npy(Xi), chunk_rows=3000)
    b = quiet_fit(GaussianMixture(C, **kw), Xi)
    assert a.means_.dtype == np.float64
    assert_same_fit(a, b)


def test_fit_memmap_progress_once_per_pass(npy):
    X, _ = blobs(seed=4)
    events = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = fit_memmap(GaussianMixture(C, **init_params(X)), npy(X), chunk_rows=4096, progress=events.append)
    assert [e["pass"] for e in events] == list(range(1, len(events) + 1))
    em = [e for e in events if e["stage"] == "em"]
    assert len(em) == g.n_iter_ == len(events)  # user init: no other pass
    assert [e["mean_log_likelihood"] for e in em] == g.lower_bounds_
    assert all(e["rows"] == N and e["seconds"] >= 0 for e in events)


def test_fit_memmap_memory_stays_at_a_window(npy):
    X, sw = blobs(n=BIG, seed=5)
    path = npy(X)
    kw = init_params(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_memmap(GaussianMixture(C, **kw, max_iter=2), path, chunk_rows=2048)
        tracemalloc.start()
        try:
            fit_memmap(GaussianMixture(C, **kw, max_iter=5, tol=0.0), path, sw, chunk_rows=2048)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < X.nbytes / 8, (peak, X.nbytes)


def test_fit_memmap_initialiser(npy, monkeypatch):
    import fastgmm.sources as ooc

    X, sw = blobs(seed=6)
    path = npy(X)
    # at most INIT_SAMPLE_SIZE rows: the initialiser sees all rows, as in memory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_memmap(GaussianMixture(C, random_state=0, n_init=2), path, sw, chunk_rows=4096)
    b = quiet_fit(GaussianMixture(C, random_state=0, n_init=2), X, sample_weight=sw)
    assert_same_fit(a, b)
    # more rows: k-means runs on a sample, EM on all rows
    monkeypatch.setattr(ooc, "INIT_SAMPLE_SIZE", 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_memmap(GaussianMixture(C, random_state=0, tol=1e-8, max_iter=300), path, sw, chunk_rows=4096)
        b = quiet_fit(GaussianMixture(C, random_state=0, tol=1e-8, max_iter=300), X, sample_weight=sw)
    assert a.converged_ and b.converged_
    assert abs(a.lower_bound_ - b.lower_bound_) < 1e-6


def test_fit_memmap_collapse_recovery(npy):
    X, sw = blobs(seed=7)
    kw = init_params(X)
    kw["means_init"] = kw["means_init"].copy()
    kw["means_init"][2] = 1e4
    kw.update(tol=1e-5, random_state=0)
    with pytest.warns(RecoveryWarning):
        a = fit_memmap(GaussianMixture(C, **kw), npy(X), sw, chunk_rows=3000)
    with pytest.warns(RecoveryWarning):
        b = GaussianMixture(C, **kw).fit(X, sample_weight=sw)
    assert b.n_recoveries_ == 1
    assert_same_fit(a, b)


def test_fit_memmap_validation(npy, tmp_path):
    X, _ = blobs(n=1000)
    bad = X.copy()
    bad[700, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_memmap(GaussianMixture(2), npy(bad, "bad.npy"), chunk_rows=256)
    with pytest.raises(ValueError, match="Fortran"):
        fit_memmap(GaussianMixture(2), npy(np.asfortranarray(X), "f.npy"))
    with pytest.raises(ValueError, match="2-dimensional"):
        fit_memmap(GaussianMixture(2), npy(X[:, 0], "v.npy"))
    with pytest.raises(ValueError, match="covariance_type"):
        fit_memmap(GaussianMixture(2, covariance_type="bogus"), npy(X))
    with pytest.raises(ValueError, match="sample_weight"):
        fit_memmap(GaussianMixture(2), npy(X), -np.ones(1000))
