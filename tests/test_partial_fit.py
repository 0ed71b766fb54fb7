"""GaussianMixture.partial_fit: stepwise (online) EM.

* with one batch equal to X and a step of 1, one update is one EM iteration of
  ``fit`` from the same parameters;
* the step-size rule, checked through the maths on one component (whose
  mean and second moment follow the stochastic-approximation recursion
  exactly);
* continuing after ``fit``; empty, tiny and bad batches (the model left
  unchanged); weights; float32; thread counts; collapse recovery;
* one online pass over many shuffled rows lands near the full fit; the
  memmap / dask helper.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgmm import GaussianMixture
from fastgmm.mixture import RecoveryWarning
from fastgmm.outofcore import online_pass

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def blobs(n, d=4, C=4, seed=0, spread=10.0):
    """Shuffled blobs with random covariances."""
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-spread, spread, (C, d))
    A = np.array([np.linalg.cholesky(np.cov(rng.randn(d, 3 * d))) for _ in range(C)])
    lab = rng.randint(C, size=n)
    return centers[lab] + np.einsum("nij,nj->ni", A[lab], rng.randn(n, d))


@pytest.fixture(scope="module")
def X():
    return blobs(6000)


def _state(gm):
    return {k: np.array(getattr(gm, k)) for k in FITTED + ("precisions_",)} | {"n_steps_": gm.n_steps_}


def _assert_unchanged(gm, before):
    after = _state(gm)
    for k, v in before.items():
        assert_array_equal(after[k], v, err_msg=k)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unit_step_on_all_rows_is_one_em_iteration(X, covariance_type):
    base = GaussianMixture(4, covariance_type=covariance_type, random_state=0, max_iter=3, learning_offset=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base.fit(X)
    online = copy.deepcopy(base).partial_fit(X)  # t = 1: step (1 + 0) ** -decay = 1
    em = copy.deepcopy(base).set_params(warm_start=True, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        em.fit(X)
    for k in FITTED:
        assert_allclose(getattr(online, k), getattr(em, k), rtol=1e-12, atol=1e-14, err_msg=k)
    assert online.lower_bound_ == pytest.approx(em.lower_bound_, rel=1e-12)
    assert online.n_steps_ == 1


@pytest.mark.parametrize("decay,offset", [(0.6, 1.0), (1.0, 0.0), (0.8, 5.0)])
def test_step_size_rule_one_component(decay, offset):
    """With one component the M-step's mean is the running first moment and
    its covariance the running second moment minus the mean's square: both
    follow ``m <- (1 - g_t) m + g_t batch_mean`` with ``g_t = (t + t0) ** -a``."""
    rng = np.random.RandomState(1)
    batches = [rng.randn(50 + 10 * i, 3) * (1 + 0.1 * i) + i for i in range(6)]
    gm = GaussianMixture(1, reg_covar=0.0, learning_decay=decay, learning_offset=offset)
    gm.partial_fit(batches[0])  # initialises from the batch, then t = 1
    first = batches[0]
    m1, m2 = first.mean(0), np.cov(first.T, bias=True) + np.outer(first.mean(0), first.mean(0))
    g = (1 + offset) ** -decay
    m1, m2 = (1 - g) * m1 + g * first.mean(0), (1 - g) * m2 + g * (first.T @ first) / len(first)
    assert_allclose(gm.means_[0], m1, rtol=1e-12)
    for t, b in enumerate(batches[1:], start=2):
        gm.partial_fit(b)
        g = (t + offset) ** -decay
        m1 = (1 - g) * m1 + g * b.mean(0)
        m2 = (1 - g) * m2 + g * (b.T @ b) / len(b)
        assert gm.n_steps_ == t
        assert_allclose(gm.means_[0], m1, rtol=1e-11)
        assert_allclose(gm.covariances_[0], m2 - np.outer(m1, m1), rtol=1e-9, atol=1e-12)


def test_continues_after_fit(X):
    gm = GaussianMixture(4, random_state=0).fit(X)
    before = _state(gm)
    gm.set_params(learning_offset=1e30)  # a vanishing step: the fitted model stays
    gm.partial_fit(X[:500])
    assert gm.n_steps_ == 1
    for k in FITTED:
        assert_allclose(getattr(gm, k), before[k], rtol=1e-9, atol=1e-12, err_msg=k)
    gm.set_params(learning_offset=1.0)
    for i in range(0, 3000, 500):
        gm.partial_fit(X[i : i + 500])
    assert gm.n_steps_ == 7
    gm.fit(X)  # a fit starts the count again
    assert gm.n_steps_ == 0


def test_first_batch_initialises_and_needs_n_components_rows(X):
    gm = GaussianMixture(4, random_state=0)
    with pytest.raises(ValueError, match="fewer than n_components=4"):
        gm.partial_fit(X[:3])
    with pytest.raises(ValueError):
        gm.partial_fit(X[:0])
    gm.partial_fit(X[:4])
    assert gm.n_steps_ == 1 and np.all(np.isfinite(gm.covariances_))


def test_empty_batch_changes_nothing(X):
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:1000])
    before = _state(gm)
    gm.partial_fit(X[:0])
    _assert_unchanged(gm, before)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 4"):
        gm.partial_fit(np.zeros((0, 2)))


def test_tiny_batches(X):
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:1000])
    for i in range(5):
        gm.partial_fit(X[1000 + i : 1001 + i])  # one row at a time
    assert gm.n_steps_ == 6
    assert np.all(np.isfinite(gm.covariances_)) and np.all(np.linalg.eigvalsh(gm.covariances_) > 0)


@pytest.mark.parametrize(
    "batch,kw,match",
    [
        (np.zeros((10, 3)), {}, "X has 3 features, but GaussianMixture is expecting 4"),
        (np.full((10, 4), np.nan), {}, "NaN"),
        (np.ones((10, 4)), {"sample_weight": -np.ones(10)}, "sample_weight"),
        (np.ones((10, 4)), {"sample_weight": np.ones(3)}, "sample_weight"),
    ],
)
def test_bad_batch_raises_and_leaves_model(X, batch, kw, match):
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:1000])
    before = _state(gm)
    with pytest.raises(ValueError, match=match):
        gm.partial_fit(batch, **kw)
    _assert_unchanged(gm, before)


def test_integer_weights_equal_repeated_rows(X):
    rng = np.random.RandomState(3)
    init = GaussianMixture(3, random_state=0).fit(X[:2000])
    kw = dict(weights_init=init.weights_, means_init=init.means_, precisions_init=init.precisions_)
    a, b = GaussianMixture(3, **kw), GaussianMixture(3, **kw)
    for i in range(2000, 6000, 1000):
        w = rng.randint(1, 4, size=1000)
        a.partial_fit(X[i : i + 1000], sample_weight=w.astype(float))
        b.partial_fit(np.repeat(X[i : i + 1000], w, axis=0))
    for k in FITTED:
        assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-9, err_msg=k)


def test_float32_batches(X):
    gm = GaussianMixture(3, covariance_type="diag", random_state=0)
    for i in range(0, 6000, 1500):
        gm.partial_fit(X[i : i + 1500].astype(np.float32))
    assert gm.means_.dtype == np.float32
    ref = GaussianMixture(3, covariance_type="diag", random_state=0)
    for i in range(0, 6000, 1500):
        ref.partial_fit(X[i : i + 1500])
    assert_allclose(gm.means_, ref.means_, rtol=1e-3, atol=1e-3)


def test_thread_count_does_not_change_results():
    X = blobs(40_000, seed=2)
    runs = []
    for threads in (1, 2):
        gm = GaussianMixture(4, random_state=0, n_threads=threads)
        for i in range(0, len(X), 10_000):
            gm.partial_fit(X[i : i + 10_000])
        runs.append(gm)
    for k in FITTED:
        assert_array_equal(getattr(runs[0], k), getattr(runs[1], k), err_msg=k)


def test_starved_component_is_reseeded(X):
    init = GaussianMixture(3, random_state=0).fit(X)
    means = init.means_.copy()
    means[0] = 1e4  # no point anywhere near: the component starves
    gm = GaussianMixture(3, weights_init=init.weights_, means_init=means, precisions_init=init.precisions_)
    with pytest.warns(RecoveryWarning, match="re-seeded from the batch"):
        gm.partial_fit(X[:2000])
    assert gm.n_recoveries_ >= 1
    assert np.all(np.isfinite(gm.means_)) and np.abs(gm.means_).max() < 100


def test_one_pass_near_full_fit():
    """A smaller instance of issue #17's check (2e6 rows: benchmarks and the
    slow test below): one pass in batches lands within 2e-3 nats per point."""
    X = blobs(200_000, d=8, C=8)
    full = GaussianMixture(8, random_state=0).fit(X)
    gm = online_pass(GaussianMixture(8, random_state=0), X, batch_size=5_000)
    assert full.score(X) - gm.score(X) < 2e-3


@pytest.mark.slow
def test_one_pass_two_million_rows():
    X = blobs(2_000_000, d=8, C=8)
    full = GaussianMixture(8, random_state=0).fit(X)
    gm = online_pass(GaussianMixture(8, random_state=0), X, batch_size=10_000)
    assert full.score(X) - gm.score(X) < 2e-3


def test_online_pass_memmap_and_dask_equal_arrays(X, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    ref = online_pass(GaussianMixture(3, random_state=0), X, batch_size=1000)
    seen = []
    mm = online_pass(GaussianMixture(3, random_state=0), path, batch_size=1000, progress=lambda a, b: seen.append(a))
    assert seen == [1000, 2000, 3000, 4000, 5000, 6000]
    for k in FITTED:
        assert_array_equal(getattr(mm, k), getattr(ref, k), err_msg=k)
    da = pytest.importorskip("dask.array")
    dk = online_pass(GaussianMixture(3, random_state=0), da.from_array(X, chunks=(700, 4)), batch_size=1000)
    for k in FITTED:
        assert_array_equal(getattr(dk, k), getattr(ref, k), err_msg=k)


def test_online_pass_checks_batch_size(X):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        online_pass(GaussianMixture(3), X, batch_size=0)
