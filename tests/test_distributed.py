"""Dask arrays: fits equal to the in-memory fit, lazy predictions, clusters.

Every fit on a dask array is compared with ``GaussianMixture.fit`` on the same
rows in memory from the same initial parameters. Skipped without dask.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastgmm
from fitcheck import assert_close, assert_same_fit, init_params
from fastgmm import GaussianMixture, RecoveryWarning

TYPES = ("full", "tied", "diag", "spherical")
RTOL64 = 1e-10
# float32: the statistics of each pass agree to float64 round-off, but float32
# EM amplifies such differences (see the report in docs/scaling.md), so fits
# are compared at float32 working precision
RTOL32 = 1e-4


@pytest.fixture(scope="module")
def da():
    return pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def dask():
    return pytest.importorskip("dask")


@pytest.fixture(scope="module")
def distributed():
    pytest.importorskip("dask.array")
    return pytest.importorskip("distributed")


def blobs(n=3000, d=3, C=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(C, d))
    X = centers[rng.integers(C, size=n)] + rng.standard_normal((n, d)) * rng.uniform(0.5, 1.5, size=d)
    sw = rng.uniform(0.2, 2.0, size=n)
    return X, sw


def fit_both(X, dX, C, sw=None, dsw=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = GaussianMixture(C, **kw).fit(dX, sample_weight=dsw)
        b = GaussianMixture(C, **kw).fit(X, sample_weight=sw)
    return a, b


# ------------------------------------------------------------ threaded scheduler
@pytest.mark.parametrize("ct", TYPES)
def test_threads_match_in_memory(da, dask, ct):
    X, sw = blobs()
    # unaligned row chunks, split columns, weights chunked differently: all rechunked
    dX = da.from_array(X, chunks=(700, 2))
    dsw = da.from_array(sw, chunks=450)
    with dask.config.set(scheduler="threads"):
        a, b = fit_both(X, dX, 3, sw, dsw, covariance_type=ct, tol=1e-5, **init_params(X, 3, ct))
    assert b.n_iter_ > 3
    assert_same_fit(a, b)


@pytest.mark.parametrize("ct", TYPES)
def test_float32(da, ct):
    X, sw = blobs(seed=2)
    X = X.astype(np.float32)
    a, b = fit_both(X, da.from_array(X, chunks=1000), 3, covariance_type=ct, **init_params(X, 3, ct))
    assert a.means_.dtype == np.float32
    assert_same_fit(a, b, RTOL32)


def test_initialiser_on_all_rows_equals_in_memory(da):
    """At most INIT_SAMPLE_SIZE rows: the initialiser sees all rows, in order."""
    X, sw = blobs(seed=3)
    a, b = fit_both(X, da.from_array(X, chunks=512), 3, sw, sw, random_state=0, n_init=2)
    assert_same_fit(a, b)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data", "random"])
def test_initialiser_on_a_sample(da, monkeypatch, init_params):
    import fastgmm.sources as ooc

    monkeypatch.setattr(ooc, "INIT_SAMPLE_SIZE", 400)
    X, sw = blobs(n=4000, seed=4)
    import fastgmm.em

    seen = []
    orig = fastgmm.em.initialize

    def spy(data, *a):
        seen.append(data.n)
        return orig(data, *a)

    for mod in (fastgmm.em, ooc):  # whichever loop runs the initialiser
        monkeypatch.setattr(mod, "initialize", spy, raising=False)
    a, b = fit_both(
        X, da.from_array(X, chunks=1024), 3, sw, da.from_array(sw, chunks=1024),
        random_state=0, init_params=init_params, tol=1e-8, max_iter=300,
    )
    assert seen[0] <= 400  # the dask fit's initialiser (fit_both fits it first)
    # a different start, the same (well separated) optimum
    assert a.converged_ and b.converged_
    assert abs(a.lower_bound_ - b.lower_bound_) < 1e-6
    assert_close(np.sort(a.means_, axis=0), np.sort(b.means_, axis=0), 1e-3)


def test_collapse_recovery_matches_in_memory(da):
    """A component that starts far from the data vanishes and is re-seeded at
    the worst point, which the pass returns with the statistics."""
    X, sw = blobs(seed=5)
    kw = init_params(X, 3, "full")
    kw["means_init"] = kw["means_init"].copy()
    kw["means_init"][2] = 1e4
    kw.update(tol=1e-5, random_state=0)
    with pytest.warns(RecoveryWarning):
        a = GaussianMixture(3, **kw).fit(da.from_array(X, chunks=640), sample_weight=sw)
    with pytest.warns(RecoveryWarning):
        b = GaussianMixture(3, **kw).fit(X, sample_weight=sw)
    assert b.n_recoveries_ == 1 and b.converged_
    assert_same_fit(a, b)


def test_two_collapses_fetch_a_random_row(da):
    """Two components vanish at once: the second is re-seeded at a random row,
    which is fetched from the dask array. Two components then split one blob
    (a saddle of EM, where round-off differences grow), hence the tolerance."""
    X, sw = blobs(seed=5)
    C, d = 4, X.shape[1]
    kw = dict(
        weights_init=np.full(C, 0.25), means_init=np.vstack([X[:2], np.full((2, d), 1e4)]),
        precisions_init=np.repeat(np.eye(d)[None], C, axis=0), max_iter=30, random_state=0,
    )
    with pytest.warns(RecoveryWarning):
        a = GaussianMixture(C, **kw).fit(da.from_array(X, chunks=640), sample_weight=sw)
    with pytest.warns(RecoveryWarning):
        b = GaussianMixture(C, **kw).fit(X, sample_weight=sw)
    assert np.abs(b.means_).max() < 100
    assert_same_fit(a, b, 1e-6)


def test_warm_start_matches(da):
    X, _ = blobs(seed=6)
    dX = da.from_array(X, chunks=1000)
    kw = dict(warm_start=True, max_iter=3, random_state=0)
    a, b = GaussianMixture(3, **kw), GaussianMixture(3, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            a.fit(dX)
            b.fit(X)
    assert_same_fit(a, b)


def test_tasks_do_not_use_the_thread_pool(da, monkeypatch):
    """Inside dask tasks the drivers run serially (parallel=False): the
    parallel runner is never launched."""
    import fastgmm._parallel

    def boom(*a, **k):
        raise AssertionError("parallel runner used inside a dask task")

    X, _ = blobs()
    init = init_params(X, 3, "full")
    monkeypatch.setattr(fastgmm._parallel, "_runner", boom)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(3, **init).fit(da.from_array(X, chunks=500))
    g.predict(da.from_array(X, chunks=500)).compute()


def test_unknown_chunks_and_integer_input(da):
    X, _ = blobs(seed=7)
    Xi = np.round(X * 10).astype(np.int64)
    dX = da.from_array(Xi, chunks=800)
    dX = dX[dX[:, 0] > np.iinfo(np.int64).min]  # boolean mask: unknown row chunks
    assert np.isnan(dX.chunks[0][0])
    a, b = fit_both(Xi, dX, 3, **init_params(Xi, 3, "diag"), covariance_type="diag")
    assert a.means_.dtype == np.float64
    assert_same_fit(a, b)


# ------------------------------------------------------------------ predictions
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lazy_predictions(da, dtype):
    X, sw = blobs(seed=8)
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(3, random_state=0).fit(X)
    dX = da.from_array(X, chunks=(900, 2))
    labels = g.predict(dX)
    proba = g.predict_proba(dX)
    ll = g.score_samples(dX)
    for out in (labels, proba, ll):
        assert isinstance(out, da.Array)
    assert labels.dtype == np.int64 and proba.dtype == dtype and ll.dtype == dtype
    assert proba.shape == (X.shape[0], 3) and labels.shape == ll.shape == (X.shape[0],)
    np.testing.assert_array_equal(labels.compute(), g.predict(X))
    assert_close(proba.compute(), g.predict_proba(X), 1e-12)
    assert_close(ll.compute(), g.score_samples(X), 1e-12)
    # in memory, score(X) (and so bic, aic) is scikit-learn's float32 mean of the
    # float32 score_samples; the dask score sums in float64: equal to float32 round-off
    mean_rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert_close(g.score(dX), g.score(X), mean_rtol)
    assert_close(g.score(dX, sample_weight=da.from_array(sw, chunks=500)), g.score(X, sample_weight=sw), 1e-12)
    assert_close(g.bic(dX), g.bic(X), mean_rtol)
    assert_close(g.aic(dX), g.aic(X), mean_rtol)


def test_fit_predict_is_lazy(da):
    X, _ = blobs(seed=9)
    kw = dict(random_state=0, **init_params(X, 3, "full"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = GaussianMixture(3, **kw).fit_predict(da.from_array(X, chunks=1000))
        ref = GaussianMixture(3, **kw).fit_predict(X)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), ref)


# ------------------------------------------------------------------- validation
def test_validation(da):
    X, sw = blobs(n=600)
    g = GaussianMixture(2, max_iter=5)
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        g.fit(da.from_array(bad, chunks=256))
    with pytest.raises(ValueError, match="non-negative"):
        g.fit(da.from_array(X, chunks=256), sample_weight=da.from_array(-sw, chunks=256))
    with pytest.raises(ValueError, match="shape"):
        g.fit(da.from_array(X, chunks=256), sample_weight=da.from_array(sw[:-1], chunks=256))
    with pytest.raises(ValueError, match="2D"):
        g.fit(da.from_array(X[:, 0], chunks=256))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(da.from_array(X[:4], chunks=2))
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="bogus").fit(da.from_array(X, chunks=256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.fit(da.from_array(X, chunks=256))
    with pytest.raises(ValueError, match="features"):
        g.predict(da.from_array(X[:, :2], chunks=256))
    with pytest.raises(ValueError, match="NaN"):
        g.predict(da.from_array(bad, chunks=256)).compute()


# --------------------------------------------------------------------- clusters
def _worker_env():
    """Spawned workers need a writable Numba cache: the package's own when it
    is writable (then they load what this process compiled), else a temp dir."""
    cache = Path(fastgmm.__file__).parent / "_kernels" / "__pycache__"
    if "NUMBA_CACHE_DIR" in os.environ or os.access(cache if cache.exists() else cache.parent, os.W_OK):
        return {}
    import tempfile

    return {"NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="fastgmm-numba-")}


def _cluster_fit_and_compare(da, client):
    X, sw = blobs(n=4000, seed=10)
    dX = da.from_array(X, chunks=1024).persist()
    dsw = da.from_array(sw, chunks=1024).persist()
    a, b = fit_both(X, dX, 3, sw, dsw, tol=1e-6, **init_params(X, 3, "full"))
    assert_same_fit(a, b)
    np.testing.assert_array_equal(a.predict(dX).compute(), b.predict(X))
    # the fit ran on the cluster's workers
    prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "block_stats" in prefixes and "combine" in prefixes


def test_local_cluster_threads(da, distributed):
    with distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        _cluster_fit_and_compare(da, client)


@pytest.mark.slow
def test_local_cluster_processes(da, distributed):
    """Worker processes on 127.0.0.1: 11-23 s on 2 busy cores, most of it
    worker start-up, hence slow (run with -m slow)."""
    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None, env=_worker_env(),
    ) as cluster, distributed.Client(cluster) as client:
        _cluster_fit_and_compare(da, client)


# ------------------------------------------------------------------- no dask
def test_works_without_dask():
    """fastgmm imports and fits without dask, and never tries to import it
    for numpy input (dask is imported lazily, for dask arrays only)."""
    code = textwrap.dedent(
        """
        import sys

        tried = []

        class NoDask:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "distributed"):
                    tried.append(name)
                    raise ImportError(f"no {name} here")
                return None

        sys.meta_path.insert(0, NoDask())
        for m in [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]:
            del sys.modules[m]
        import numpy as np
        import fastgmm, fastgmm.distributed, fastgmm.outofcore
        X = np.random.default_rng(0).standard_normal((500, 2))
        g = fastgmm.GaussianMixture(2, random_state=0).fit(X)
        assert g.predict(X).shape == (500,)
        assert not fastgmm.distributed.is_dask(X)
        print("tried:", tried)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tried: []"
