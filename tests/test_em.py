"""The EM driver: agreement with a naive EM loop, the monotone lower bound,
convergence rules, best-of-n_init, collapse recovery and its failure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastgmm import FitFailedError, GaussianMixture, RecoveryWarning
from fastgmm.em import em_run, fit as em_fit
from fastgmm.sources import ArrayData as Data
from fastgmm.params import GMMParams

import naive

COV_TYPES = ["full", "tied", "diag", "spherical"]
MONO_RTOL = {np.float64: 1e-12, np.float32: 1e-6}


def overlapping(seed, n=1500, d=3, C=4, ct="full"):
    """Overlapping clusters: EM needs many small steps (a good monotonicity test)."""
    rng = np.random.RandomState(seed)
    w, m, c = naive.random_params(rng, C, d, ct, spread=1.5)
    return naive.sample_mixture(rng, n, w, m, c, ct)


def assert_valid(weights, means, covariances, ct):
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))
    assert weights.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.all(weights >= 0)
    if ct == "full":
        for c in covariances:
            np.linalg.cholesky(c)
    elif ct == "tied":
        np.linalg.cholesky(covariances)
    else:
        assert np.all(covariances > 0)


def decreases(bounds, rtol):
    b = np.asarray(bounds, dtype=np.float64)
    return np.flatnonzero(b[1:] < b[:-1] - rtol * np.abs(b[:-1]))


# ------------------------------------------------------------ vs naive EM
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_em_run_matches_naive_em(ct, reg_covar):
    """Ten iterations of the driver equal ten iterations of plain EM: the bound
    of every iteration and the final parameters."""
    X = overlapping(1, n=400, d=2, C=3, ct=ct)
    rng = np.random.RandomState(5)
    w, m, c = naive.random_params(rng, 3, 2, ct, spread=1.0)
    res = em_run(
        Data(np.ascontiguousarray(X)), GMMParams(w, m, c, ct),
        tol=0.0, max_iter=10, reg_covar=reg_covar, rng=np.random.RandomState(0),
    )
    (rw, rm, rc), bounds = naive.em(X, w, m, c, ct, reg_covar, n_iter=10)
    assert res.n_iter == 10 and not res.converged and res.n_recoveries == 0
    assert_allclose(res.lower_bounds, bounds, rtol=1e-10)
    assert res.lower_bound == pytest.approx(bounds[-1], rel=1e-10)
    assert_allclose(res.params.weights, rw, rtol=1e-8)
    assert_allclose(res.params.means, rm, rtol=1e-8, atol=1e-8)
    assert_allclose(res.params.covariances, rc, rtol=1e-8, atol=1e-10)


def test_em_run_with_sample_weights_matches_naive_em():
    X = overlapping(2, n=300, d=2, C=2)
    sw = np.random.RandomState(1).uniform(0.1, 2.0, size=len(X))
    w, m, c = naive.random_params(np.random.RandomState(6), 2, 2, "full", spread=1.0)
    res = em_run(
        Data(np.ascontiguousarray(X), sw), GMMParams(w, m, c, "full"),
        tol=0.0, max_iter=6, reg_covar=1e-6, rng=np.random.RandomState(0),
    )
    (rw, rm, rc), bounds = naive.em(X, w, m, c, "full", 1e-6, n_iter=6, sample_weight=sw)
    assert_allclose(res.lower_bounds, bounds, rtol=1e-10)
    assert_allclose(res.params.means, rm, rtol=1e-8, atol=1e-8)
    assert_allclose(res.params.covariances, rc, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- monotone
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_lower_bound_never_decreases(ct, seed, dtype):
    X = overlapping(10 + seed, ct=ct).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning is fine here
        gm = GaussianMixture(4, covariance_type=ct, tol=1e-9, max_iter=150, random_state=seed).fit(X)
    lb = gm.lower_bounds_
    assert gm.n_recoveries_ == 0
    assert len(lb) >= 5, "too few iterations to say anything"
    assert lb[-1] > lb[0]
    assert decreases(lb, MONO_RTOL[dtype]).size == 0, np.diff(lb)
    assert gm.lower_bound_ == lb[-1]


@pytest.mark.parametrize("ct", COV_TYPES)
def test_lower_bound_never_decreases_weighted(ct):
    X = overlapping(20, n=800, ct=ct)
    sw = np.random.RandomState(0).exponential(size=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(4, covariance_type=ct, tol=1e-9, max_iter=100, random_state=0).fit(X, sample_weight=sw)
    assert gm.n_recoveries_ == 0
    assert len(gm.lower_bounds_) >= 5
    assert decreases(gm.lower_bounds_, 1e-12).size == 0


@pytest.mark.parametrize("ct", COV_TYPES)
def test_integer_weights_fit_like_repeated_rows(ct):
    """A whole fit (k-means initialisation included) with integer sample weights
    equals the fit on the rows repeated that many times (zero weight: dropped)."""
    X = np.ascontiguousarray(overlapping(30, n=500, d=2, C=3, ct=ct))
    sw = np.random.RandomState(0).randint(0, 4, size=len(X))
    Xr = np.ascontiguousarray(np.repeat(X, sw, axis=0))
    kw = dict(tol=1e-6, max_iter=100)
    a, _ = em_fit(Data(X, sw.astype(np.float64)), 3, ct, random_state=np.random.RandomState(0), **kw)
    b, _ = em_fit(Data(Xr), 3, ct, random_state=np.random.RandomState(0), **kw)
    assert a.n_iter == b.n_iter
    assert_allclose(a.lower_bounds, b.lower_bounds, rtol=1e-12)
    assert_allclose(a.params.weights, b.params.weights, rtol=1e-10)
    assert_allclose(a.params.means, b.params.means, rtol=1e-10, atol=1e-12)
    assert_allclose(a.params.covariances, b.params.covariances, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_every_initialisation_gives_a_valid_monotone_fit(init_params, ct):
    X = np.ascontiguousarray(overlapping(31, n=600, d=2, C=3, ct=ct))
    res, n_rec = em_fit(Data(X), 3, ct, tol=1e-8, max_iter=100, init_params=init_params,
                        random_state=np.random.RandomState(2))
    assert_valid(res.params.weights, res.params.means, res.params.covariances, ct)
    assert n_rec == 0 and len(res.lower_bounds) >= 2
    assert decreases(res.lower_bounds, 1e-12).size == 0
    # the bound of the final parameters is at least the last recorded one (EM ascent)
    final = naive.log_likelihood(X, res.params.weights, res.params.means, res.params.covariances, ct) / len(X)
    assert final >= res.lower_bounds[-1] - 1e-12 * abs(final)


# ------------------------------------------------------------- convergence
def test_absolute_tolerance_rule():
    X = np.ascontiguousarray(overlapping(3, n=600, d=2, C=3))
    res, _ = em_fit(Data(X), 3, "full", tol=1e-4, max_iter=500, random_state=np.random.RandomState(0))
    b = res.lower_bounds
    assert res.converged
    assert abs(b[-1] - b[-2]) < 1e-4
    assert all(abs(b[i] - b[i - 1]) >= 1e-4 for i in range(1, len(b) - 1))
    assert res.n_iter == len(b)


def test_relative_tolerance_rule():
    X = np.ascontiguousarray(overlapping(4, n=600, d=2, C=3))
    w, m, c = naive.random_params(np.random.RandomState(1), 3, 2, "full", spread=1.0)
    res = em_run(Data(X), GMMParams(w, m, c, "full"), tol=1e-5, max_iter=1000, reg_covar=1e-6,
                 rng=np.random.RandomState(0), rtol=True)
    b = res.lower_bounds
    assert res.converged and len(b) >= 3
    assert abs((b[-1] - b[-2]) / b[-2]) <= 1e-5
    assert all(abs((b[i] - b[i - 1]) / b[i - 1]) > 1e-5 for i in range(1, len(b) - 1))


def test_max_iter_stops_without_convergence():
    X = np.ascontiguousarray(overlapping(5, n=600))
    res, _ = em_fit(Data(X), 4, "full", tol=0.0, max_iter=7, random_state=np.random.RandomState(0))
    assert res.n_iter == 7 and len(res.lower_bounds) == 7 and not res.converged


def test_best_of_n_init():
    """n_init runs draw their initialisations in turn from one generator; the
    best bound wins."""
    X = np.ascontiguousarray(overlapping(6, n=600, d=2, C=4))
    kw = dict(tol=1e-6, max_iter=200)
    best, _ = em_fit(Data(X), 4, "full", n_init=4, random_state=np.random.RandomState(3), **kw)
    rng = np.random.RandomState(3)
    singles = [em_fit(Data(X), 4, "full", n_init=1, random_state=rng, **kw)[0].lower_bound for _ in range(4)]
    assert best.lower_bound == max(singles)
    assert len(set(np.round(singles, 8))) > 1, "the runs should differ for this test to mean anything"


# -------------------------------------------------------- collapse recovery
def two_blobs(seed=0, n=300):
    rng = np.random.RandomState(seed)
    return np.ascontiguousarray(np.vstack([rng.standard_normal((n // 2, 2)), rng.standard_normal((n - n // 2, 2)) + 4.0]))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_recovery_from_vanishing_component(ct):
    """A component placed far from all data loses its weight on the first
    E-step; it is re-seeded and the fit ends healthy."""
    X = two_blobs()
    gm = GaussianMixture(3, covariance_type=ct, means_init=[[0.0, 0.0], [4.0, 4.0], [1e3, -1e3]], random_state=0)
    with pytest.warns(RecoveryWarning):
        gm.fit(X)
    assert gm.n_recoveries_ > 0
    assert_valid(gm.weights_, gm.means_, gm.covariances_, ct)
    assert np.all(gm.weights_ > 1e-3)
    assert np.all(np.abs(gm.means_) < 20)  # nothing left out at 1e3
    assert np.all(np.isfinite(gm.lower_bounds_))
    # the bound may drop at a re-seed, and only there
    assert decreases(gm.lower_bounds_, 1e-12).size <= gm.n_recoveries_
    resp = gm.predict_proba(X)
    assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_recovery_from_singular_covariance(ct):
    """A covariance that is not positive definite (reg_covar=0) is re-seeded
    instead of raising or producing NaN."""
    X = two_blobs(1)
    d = 2
    cov = {"full": np.stack([np.eye(d), np.eye(d), np.zeros((d, d))]),
           "diag": np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]]),
           "spherical": np.array([1.0, 1.0, 0.0])}[ct]
    p = GMMParams(np.full(3, 1 / 3), np.array([[0.0, 0.0], [4.0, 4.0], [2.0, 2.0]]), cov, ct)
    res = em_run(Data(X), p, tol=1e-6, max_iter=200, reg_covar=0.0, rng=np.random.RandomState(0))
    assert res.n_recoveries >= 1
    assert_valid(res.params.weights, res.params.means, res.params.covariances, ct)
    assert np.isfinite(res.lower_bound)


def test_recovery_of_tied_covariance():
    X = two_blobs(2)
    p = GMMParams(np.full(2, 0.5), np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([[1.0, 1.0], [1.0, 1.0]]), "tied")
    res = em_run(Data(X), p, tol=1e-6, max_iter=200, reg_covar=0.0, rng=np.random.RandomState(0))
    assert res.n_recoveries >= 1
    assert_valid(res.params.weights, res.params.means, res.params.covariances, "tied")


def test_recovery_from_zero_initial_weight():
    X = two_blobs(3)
    gm = GaussianMixture(3, weights_init=[0.5, 0.5, 0.0], random_state=0)
    with pytest.warns(RecoveryWarning):
        gm.fit(X)
    assert gm.n_recoveries_ > 0
    assert_valid(gm.weights_, gm.means_, gm.covariances_, "full")
    assert gm.weights_.min() > 1e-3


def test_recovery_warning_is_a_user_warning():
    assert issubclass(RecoveryWarning, UserWarning)
    assert issubclass(FitFailedError, ValueError)


def test_no_recovery_no_warning():
    X = two_blobs(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecoveryWarning)
        gm = GaussianMixture(2, random_state=0).fit(X)
    assert gm.n_recoveries_ == 0


@pytest.mark.parametrize("ct", COV_TYPES)
def test_fit_failed_when_recovery_is_impossible(ct):
    """All rows identical and no regularisation: every covariance is singular,
    re-seeding cannot help."""
    X = np.ones((50, 2))
    with pytest.raises(FitFailedError) as info:
        GaussianMixture(2, covariance_type=ct, reg_covar=0.0, random_state=0).fit(X)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "reg_covar" in msg or "distinct" in msg
    assert "component" in msg


def test_fit_failed_from_driver():
    X = np.full((40, 3), 2.5)
    with pytest.raises(FitFailedError, match="reg_covar"):
        em_fit(Data(X), 2, "full", reg_covar=0.0, random_state=np.random.RandomState(0))


def test_identical_rows_with_regularisation_fit():
    """The same data fits once reg_covar > 0: the failure was only the singularity."""
    X = np.ones((50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(1, reg_covar=1e-6, random_state=0).fit(X)
    assert_allclose(gm.means_, [[1.0, 1.0]])
    assert_allclose(gm.covariances_, [1e-6 * np.eye(2)], rtol=1e-6)


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_single_point_component_has_variance_reg_covar(ct):
    """Seven points and one outlier, two components: the outlier's component has
    zero scatter, so its variance is exactly reg_covar (scikit-learn's invariant:
    a covariance is never below reg_covar)."""
    X = 100.0 * np.array([[255.07], [144.93], [149.74], [201.12], [174.47], [305.49], [236.17], [717.79]])
    res, _ = em_fit(Data(X), 2, ct, reg_covar=1e-6, random_state=np.random.RandomState(0))
    k = int(np.argmin(res.params.weights))
    assert res.params.weights[k] == pytest.approx(1 / 8, rel=1e-6)
    assert res.params.means[k, 0] == pytest.approx(71779.0, rel=1e-12)
    assert np.ravel(res.params.covariances[k]) == pytest.approx(1e-6, rel=1e-3)


def test_a_later_run_must_beat_the_best_by_more_than_rounding():
    """n_init's choice: higher wins, -inf always loses (scikit-learn's rule);
    bounds within 10 eps (relative) are a tie the earlier run keeps, so runs
    that reach one optimum with the components permuted give the same fit
    from every data source (here: a gain in the last bit of float64)."""
    from fastgmm.em import improves

    eps64, eps32 = float(np.finfo(np.float64).eps), float(np.finfo(np.float32).eps)
    assert improves(-5.1, -np.inf, eps64) and improves(-np.inf, -np.inf, eps64)
    assert improves(-5.0, -5.1, eps64) and not improves(-5.1, -5.0, eps64)
    assert not improves(-5.207443733037298, -5.207443733037299, eps64)
    assert improves(-5.2074437330, -5.2074437331, eps64)  # 1e-11: a real gain in float64
    assert not improves(-5.2074437330, -5.2074437331, eps32)  # within float32's rounding
    assert not improves(1e-20, 0.0, eps64)  # near zero the tie is absolute (10 eps)
