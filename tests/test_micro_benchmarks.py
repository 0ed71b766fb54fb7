"""pytest-benchmark micro benchmarks of the kernels.

CI runs them with ``--benchmark-disable`` (see pyproject's addopts): executed once
and checked, not timed. Time them with
``python -m pytest tests/test_micro_benchmarks.py --benchmark-enable``.
"""

import numpy as np
import pytest

from fastgmm._kernels.linalg import _cholesky_inv
from fastgmm.init import kmeans
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import em_stats, m_step, score

pytest.importorskip("pytest_benchmark")


def _model(n, d, c, covariance_type, dtype, seed=0):
    rng = np.random.RandomState(seed)
    X = (rng.uniform(-5, 5, (c, d))[rng.randint(c, size=n)] + rng.standard_normal((n, d))).astype(dtype)
    cov = {
        "full": np.repeat(np.eye(d)[None], c, 0),
        "tied": np.eye(d),
        "diag": np.ones((c, d)),
        "spherical": np.ones(c),
    }[covariance_type]
    return X, GMMParams(np.full(c, 1.0 / c), X[:c].astype(np.float64), cov, covariance_type)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bench_fused_pass(benchmark, covariance_type, dtype):
    X, p = _model(20_000, 8, 8, covariance_type, dtype)
    f = factorize(p)
    st = benchmark(em_stats, X, None, f)
    assert np.isclose(st.nk.sum(), X.shape[0])
    new = m_step(st, covariance_type, 1e-6, float(np.finfo(dtype).eps))
    assert np.all(np.isfinite(new.covariances))


def test_bench_e_step_resp(benchmark):
    X, p = _model(20_000, 8, 8, "full", np.float64)
    resp = np.empty((X.shape[0], 8))
    benchmark(score, X, factorize(p), resp=resp)
    assert np.allclose(resp.sum(axis=1), 1.0)


def test_bench_cholesky(benchmark):
    rng = np.random.RandomState(0)
    a = rng.standard_normal((16, 32, 32))
    cov = a @ a.transpose(0, 2, 1) + 32 * np.eye(32)
    linv = np.empty_like(cov)
    status = np.zeros(16, np.int64)
    logdet = benchmark(_cholesky_inv, cov, linv, status)
    assert not status.any()
    np.testing.assert_allclose(logdet, -0.5 * np.linalg.slogdet(cov)[1], rtol=1e-10)


def test_bench_kmeans(benchmark):
    X, _ = _model(20_000, 8, 8, "full", np.float64)
    centers, labels = benchmark(kmeans, X, 8, np.random.RandomState(0))
    assert centers.shape == (8, 8) and labels.min() >= 0 and labels.max() < 8
