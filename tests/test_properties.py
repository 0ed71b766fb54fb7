"""Property-based tests (hypothesis) over random shapes, scales and dtypes.

Data are drawn from a seed (not element by element), so examples are cheap and
shrink to small shapes; every test keeps ``max_examples`` small.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import fastgmm
from fastgmm import FitFailedError, GaussianMixture
import naive

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
SETTINGS = dict(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, dtypes=(np.float64, np.float32), scales=(-3.0, 3.0)):
    """(X, n_components, covariance_type): blobs at a random scale and offset."""
    C = draw(st.integers(1, 3))
    d = draw(st.integers(1, 4))
    n = draw(st.integers(max(8, 4 * C), 80))
    seed = draw(st.integers(0, 2**32 - 1))
    log_scale = draw(st.floats(*scales))
    offset = draw(st.sampled_from([0.0, 1.0, 100.0]))
    dtype = draw(st.sampled_from(dtypes))
    ct = draw(st.sampled_from(COVARIANCE_TYPES))
    rng = np.random.RandomState(seed % (2**32))
    centers = rng.randn(C, d) * 4
    X = centers[rng.randint(0, C, n)] + rng.randn(n, d)
    X = (X + offset) * 10.0**log_scale
    return X.astype(dtype), C, ct


def _fit(X, C, ct, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return GaussianMixture(C, covariance_type=ct, random_state=0, **kw).fit(X)
        except FitFailedError:  # documented outcome for collapsing data; not what is tested here
            assume(False)


def _full_covariances(g):
    """(C, d, d) covariance matrices of any covariance type."""
    C, d = g.means_.shape
    return naive.full_covariances(np.asarray(g.covariances_, np.float64), g.covariance_type, C, d)


@settings(**SETTINGS)
@given(problems())
def test_responsibilities_finite_and_normalised(problem):
    X, C, ct = problem
    g = _fit(X, C, ct)
    proba = g.predict_proba(X)
    assert proba.dtype == X.dtype and proba.shape == (len(X), C)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    tol = 1e-12 if X.dtype == np.float64 else 1e-5
    assert_allclose(proba.sum(1), 1.0, rtol=0, atol=tol * 10)
    assert np.all(np.isfinite(g.score_samples(X)))
    # far-away points too
    far = np.full((2, X.shape[1]), 1e6 * (1 + np.abs(X).max()), dtype=X.dtype)
    assert np.all(np.isfinite(g.predict_proba(far)))


@settings(**SETTINGS)
@given(problems(dtypes=(np.float64,)))
def test_lower_bound_never_decreases_without_reseed(problem):
    # reg_covar=0: EM proper. With reg_covar > 0 the M-step is not the exact
    # maximiser and the bound can fall by ~reg_covar-sized amounts near
    # convergence -- scikit-learn's bounds do exactly the same.
    X, C, ct = problem
    g = _fit(X, C, ct, tol=0.0, max_iter=30, reg_covar=0.0)
    assume(g.n_recoveries_ == 0)
    lb = np.asarray(g.lower_bounds_)
    assert np.all(np.isfinite(lb))
    # round-off only: the bound is a mean of per-point log-likelihoods
    slack = 1e-9 * (1.0 + np.abs(lb[:-1]))
    assert np.all(np.diff(lb) >= -slack), np.diff(lb).min()


@settings(**SETTINGS)
@given(problems(dtypes=(np.float32,)))
def test_lower_bound_never_decreases_without_reseed_float32(problem):
    X, C, ct = problem
    g = _fit(X, C, ct, tol=0.0, max_iter=30, reg_covar=0.0)
    assume(g.n_recoveries_ == 0)
    lb = np.asarray(g.lower_bounds_)
    assert np.all(np.isfinite(lb))
    slack = 1e-5 * (1.0 + np.abs(lb[:-1]))
    assert np.all(np.diff(lb) >= -slack), np.diff(lb).min()


#: float32 covariances_ / precisions_ are the float64 matrices rounded to float32:
#: each entry moves by at most eps/2 times the matrix's largest eigenvalue, so each
#: eigenvalue by at most d * eps/2 times it (d <= 4 in these problems). A matrix
#: positive definite in float64 may so have a slightly negative smallest eigenvalue
#: in float32 (seen: -1.7e-2 against a largest of 3.3e6). The check allows
#: PD_ROUND_OFF * eps * largest: twice that bound.
PD_ROUND_OFF = 4.0


def _assert_positive_definite(mats, dtype, what):
    """Every matrix of ``mats`` (..., d, d) is positive definite: strictly for
    float64, up to ``dtype``'s round-off relative to its largest eigenvalue
    otherwise."""
    mats = np.asarray(mats, np.float64)
    eig = np.linalg.eigvalsh(mats.reshape((-1,) + mats.shape[-2:]))  # ascending
    smallest, largest = eig[:, 0], eig[:, -1]
    assert np.all(largest > 0), (what, largest)
    if np.dtype(dtype) == np.float64:
        assert np.all(smallest > 0), (what, smallest)
    else:
        slack = PD_ROUND_OFF * np.finfo(dtype).eps * largest
        assert np.all(smallest > -slack), (what, smallest, largest)


@settings(**SETTINGS)
@given(problems())
def test_fitted_covariances_positive_definite(problem):
    X, C, ct = problem
    g = _fit(X, C, ct)
    for attr in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(g, attr))), attr
        assert getattr(g, attr).dtype == X.dtype
    assert_allclose(g.weights_.sum(), 1.0, rtol=1e-5)
    prec = np.asarray(g.precisions_, np.float64)
    if ct in ("full", "tied"):
        _assert_positive_definite(_full_covariances(g), X.dtype, "covariances_")
        _assert_positive_definite(prec, X.dtype, "precisions_")
    else:
        # variances and precisions stored one by one: positive in any dtype
        assert np.all(np.asarray(g.covariances_, np.float64) > 0)
        assert np.all(prec > 0)


@settings(**SETTINGS)
@given(problems(dtypes=(np.float64,)), st.integers(0, 2**32 - 1))
def test_row_permutation_changes_parameters_only_at_round_off(problem, perm_seed):
    X, C, ct = problem
    rng = np.random.RandomState(perm_seed)
    d = X.shape[1]
    scale = float(X.std()) or 1.0
    var = scale**2
    init = dict(
        weights_init=np.full(C, 1.0 / C),
        means_init=X[rng.choice(len(X), C, replace=False)],
        precisions_init={
            "full": np.repeat(np.eye(d)[None] / var, C, 0),
            "tied": np.eye(d) / var,
            "diag": np.full((C, d), 1.0 / var),
            "spherical": np.full(C, 1.0 / var),
        }[ct],
    )
    perm = rng.permutation(len(X))
    a = _fit(X, C, ct, max_iter=5, tol=0.0, **init)
    b = _fit(X[perm], C, ct, max_iter=5, tol=0.0, **init)
    assume(a.n_recoveries_ == 0 and b.n_recoveries_ == 0)
    # round-off scales with the covariances' condition: a component of two collinear
    # points (eigenvalue at reg_covar, condition 2e10) moved score_samples by 4e-7
    assume(np.linalg.cond(_full_covariances(a)).max() < 1e8)
    assert_allclose(b.weights_, a.weights_, rtol=1e-7, atol=1e-9)
    assert_allclose(b.means_, a.means_, rtol=1e-7, atol=1e-8 * (scale + np.abs(X).max()))
    assert_allclose(b.covariances_, a.covariances_, rtol=1e-6, atol=1e-8 * var)
    # five iterations from the start, not converged: the bound moves with the parameters'
    # round-off at first order (3.3e-9 relative seen on data of magnitude 1e3)
    assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-7, atol=1e-9)
    assert_allclose(b.score_samples(X), a.score_samples(X), rtol=1e-7, atol=1e-7)


@settings(**SETTINGS)
@given(problems())
def test_score_samples_equals_scipy_reference(problem):
    X, C, ct = problem
    g = _fit(X, C, ct)
    X64 = X.astype(np.float64)
    covs = _full_covariances(g)
    # The reference needs well-conditioned covariances: SciPy refuses matrices
    # with eigenvalues below ~1e-10 of the largest, and a float32 covariances_
    # (stored rounded) of condition ~1e4 no longer determines the density that
    # the float32 model scores with.
    assume(np.linalg.cond(covs).max() < (1e8 if X.dtype == np.float64 else 1e3))
    lp = np.stack(
        [np.log(w) + multivariate_normal(m, c, allow_singular=False).logpdf(X64).reshape(-1)
         for w, m, c in zip(np.asarray(g.weights_, np.float64), np.asarray(g.means_, np.float64), covs)],
        axis=1,
    )
    ref = logsumexp(lp, axis=1)
    got = g.score_samples(X)
    if X.dtype == np.float64:
        assert_allclose(got, ref, rtol=1e-8, atol=1e-8)
        assert_allclose(g.predict_proba(X), np.exp(lp - ref[:, None]), rtol=1e-6, atol=1e-10)
    else:
        # float32 arithmetic on float32 parameters: ~1e-7 relative per operation,
        # amplified by the Mahalanobis term (up to ~d * 1e2 in these data)
        assert_allclose(got, ref, rtol=1e-3, atol=1e-3 * (1 + np.abs(ref).max()))


@settings(**SETTINGS)
@given(problems(dtypes=(np.float64,)))
def test_classic_e_step_and_bound_against_scipy(problem):
    X, C, _ = problem
    g = _fit(X, C, "full")
    pi, mu, sigma = g.weights_, g.means_, g.covariances_
    assume(np.linalg.cond(sigma).max() < 1e8)  # see test_score_samples_equals_scipy_reference
    lp = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X).reshape(-1) for w, m, c in zip(pi, mu, sigma)], axis=1)
    ll = logsumexp(lp, axis=1)
    gamma = fastgmm.E_step(X, pi, mu, sigma)
    assert_allclose(gamma, np.exp(lp - ll[:, None]), rtol=1e-6, atol=1e-10)
    # at the posterior the bound equals the log-likelihood
    assert_allclose(fastgmm.compute_vlb(X, pi, mu, sigma, gamma), ll.sum(), rtol=1e-8, atol=1e-6)
