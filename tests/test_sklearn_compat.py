"""fastgmm.GaussianMixture as a drop-in for sklearn.mixture.GaussianMixture.

* scikit-learn's own estimator checks (``parametrize_with_checks``);
* bit-for-bit-ish agreement (rtol 1e-8, float64) with scikit-learn from the same
  explicit initial parameters, for every covariance type and every method;
* agreement for the built-in initialisations, ``n_init``, ``warm_start``,
  ``max_iter=0`` and ``verbose`` output;
* fit quality of the default (k-means) initialisation over several seeds;
* meta-estimators: clone, Pipeline, GridSearchCV.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGMM
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastgmm import GaussianMixture

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


# ----------------------------------------------------------------------------- checks
def _expected_failed_checks(estimator):
    # Every scikit-learn 1.9 check passes; nothing is expected to fail.
    # (check_array_api_input skips itself unless SCIPY_ARRAY_API=1 is set: the
    # estimator takes NumPy arrays only, which is also scikit-learn's default.)
    return {}


@parametrize_with_checks([GaussianMixture()], expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(600, n_features=3, centers=3, cluster_std=1.5, random_state=0)
    return X


def _explicit_init(X, covariance_type, n_components=3, seed=0):
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = X[rng.choice(X.shape[0], n_components, replace=False)]
    A = rng.randn(n_components, d, d)
    covs = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    precisions = {
        "full": np.linalg.inv(covs),
        "tied": np.linalg.inv(covs[0]),
        "diag": 1.0 / np.diagonal(covs, axis1=1, axis2=2),
        "spherical": rng.uniform(0.3, 2.0, n_components),
    }[covariance_type]
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


def _close(a, b, rtol, what=""):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-4 * scale, err_msg=what)


def _fit_both(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGMM(**kw).fit(X)
        fg = GaussianMixture(**kw).fit(X)
    return sk, fg


def _assert_same_model(sk, fg, X, rtol, bounds=True):
    for attr in FITTED:
        _close(getattr(fg, attr), getattr(sk, attr), rtol, attr)
    if bounds:
        _close(fg.lower_bound_, sk.lower_bound_, rtol, "lower_bound_")
        _close(fg.lower_bounds_, sk.lower_bounds_, rtol, "lower_bounds_")
        assert fg.n_iter_ == sk.n_iter_
        assert fg.converged_ == sk.converged_
    _close(fg.predict_proba(X), sk.predict_proba(X), rtol, "predict_proba")
    _close(fg.score_samples(X), sk.score_samples(X), rtol, "score_samples")
    _close(fg.score(X), sk.score(X), rtol, "score")
    _close(fg.bic(X), sk.bic(X), rtol, "bic")
    _close(fg.aic(X), sk.aic(X), rtol, "aic")
    assert_array_equal(fg.predict(X), sk.predict(X))


# ------------------------------------------------------- same explicit init, same model
@pytest.mark.parametrize("max_iter", [1, 25])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_explicit_init_matches_sklearn(blobs, covariance_type, max_iter):
    init = _explicit_init(blobs, covariance_type)
    sk, fg = _fit_both(
        blobs, n_components=3, covariance_type=covariance_type, max_iter=max_iter, tol=0, **init
    )
    assert sk.n_iter_ == fg.n_iter_ == max_iter
    _assert_same_model(sk, fg, blobs, rtol=1e-8)
    # fresh data as well as the training data
    X_new = np.random.RandomState(1).randn(50, 3) * 4
    _close(fg.score_samples(X_new), sk.score_samples(X_new), 1e-8)
    _close(fg.predict_proba(X_new), sk.predict_proba(X_new), 1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_explicit_init_matches_sklearn_converged(blobs, covariance_type):
    """Default tol: both stop at the same iteration."""
    init = _explicit_init(blobs, covariance_type, seed=3)
    sk, fg = _fit_both(blobs, n_components=3, covariance_type=covariance_type, **init)
    assert sk.converged_ and fg.converged_
    _assert_same_model(sk, fg, blobs, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_explicit_init_matches_sklearn(blobs, covariance_type):
    """means_init alone (the rest from k-means), as scikit-learn combines them."""
    init = _explicit_init(blobs, covariance_type, seed=5)
    sk, fg = _fit_both(
        blobs, n_components=3, covariance_type=covariance_type, max_iter=10, tol=0,
        means_init=init["means_init"], random_state=0,
    )
    _assert_same_model(sk, fg, blobs, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_matches_sklearn(blobs, covariance_type):
    init = _explicit_init(blobs, covariance_type)
    sk, fg = _fit_both(
        blobs, n_components=3, covariance_type=covariance_type, max_iter=5, tol=0,
        random_state=7, **init,
    )
    Xs, ys = sk.sample(40)
    Xf, yf = fg.sample(40)
    assert_array_equal(yf, ys)
    _close(Xf, Xs, 1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_close_to_sklearn(blobs, covariance_type):
    X = blobs.astype(np.float32)
    init = _explicit_init(blobs, covariance_type)
    sk, fg = _fit_both(X, n_components=3, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    for attr in FITTED:
        # (scikit-learn keeps float64 for some attributes when the init arrays are float64)
        assert getattr(fg, attr).dtype == np.float32
        _close(getattr(fg, attr), getattr(sk, attr), 1e-3, attr)
    _close(fg.score_samples(X), sk.score_samples(X), 1e-4)
    assert_allclose(fg.predict_proba(X), sk.predict_proba(X), rtol=0, atol=1e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_dtypes_like_sklearn(blobs, covariance_type):
    X = blobs.astype(np.float32)
    sk, fg = _fit_both(X, n_components=3, covariance_type=covariance_type, random_state=0)
    for attr in FITTED:
        assert getattr(fg, attr).dtype == getattr(sk, attr).dtype == np.float32, attr
    assert fg.predict_proba(X).dtype == sk.predict_proba(X).dtype == np.float32
    assert fg.score_samples(X).dtype == sk.score_samples(X).dtype == np.float32
    for attr in FITTED:
        _close(getattr(fg, attr), getattr(sk, attr), 1e-3, attr)
    _close(fg.score_samples(X), sk.score_samples(X), 1e-4)
    assert_allclose(fg.predict_proba(X), sk.predict_proba(X), rtol=0, atol=1e-4)


# --------------------------------------------------------------- built-in initialisations
def _init_cases():
    for init in INIT_PARAMS:
        for ct in COVARIANCE_TYPES:
            marks = []
            if ct == "tied" and init in ("k-means++", "random_from_data"):
                marks = [pytest.mark.xfail(
                    strict=True,
                    reason="deliberate difference: for initialisations that label only the "
                    "seed rows, scikit-learn's tied covariance uses the raw X.T @ X of all "
                    "rows (not translation invariant) and its initial weights do not sum to "
                    "1; fastgmm's are centred and normalised (em.params_from_assignments)",
                )]
            yield pytest.param(init, ct, marks=marks, id=f"{init}-{ct}")


@pytest.mark.parametrize("init_params,covariance_type", list(_init_cases()))
def test_builtin_init_matches_sklearn(covariance_type, init_params):
    """fastgmm's k-means, k-means++ and random draws reproduce scikit-learn's
    for the same random_state, so the whole fit agrees."""
    X, _ = make_blobs(500, n_features=3, centers=4, cluster_std=2.0, random_state=3)
    sk, fg = _fit_both(
        X, n_components=4, covariance_type=covariance_type, init_params=init_params,
        random_state=0, max_iter=30, tol=0,
    )
    _assert_same_model(sk, fg, X, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_init_matches_sklearn(blobs, covariance_type):
    sk, fg = _fit_both(blobs, n_components=3, covariance_type=covariance_type, n_init=3, random_state=1)
    _assert_same_model(sk, fg, blobs, rtol=1e-6)


def test_warm_start_matches_sklearn(blobs):
    kw = dict(n_components=3, max_iter=3, warm_start=True, random_state=0, tol=1e-6)
    sk, fg = SkGMM(**kw), GaussianMixture(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(4):
            sk.fit(blobs)
            fg.fit(blobs)
            _assert_same_model(sk, fg, blobs, rtol=1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_zero_matches_sklearn(blobs, covariance_type):
    """max_iter=0 returns the initialisation (scikit-learn's 'init only' use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no warning for max_iter=0
        sk, fg = _fit_both(blobs, n_components=3, covariance_type=covariance_type, max_iter=0, random_state=0)
    assert fg.n_iter_ == sk.n_iter_ == 0
    assert fg.lower_bound_ == sk.lower_bound_ == -np.inf
    assert fg.lower_bounds_ == list(sk.lower_bounds_) == []
    assert fg.converged_ is False
    _assert_same_model(sk, fg, blobs, rtol=1e-7, bounds=False)


def test_max_iter_zero_n_init_matches_sklearn(blobs):
    sk, fg = _fit_both(blobs, n_components=3, max_iter=0, n_init=3, random_state=0)
    _close(fg.means_, sk.means_, 1e-7)


def _mask_times(text):
    return re.sub(r"time lapse [0-9.]+s", "time lapse Ts", text)


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_output_matches_sklearn(blobs, capsys, verbose):
    kw = dict(n_components=3, verbose=verbose, verbose_interval=2, n_init=2, max_iter=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SkGMM(**kw).fit(blobs)
        sk_out = capsys.readouterr().out
        GaussianMixture(**kw).fit(blobs)
        fg_out = capsys.readouterr().out
    assert "Initialization 1" in fg_out and "  Iteration 2" in fg_out
    assert _mask_times(fg_out) == _mask_times(sk_out)


def test_verbose_output_max_iter_zero_matches_sklearn(blobs, capsys):
    kw = dict(n_components=3, verbose=2, max_iter=0, random_state=0)
    SkGMM(**kw).fit(blobs)
    sk_out = capsys.readouterr().out
    GaussianMixture(**kw).fit(blobs)
    fg_out = capsys.readouterr().out
    assert _mask_times(fg_out) == _mask_times(sk_out)


# ------------------------------------------------------------------------- fit quality
QUALITY_SEEDS = range(5)


@pytest.fixture(scope="module")
def quality_data():
    X, _ = make_blobs(2000, n_features=3, centers=8, cluster_std=2.0, center_box=(-10, 10), random_state=7)
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_fit_quality_vs_sklearn(quality_data, covariance_type):
    """Default parameters (k-means initialisation, tol=1e-3): over 5 seeds,
    fastgmm's mean final lower bound is at least scikit-learn's mean, to the
    convergence tolerance (runs stop within tol of their optimum, and the two
    k-means may end in different local optima for a seed).

    Measured (2000 x 3, 8 overlapping blobs): mean difference fastgmm - sklearn
    -4.3e-4 full, -2.5e-4 tied, -5.8e-4 diag, -3.3e-4 spherical."""
    X = quality_data
    sk = [SkGMM(8, covariance_type=covariance_type, random_state=s).fit(X).lower_bound_ for s in QUALITY_SEEDS]
    fg = [GaussianMixture(8, covariance_type=covariance_type, random_state=s).fit(X).lower_bound_ for s in QUALITY_SEEDS]
    assert all(np.isfinite(fg))
    assert np.mean(fg) >= np.mean(sk) - 1e-3, (fg, sk)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_converged_fit_quality_vs_sklearn(quality_data, covariance_type):
    """Run to convergence (tol=1e-6): the mean bound over 5 seeds is at least
    scikit-learn's to 1e-4. Measured: +1.3e-4 full, +1.9e-6 tied, -5.5e-7 diag,
    +1.5e-7 spherical."""
    X = quality_data
    kw = dict(covariance_type=covariance_type, tol=1e-6, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = [SkGMM(8, random_state=s, **kw).fit(X).lower_bound_ for s in QUALITY_SEEDS]
        fg = [GaussianMixture(8, random_state=s, **kw).fit(X).lower_bound_ for s in QUALITY_SEEDS]
    assert np.mean(fg) >= np.mean(sk) - 1e-4, (fg, sk)


# ------------------------------------------------------------------ meta-estimators
def test_clone_keeps_params_and_drops_fit(blobs):
    init = _explicit_init(blobs, "diag")
    est = GaussianMixture(3, covariance_type="diag", n_threads=1, reg_covar=1e-4, **init).fit(blobs)
    c = clone(est)
    assert not hasattr(c, "means_")
    for k, v in est.get_params().items():
        w = c.get_params()[k]
        if isinstance(v, np.ndarray):
            assert_array_equal(w, v)
        else:
            assert w == v
    _close(c.fit(blobs).means_, est.means_, 0)


def test_pipeline(blobs):
    kw = dict(n_components=3, random_state=0)
    pf = make_pipeline(StandardScaler(), GaussianMixture(**kw)).fit(blobs)
    ps = make_pipeline(StandardScaler(), SkGMM(**kw)).fit(blobs)
    assert_array_equal(pf.predict(blobs), ps.predict(blobs))
    _close(pf.score(blobs), ps.score(blobs), 1e-7)
    _close(pf.score_samples(blobs), ps.score_samples(blobs), 1e-7)
    _close(pf.predict_proba(blobs), ps.predict_proba(blobs), 1e-7)


def test_grid_search_cv(blobs):
    X = blobs[:300]
    grid = {"n_components": [1, 2, 3], "covariance_type": ["full", "spherical"]}
    gf = GridSearchCV(GaussianMixture(random_state=0), grid, cv=3).fit(X)
    gs = GridSearchCV(SkGMM(random_state=0), grid, cv=3).fit(X)
    assert gf.best_params_ == gs.best_params_
    _close(gf.cv_results_["mean_test_score"], gs.cv_results_["mean_test_score"], 1e-6)
    assert isinstance(gf.best_estimator_, GaussianMixture)
