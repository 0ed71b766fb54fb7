"""fastgmm.GaussianMixture as a drop-in for sklearn.mixture.GaussianMixture.

* scikit-learn's own estimator checks (``parametrize_with_checks``);
* bit-for-bit-ish agreement (rtol 1e-8, float64) with scikit-learn from the same
  explicit initial parameters, for every covariance type and every method;
* agreement for the built-in initialisations, ``n_init``, ``warm_start``,
  ``max_iter=0`` and ``verbose`` output;
* fit quality of the default (k-means) initialisation over several seeds;
* meta-estimators: clone, Pipeline, GridSearchCV;
* scikit-learn's exception types and messages for bad parameters and init
  arrays (each compared with what scikit-learn raises for the same value), its
  ``score`` arithmetic, and its sentence at the head of a failed fit's message.
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


def _close(a, b, rtol, what="", atol_scale=1e-4):
    """``a`` close to ``b`` within ``rtol``, and absolutely within ``rtol *
    atol_scale`` of ``b``'s largest magnitude (for entries near 0)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    assert_allclose(a, b, rtol=rtol, atol=rtol * atol_scale * scale, err_msg=what)


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
    # Parameters against the float64 fit: scikit-learn's float32 ones are
    # themselves ~1e-5 of the scale off it (tied at d = 3: 2.0e-5 where
    # fastgmm's float32 were 1.6e-6 off, on AVX2), so between the two float32
    # fits an entry near 0 differs by more than float32's rounding.
    sk64 = SkGMM(n_components=3, covariance_type=covariance_type, random_state=0).fit(blobs)
    for attr in FITTED:
        _close(getattr(fg, attr), getattr(sk64, attr), 1e-3, attr, atol_scale=1e-2)
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


# ------------------------------------------- parameter validation: scikit-learn's errors
# Each bad value goes to scikit-learn's estimator and to fastgmm's: same exception
# type (fastgmm's InvalidParameterError has the bases of scikit-learn's), same message.
BAD_SCALARS = [
    ("n_components", 0), ("n_components", -1), ("n_components", 1.5), ("n_components", 2.0),
    ("n_components", "2"), ("n_components", None), ("n_components", np.int64(0)),
    ("tol", -1), ("tol", -1e-3), ("tol", "a"), ("tol", None), ("tol", np.nan), ("tol", np.inf),
    ("tol", np.float32(-1)), ("tol", [1e-3]),
    ("reg_covar", -1e-3), ("reg_covar", "x"), ("reg_covar", None), ("reg_covar", np.nan), ("reg_covar", np.inf),
    ("max_iter", -1), ("max_iter", 1.0), ("max_iter", None), ("max_iter", np.int32(-3)),
    ("n_init", 0), ("n_init", 1.0), ("n_init", "1"), ("n_init", np.uint8(0)),
    ("init_params", "foo"), ("init_params", "KMEANS"), ("init_params", None), ("init_params", 1),
    ("covariance_type", "bad"), ("covariance_type", "Full"), ("covariance_type", None), ("covariance_type", 3),
    ("warm_start", "yes"), ("warm_start", 1), ("warm_start", 0.0), ("warm_start", None),
    ("verbose", -1), ("verbose", "a"), ("verbose", 1.5), ("verbose", None), ("verbose", np.int64(-2)),
    ("verbose_interval", 0), ("verbose_interval", 1.5), ("verbose_interval", None),
    ("random_state", "a"), ("random_state", 1.5), ("random_state", -1), ("random_state", 2**32),
    ("random_state", np.random.default_rng(0)),
    ("weights_init", "abc"), ("weights_init", 3), ("weights_init", 0.5),
    ("means_init", "abc"), ("means_init", 1.0), ("precisions_init", "abc"), ("precisions_init", 2),
]
# values scikit-learn accepts (bools are ints, NumPy scalars are numbers): so does fastgmm
# (n_components=True passes scikit-learn's check, then fails in its KMeans)
GOOD_SCALARS = [
    ("n_components", np.int64(2)), ("tol", True), ("tol", -0.0), ("tol", 0),
    ("reg_covar", np.float32(1e-4)), ("max_iter", True), ("max_iter", np.uint8(5)),
    ("warm_start", np.bool_(True)), ("verbose", np.bool_(False)), ("verbose", True),
    ("verbose_interval", True), ("random_state", 2**32 - 1), ("random_state", np.int64(5)),
    ("random_state", np.random.RandomState(0)),
    ("n_threads", 1), ("n_threads", np.int64(2)), ("n_threads", None),
]


def _fit_error(est, X, method="fit"):
    """What ``est.<method>(X)`` raises (None if nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(est, method)(X)
        except Exception as exc:  # noqa: BLE001 - compared below
            return exc
    return None


_OPTIONS = re.compile(r"among \{([^}]*)\}")


def _options_as_sets(msg):
    """scikit-learn lists string options in a set's iteration order, which
    changes with PYTHONHASHSEED: compare the lists as sets."""
    return _OPTIONS.sub(lambda m: "among " + repr(sorted(m.group(1).split(", "))), msg)


def _assert_same_error(sk_exc, fg_exc, exact=True):
    assert sk_exc is not None and fg_exc is not None, (sk_exc, fg_exc)
    assert isinstance(fg_exc, (ValueError, TypeError))
    for base in (ValueError, TypeError):
        assert isinstance(fg_exc, base) == isinstance(sk_exc, base), (repr(sk_exc), repr(fg_exc))
    assert type(fg_exc).__name__ == type(sk_exc).__name__, (repr(sk_exc), repr(fg_exc))
    if exact:
        assert _options_as_sets(str(fg_exc)) == _options_as_sets(str(sk_exc))


@pytest.mark.parametrize(
    "name,value", BAD_SCALARS, ids=[f"{n}={v!r}"[:40] for n, v in BAD_SCALARS]
)
def test_bad_parameter_same_error_as_sklearn(blobs, name, value):
    from fastgmm._validation import InvalidParameterError

    kw = {} if name == "n_components" else {"n_components": 2}
    sk_exc = _fit_error(SkGMM(**kw, **{name: value}), blobs)
    fg_exc = _fit_error(GaussianMixture(**kw, **{name: value}), blobs)
    if name == "init_params":  # fastgmm offers one more: its hierarchical start
        sk_exc = type(sk_exc)(str(sk_exc).replace("'k-means++'", "'k-means++', 'hc'"))
    _assert_same_error(sk_exc, fg_exc)
    assert type(fg_exc) is InvalidParameterError
    assert type(fg_exc).__module__.startswith("fastgmm")
    assert f"The '{name}' parameter of GaussianMixture must be " in str(fg_exc)


def test_option_lists_in_sklearn_source_order(blobs):
    """The one part of the text that is not scikit-learn's character for
    character: its set order varies per process, fastgmm's follows its source."""
    msg = str(_fit_error(GaussianMixture(covariance_type="x"), blobs))
    assert msg == (
        "The 'covariance_type' parameter of GaussianMixture must be a str among "
        "{'full', 'tied', 'diag', 'spherical'}. Got 'x' instead."
    )
    msg = str(_fit_error(GaussianMixture(init_params="x"), blobs))
    assert "must be a str among {'kmeans', 'random', 'random_from_data', 'k-means++', 'hc'}. Got 'x'" in msg


@pytest.mark.parametrize("name,value", GOOD_SCALARS, ids=[f"{n}={v!r}"[:40] for n, v in GOOD_SCALARS])
def test_parameter_values_sklearn_accepts_are_accepted(blobs, name, value):
    kw = dict(n_components=2, max_iter=2, random_state=0)
    kw[name] = value
    if name != "n_threads":
        assert _fit_error(SkGMM(**kw), blobs) is None
    assert _fit_error(GaussianMixture(**kw), blobs) is None


@pytest.mark.parametrize(
    "value,shown", [(0, "0"), (-2, "-2"), (1.5, "1.5"), (2.0, "2.0"), ("4", "'4'"), (np.int64(0), "np.int64(0)")]
)
def test_n_threads_message_in_sklearn_style(blobs, value, shown):
    from fastgmm._validation import InvalidParameterError

    with pytest.raises(InvalidParameterError) as info:
        GaussianMixture(2, n_threads=value).fit(blobs)
    assert str(info.value) == (
        "The 'n_threads' parameter of GaussianMixture must be an int in the range [1, inf) "
        f"or None. Got {shown} instead."
    )
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_invalid_parameter_error_bases():
    from fastgmm._validation import InvalidParameterError
    from sklearn.utils._param_validation import InvalidParameterError as SkInvalidParameterError

    assert InvalidParameterError.__mro__[1:] == SkInvalidParameterError.__mro__[1:]


@pytest.mark.parametrize(
    "bad",
    [dict(n_components=0, tol=-1), dict(warm_start=2, covariance_type="x"), dict(verbose=-1, reg_covar=-1.0),
     dict(weights_init="a", n_init=0), dict(n_threads=0, random_state="a")],
    ids=str,
)
def test_several_bad_parameters_first_reported_as_sklearn(blobs, bad):
    """scikit-learn checks the parameters in alphabetical order: the same one is reported."""
    fg_exc = _fit_error(GaussianMixture(**bad), blobs)
    if "n_threads" in bad:  # fastgmm's own: 'n_threads' < 'random_state'
        assert str(fg_exc).startswith("The 'n_threads' parameter")
    else:
        _assert_same_error(_fit_error(SkGMM(**bad), blobs), fg_exc)


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
@pytest.mark.parametrize(
    "X", [None, "not an array", np.empty((0, 3)), np.full((5, 2), np.nan)], ids=["None", "str", "empty", "nan"]
)
def test_parameters_checked_before_X(X, method):
    """The parameter error, not X's, as in scikit-learn."""
    sk_exc = _fit_error(SkGMM(n_components=0), X, method)
    fg_exc = _fit_error(GaussianMixture(n_components=0), X, method)
    _assert_same_error(sk_exc, fg_exc)
    assert "'n_components' parameter" in str(fg_exc)


def test_parameter_message_names_the_subclass(blobs):
    class MyMixture(GaussianMixture):
        pass

    class SkMixture(SkGMM):
        pass

    fg = str(_fit_error(MyMixture(tol=-1.0), blobs))
    sk = str(_fit_error(SkMixture(tol=-1.0), blobs))
    assert fg.startswith("The 'tol' parameter of MyMixture must be")
    assert fg == sk.replace("SkMixture", "MyMixture")


# -------------------------------------------------- init arrays: scikit-learn's errors
def _init_cases():
    P_BAD = np.array([[[1.0, 2.0], [2.0, 1.0]]] * 3)  # symmetric, indefinite
    P_ASYM = np.array([[[1.0, 0.5], [0.0, 1.0]]] * 3)
    cases = {
        # weights
        "w-shape": dict(weights_init=[0.5, 0.5]),
        "w-2d": dict(weights_init=[[0.2, 0.3, 0.5]]),
        "w-unnormalised": dict(weights_init=[0.2, 0.2, 0.2]),
        "w-over-1": dict(weights_init=[0.3, 0.3, 0.5]),
        "w-range": dict(weights_init=[1.5, -0.25, -0.25]),
        "w-negative": dict(weights_init=[-0.1, 0.6, 0.5]),
        "w-float32-unnormalised": dict(weights_init=np.float32([0.2, 0.3, 0.4])),
        # means
        "m-features": dict(means_init=np.zeros((3, 4))),
        "m-components": dict(means_init=np.zeros((2, 2))),
        "m-1d": dict(means_init=np.zeros(6)),
        # precisions, each covariance type
        "full-shape": dict(precisions_init=np.ones((3, 3, 3))),
        "full-2d": dict(precisions_init=np.ones((3, 2))),
        "full-indefinite": dict(precisions_init=P_BAD),
        "full-asymmetric": dict(precisions_init=P_ASYM),
        "full-zero": dict(precisions_init=np.zeros((3, 2, 2))),
        "tied-indefinite": dict(covariance_type="tied", precisions_init=-np.eye(2)),
        "tied-asymmetric": dict(covariance_type="tied", precisions_init=P_ASYM[0]),
        "tied-shape": dict(covariance_type="tied", precisions_init=np.ones(2)),
        "diag-zero": dict(covariance_type="diag", precisions_init=np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])),
        "diag-shape": dict(covariance_type="diag", precisions_init=np.ones(3)),
        "spherical-negative": dict(covariance_type="spherical", precisions_init=[1.0, -1.0, 1.0]),
        "spherical-shape": dict(covariance_type="spherical", precisions_init=np.ones((3, 2))),
    }
    # what scikit-learn's check_array finds: its message, after "Invalid <name>: "
    named = {
        "w-nan": dict(weights_init=[np.nan, 0.5, 0.5]),
        "w-inf": dict(weights_init=[np.inf, 0.5, 0.5]),
        "w-complex": dict(weights_init=[1 + 1j, 0, 0]),
        "w-strings": dict(weights_init=["a", "b", "c"]),
        "w-empty": dict(weights_init=[]),
        "m-3d": dict(means_init=np.zeros((3, 2, 1))),
        "m-inf": dict(means_init=np.full((3, 2), np.inf)),
        "m-strings": dict(means_init=[["a", "b"]] * 3),
        "full-nan": dict(precisions_init=np.full((3, 2, 2), np.nan)),
        "tied-3d": dict(covariance_type="tied", precisions_init=np.ones((3, 2, 2))),
        "diag-3d": dict(covariance_type="diag", precisions_init=np.ones((3, 2, 1))),
    }
    for k, v in cases.items():
        yield pytest.param(v, True, id=k)
    for k, v in named.items():
        yield pytest.param(v, False, id=k)


@pytest.mark.parametrize("params,exact", list(_init_cases()))
def test_bad_init_array_same_error_as_sklearn(params, exact):
    X = np.random.RandomState(0).randn(30, 2)
    sk_exc = _fit_error(SkGMM(3, **params), X)
    fg_exc = _fit_error(GaussianMixture(3, **params), X)
    _assert_same_error(sk_exc, fg_exc, exact=exact)
    if not exact:
        (name,) = [k for k in params if k.endswith("_init")]
        assert str(fg_exc) == f"Invalid {name}: {sk_exc}"


def test_weights_range_message_as_sklearn_prints_it():
    """scikit-learn fills "max value" with the minimum and "min value" with the
    maximum; reproduced as it prints."""
    X = np.random.RandomState(0).randn(30, 2)
    msg = str(_fit_error(GaussianMixture(3, weights_init=[1.5, -0.25, -0.25]), X))
    assert msg == (
        "The parameter 'weights' should be in the range [0, 1], but got max value -0.25000, min value 1.50000"
    )


@pytest.mark.parametrize("init", ["weights", "means", "precisions"])
def test_init_arrays_accepted_as_sklearn_accepts(init):
    """Within scikit-learn's tolerances (checked in the array's own dtype)."""
    X = np.random.RandomState(0).randn(40, 2)
    value = {
        # a float32 array summing to 1 in float32 (1 - 1.5e-8 in float64, which
        # scikit-learn's float64 tolerance 1e-8 would refuse)
        "weights": np.float32([0.07391462, 0.08811889, 0.13492952, 0.09472395, 0.20151216, 0.03987504, 0.3669258]),
        "means": np.float32(X[:7]),
        # symmetric to np.isclose, not exactly
        "precisions": np.repeat(np.array([[1.0, 0.5 * (1 + 5e-6)], [0.5, 1.0]])[None], 7, axis=0),
    }[init]
    if init == "weights":
        assert abs(1.0 - value.astype(np.float64).sum()) > 1e-8 and abs(1.0 - value.sum()) <= 1e-6
    kw = {f"{init}_init": value, "max_iter": 2}
    for dtype in (np.float32, np.float64):
        assert _fit_error(SkGMM(7, **kw), X.astype(dtype)) is None
        assert _fit_error(GaussianMixture(7, **kw), X.astype(dtype)) is None
    if init == "weights":  # the same numbers in float64: refused by both
        kw = {"weights_init": value.astype(np.float64)}
        for dtype in (np.float32, np.float64):
            _assert_same_error(
                _fit_error(SkGMM(7, **kw), X.astype(dtype)), _fit_error(GaussianMixture(7, **kw), X.astype(dtype))
            )


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_nearly_symmetric_precisions_init_fits_as_sklearn(blobs, covariance_type):
    """scikit-learn accepts a precision symmetric to np.isclose and factorises one
    triangle (the upper); fastgmm fits the same model."""
    init = _explicit_init(blobs, covariance_type)
    P = init["precisions_init"].copy()
    upper = np.triu(np.ones(P.shape[-2:], bool), 1)
    P[..., upper] *= 1 + 5e-7  # symmetric to np.isclose's rtol 1e-5, not exactly
    init["precisions_init"] = P
    sk, fg = _fit_both(blobs, n_components=3, covariance_type=covariance_type, max_iter=3, tol=0, **init)
    _assert_same_model(sk, fg, blobs, rtol=1e-8)


# ---------------------------------------------------------------------------- score
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_score_is_mean_of_score_samples_as_sklearn_computes_it(blobs, dtype):
    """scikit-learn's score is float(np.mean(score_samples(X))), a mean in X's dtype."""
    X = blobs.astype(dtype)
    fg = GaussianMixture(3, random_state=0).fit(X)
    s = fg.score(X)
    assert type(s) is float
    assert s == float(np.mean(fg.score_samples(X)))
    # what scikit-learn's own score method does with this model
    assert s == SkGMM.score(fg, X)
    sk = SkGMM(3, random_state=0).fit(X)
    assert type(sk.score(X)) is float
    _close(s, sk.score(X), 1e-6 if dtype == np.float32 else 1e-7)
    assert type(fg.bic(X)) is float and type(fg.aic(X)) is float


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_score_is_weighted_mean(blobs, dtype):
    X = blobs.astype(dtype)
    w = np.random.RandomState(0).uniform(0.0, 2.0, len(X))
    fg = GaussianMixture(3, random_state=0).fit(X)
    ref = np.average(fg.score_samples(X).astype(np.float64), weights=w)
    assert type(fg.score(X, sample_weight=w)) is float
    _close(fg.score(X, sample_weight=w), ref, 1e-6 if dtype == np.float32 else 1e-12)


# ------------------------------------------------------------------ failed fits
def _sklearn_failure(X, **kw):
    exc = _fit_error(SkGMM(**kw), X)
    assert type(exc) is ValueError and "ill-defined empirical covariance" in str(exc)
    return str(exc)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "case", ["identical-rows", "fewer-distinct-rows"],
)
def test_fit_failed_message_starts_with_sklearns(case, dtype):
    """scikit-learn's sentence(s) for the failure (including its float32 advice),
    verbatim, then fastgmm's more specific explanation."""
    from fastgmm import FitFailedError

    if case == "identical-rows":
        X, C = np.ones((50, 2)), 2
    else:
        X, C = np.repeat(np.array([[0.0, 1.0], [3.0, -1.0]]), 10, axis=0), 3
    X = X.astype(dtype)
    sk_msg = _sklearn_failure(X, n_components=C, reg_covar=0.0, random_state=0)
    exc = _fit_error(GaussianMixture(C, reg_covar=0.0, random_state=0), X)
    assert type(exc) is FitFailedError and isinstance(exc, ValueError)
    msg = str(exc)
    assert msg.startswith(sk_msg + " ")
    assert len(msg) > len(sk_msg) + 40  # fastgmm's explanation follows
    assert msg.count(sk_msg) == 1
    assert "float32" in sk_msg if dtype == np.float32 else "float32" not in sk_msg
    if case == "fewer-distinct-rows":
        assert "X has only 2 distinct row(s)" in msg and "n_components=3" in msg
    else:
        assert "reg_covar (now 0)" in msg


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_train_em_failure_message_starts_with_sklearns(monkeypatch, dtype):
    from fastgmm import FitFailedError, classic
    from fastgmm.em import _Collapsed

    def collapsing(*args, **kwargs):
        raise _Collapsed()

    X = np.random.RandomState(0).randn(40, 2).astype(dtype)
    sk_msg = _sklearn_failure(np.ones((50, 2), dtype), n_components=2, reg_covar=0.0, random_state=0)
    monkeypatch.setattr(classic, "em_run", collapsing)
    with pytest.raises(FitFailedError) as info:
        classic.train_EM(X, 3, restarts=2, random_state=0)
    msg = str(info.value)
    assert msg.startswith(sk_msg + " ") and "C, now 3" in msg
