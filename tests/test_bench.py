"""``fastgmm bench``'s peers: each timed in its own process from the same start,
and oneDAL's ``em_gmm`` as an independent reference for one EM iteration."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from fastgmm import bench
from fastgmm.bench import _init_covariances, bench_shape, make_data, parse_peers, peer_supports
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import em_stats, m_step

HAVE_DAAL = importlib.util.find_spec("daal4py") is not None


def test_parse_peers():
    assert parse_peers("sklearn") == ("sklearn",)
    assert parse_peers(" sklearn , sklearn ") == ("sklearn",)
    with pytest.raises(ValueError, match="unknown peer 'torch'"):
        parse_peers("sklearn,torch")
    with pytest.raises(ValueError, match="onedal has no variational"):
        parse_peers("onedal", model="bayesian")


def test_onedal_missing_names_the_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ValueError, match="pip install scikit-learn-intelex"):
        parse_peers("sklearn,onedal")


def test_peer_supports():
    assert peer_supports("sklearn", "tied") and peer_supports("onedal", "diag")
    assert not peer_supports("onedal", "tied") and not peer_supports("onedal", "spherical")
    assert not peer_supports("onedal", "full", model="bayesian")


def test_worker_prints_one_timing():
    proc = subprocess.run(
        [sys.executable, "-m", "fastgmm.bench", "--worker", "sklearn", "--shapes", "2000,3,2",
         "--threads", "1", "--iters", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {"ms", "ll", "peak_mb"} and out["ms"] > 0
    # the worker regenerates the same seeded data and start: its log-likelihood is fastgmm's
    here = bench.time_library("fastgmm", 2000, 3, 2, "full", np.float64, 1, n_iter=1)
    assert out["ll"] == pytest.approx(here["ll"], rel=1e-10)


def test_bench_shape_sklearn_peer():
    r = bench_shape(3000, 3, 3, "diag", np.float64, 1, n_iter=1)
    assert set(r.peers) == {"sklearn"}
    sk = r.peers["sklearn"]
    assert sk.loglik_rel_diff < 1e-10
    assert sk.ratio == pytest.approx(sk.ms / r.fastgmm_ms)


@pytest.mark.skipif(not HAVE_DAAL, reason="daal4py (scikit-learn-intelex) not installed")
def test_bench_shape_onedal_peer():
    r = bench_shape(3000, 3, 3, "full", np.float64, 1, n_iter=1, peers=("onedal",))
    assert r.peers["onedal"].loglik_rel_diff < 1e-10 and r.peers["onedal"].ms > 0
    tied = bench_shape(3000, 3, 3, "tied", np.float64, 1, n_iter=1, peers=("onedal",))
    assert math.isnan(tied.peers["onedal"].ms)  # oneDAL has no tied covariance: not run
    md = bench.to_markdown([r, tied], bench.machine_info([1], ("onedal",)))
    assert "vs onedal" in md and "n/a" in md


@pytest.mark.skipif(not HAVE_DAAL, reason="daal4py (scikit-learn-intelex) not installed")
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_iteration_equals_onedal(covariance_type, dtype):
    """oneDAL's em_gmm, one iteration from the same start: its goal function is
    our pass's log-likelihood and its M-step our m_step (reg_covar 0)."""
    import daal4py as d4p

    c = 4
    X, w0, m0, cov = make_data(20000, 5, c, dtype, seed=3)
    c0 = _init_covariances(cov, c, covariance_type)
    full = covariance_type == "full"
    covs = [np.ascontiguousarray(c0[k] if full else c0[k][None, :], dtype=dtype) for k in range(c)]
    alg = d4p.em_gmm(
        nComponents=c, maxIterations=1, accuracyThreshold=0.0,
        fptype="double" if dtype == np.float64 else "float",
        covarianceStorage="full" if full else "diagonal",
    )
    res = alg.compute(X, w0[None, :].astype(dtype), m0.astype(dtype), covs)
    st = em_stats(X, None, factorize(GMMParams(w0, m0, c0, covariance_type)))
    ll = st.ll
    p = m_step(st, covariance_type, 0.0, float(np.finfo(dtype).eps))
    tol = 1e-10 if dtype == np.float64 else 2e-4
    assert float(res.goalFunction[0, 0]) == pytest.approx(ll, rel=tol)
    np.testing.assert_allclose(np.ravel(res.weights), p.weights, rtol=tol, atol=tol)
    np.testing.assert_allclose(res.means, p.means, rtol=tol, atol=tol * 10)
    dal_cov = np.array([np.asarray(a) for a in res.covariances]).reshape(p.covariances.shape)
    np.testing.assert_allclose(dal_cov, p.covariances, rtol=tol * 10, atol=tol * 10)
