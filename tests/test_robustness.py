"""Robustness of every entry point: the estimator's methods and the classic
functions fastgmm.E_step / M_step / compute_vlb / train_EM.

* bad input -> ValueError (TypeError where scikit-learn uses it) whose message
  names the argument; never a Numba error, a crash, or NaN output;
* every accepted container and memory layout gives the same result;
* degenerate but valid data fits with finite, valid parameters (or one clear error);
* determinism across runs and thread counts, and thread safety.
"""

from __future__ import annotations

import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_blobs

import fastgmm
from fastgmm import FitFailedError, GaussianMixture, RecoveryWarning

from conftest import THREAD_COUNTS

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")

RNG = np.random.RandomState(0)
X0 = RNG.randn(60, 3)
PI = np.array([0.4, 0.6])
MU = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
SIGMA = np.repeat(np.eye(3)[None], 2, axis=0)
GAMMA = np.full((60, 2), 0.5)


def _names(exc: BaseException, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", str(exc)) is not None


def _raises_named(call, name, types=(ValueError, TypeError)):
    """``call()`` raises one of ``types`` (never a Numba error) naming ``name``."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    assert not isinstance(exc, numba.core.errors.NumbaError), repr(exc)
    assert isinstance(exc, types), repr(exc)
    assert _names(exc, name), f"message does not name {name!r}: {exc}"
    return exc


@pytest.fixture(scope="module")
def fitted():
    return GaussianMixture(2, random_state=0).fit(X0)


# --------------------------------------------------------------------------- bad X
def _with(value, i=3, j=1):
    X = X0.copy()
    X[i, j] = value
    return X


BAD_X = {
    "nan": _with(np.nan),
    "inf": _with(np.inf),
    "-inf": _with(-np.inf),
    "empty": np.empty((0, 3)),
    "no-features": np.empty((60, 0)),
    "1d": X0[:, 0],
    "3d": X0[:, :, None],
    "strings": np.array([["a", "b", "c"]] * 60),
    "objects": np.array([[{"a": 1}, 1.0, 2.0]] * 60, dtype=object),
    "complex": X0 + 1j,
    "complex-list": [[1 + 1j, 2.0, 3.0]] * 60,
    "none": None,
    "scalar": 3.0,
    "ragged": [[1.0, 2.0, 3.0], [1.0, 2.0]],
    "nan-float32": _with(np.nan).astype(np.float32),
    "nan-dataframe": pd.DataFrame(_with(np.nan), columns=list("abc")),
}

def _unit_weights(X):
    try:
        return np.ones(len(X))
    except TypeError:  # None, scalars
        return None


ESTIMATOR_FIT = {
    "fit": lambda X: GaussianMixture(2).fit(X),
    "fit_predict": lambda X: GaussianMixture(2).fit_predict(X),
    "fit-weighted": lambda X: GaussianMixture(2).fit(X, sample_weight=_unit_weights(X)),
}
ESTIMATOR_PREDICT = ("predict", "predict_proba", "score_samples", "score", "bic", "aic")
CLASSIC = {
    "E_step": lambda X: fastgmm.E_step(X, PI, MU, SIGMA),
    "M_step": lambda X: fastgmm.M_step(X, GAMMA),
    "compute_vlb": lambda X: fastgmm.compute_vlb(X, PI, MU, SIGMA, GAMMA),
    "train_EM": lambda X: fastgmm.train_EM(X, 2, restarts=1),
}


def _fit_and_classic_cases():
    for entry in list(ESTIMATOR_FIT) + list(CLASSIC):
        for case in BAD_X:
            yield pytest.param(entry, case, id=f"{entry}-{case}")


@pytest.mark.parametrize("entry,case", list(_fit_and_classic_cases()))
def test_bad_X_fit_and_classic(entry, case):
    call = {**ESTIMATOR_FIT, **CLASSIC}[entry]
    _raises_named(lambda: call(BAD_X[case]), "X")


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("method", ESTIMATOR_PREDICT)
def test_bad_X_predict(fitted, method, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature-name warnings for DataFrames
        _raises_named(lambda: getattr(fitted, method)(BAD_X[case]), "X")


def test_bad_X_messages_say_what_is_wrong(fitted):
    assert "NaN" in str(_raises_named(lambda: GaussianMixture(2).fit(BAD_X["nan"]), "X"))
    assert "infinity" in str(_raises_named(lambda: fitted.predict(BAD_X["inf"]), "X"))
    assert re.search("2-?D", str(_raises_named(lambda: fastgmm.E_step(BAD_X["1d"], PI, MU, SIGMA), "X")))
    assert re.search("dim 3|3-D", str(_raises_named(lambda: fastgmm.M_step(BAD_X["3d"], GAMMA), "X")))
    assert "omplex" in str(_raises_named(lambda: fitted.score(BAD_X["complex"]), "X"))
    assert "0 feature" in str(_raises_named(lambda: fastgmm.train_EM(BAD_X["no-features"], 2), "X"))
    assert "0 sample" in str(_raises_named(lambda: fitted.score_samples(BAD_X["empty"]), "X"))
    assert "string" in str(_raises_named(lambda: GaussianMixture(2).fit(BAD_X["strings"]), "X"))


def test_fit_needs_two_samples():
    _raises_named(lambda: GaussianMixture(1).fit(X0[:1]), "X")
    # predict on a single row is fine
    g = GaussianMixture(1).fit(X0)
    assert g.predict(X0[:1]).shape == (1,)


def test_numeric_strings_are_converted_like_sklearn():
    Xs = X0.astype(str)
    a = GaussianMixture(2, random_state=0).fit(Xs)
    b = GaussianMixture(2, random_state=0).fit(X0)
    assert_array_equal(a.means_, b.means_)


# ---------------------------------------------------- bad arguments of the classic API
BAD_CLASSIC = [
    ("pi", lambda: fastgmm.E_step(X0, [0.2, 0.2], MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, [-0.5, 1.5], MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, [0.5, 0.5, 0.0], MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, [np.nan, 1.0], MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, PI + 0j, MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, ["a", "b"], MU, SIGMA)),
    ("pi", lambda: fastgmm.E_step(X0, None, MU, SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, MU[:, :2], SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, MU * np.nan, SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, MU + 1j, SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, None, SIGMA)),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, SIGMA[:, :2, :2])),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, -SIGMA)),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, 0 * SIGMA)),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, SIGMA + np.triu(np.ones((3, 3)), 1))),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, np.where(SIGMA > 0, np.inf, 0.0))),
    ("sigma", lambda: fastgmm.E_step(X0, PI, MU, SIGMA + 0j)),
    ("sigma", lambda: fastgmm.compute_vlb(X0, PI, MU, -SIGMA, GAMMA)),
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA[:10])),
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA[:, 0])),
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA[:, :, None])),
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA * np.nan)),
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA * 2)),
    ("gamma", lambda: fastgmm.M_step(X0, np.c_[-np.ones(60), 2 * np.ones(60)])),
    ("gamma", lambda: fastgmm.M_step(X0, None)),
    ("gamma", lambda: fastgmm.compute_vlb(X0, PI, MU, SIGMA, np.full((60, 3), 1 / 3))),
    ("gamma", lambda: fastgmm.compute_vlb(X0, PI, MU, SIGMA, GAMMA[:5])),
    ("C", lambda: fastgmm.train_EM(X0, 0)),
    ("C", lambda: fastgmm.train_EM(X0, 61)),
    ("C", lambda: fastgmm.train_EM(X0, 2.0)),
    ("C", lambda: fastgmm.train_EM(X0, "2")),
    ("rtol", lambda: fastgmm.train_EM(X0, 2, rtol=-1.0)),
    ("rtol", lambda: fastgmm.train_EM(X0, 2, rtol=np.nan)),
    ("max_iter", lambda: fastgmm.train_EM(X0, 2, max_iter=0)),
    ("restarts", lambda: fastgmm.train_EM(X0, 2, restarts=0)),
    # complex values are an error, not a silent truncation to the real part;
    # strings and ragged lists name the argument
    ("gamma", lambda: fastgmm.M_step(X0, GAMMA + 0j)),
    ("gamma", lambda: fastgmm.compute_vlb(X0, PI, MU, SIGMA, GAMMA + 0j)),
    ("gamma", lambda: fastgmm.M_step(X0, np.full((60, 2), "a"))),
    ("mu", lambda: fastgmm.E_step(X0, PI, [["a"] * 3] * 2, SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, [[1j, 0, 0], [0, 0, 0]], SIGMA)),
    ("mu", lambda: fastgmm.E_step(X0, PI, [[1, 2, 3], [1, 2]], SIGMA)),
]


@pytest.mark.parametrize("name,call", BAD_CLASSIC, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_CLASSIC)])
def test_bad_classic_arguments(name, call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a ComplexWarning is not an answer
        _raises_named(call, name)


def test_train_em_rtol_string():
    _raises_named(lambda: fastgmm.train_EM(X0, 2, rtol="a"), "rtol")


# ----------------------------------------------------------- accepted input containers
@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(500, n_features=3, centers=3, random_state=2)
    return X


def _layouts(X):
    ro = X.copy()
    ro.setflags(write=False)
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 2))
    wide[::2, ::2] = X
    return {
        "fortran": np.asfortranarray(X),
        "read-only": ro,
        "strided": wide[::2, ::2],
        "negative-strides": X[::-1].copy()[::-1],
        "list": X.tolist(),
        "dataframe": pd.DataFrame(X),
    }


@pytest.fixture(scope="module")
def memmaps(blobs, tmp_path_factory):
    path = tmp_path_factory.mktemp("mm") / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=blobs.shape)
    mm[:] = blobs
    mm.flush()
    return {"memmap-rw": mm, "memmap-ro": np.memmap(path, dtype=np.float64, mode="r", shape=blobs.shape)}


@pytest.mark.parametrize("layout", ["fortran", "read-only", "strided", "negative-strides", "list", "dataframe", "memmap-rw", "memmap-ro"])
def test_layouts_give_identical_results(blobs, memmaps, layout):
    A = {**_layouts(blobs), **memmaps}[layout]
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    g = GaussianMixture(3, random_state=0).fit(A)
    for attr in FITTED:
        assert_array_equal(getattr(g, attr), getattr(ref, attr))
    assert g.lower_bound_ == ref.lower_bound_
    assert_array_equal(g.predict_proba(A), ref.predict_proba(blobs))
    assert_array_equal(g.score_samples(A), ref.score_samples(blobs))
    assert_array_equal(g.predict(A), ref.predict(blobs))
    # the input is never written to
    if isinstance(A, np.ndarray):
        assert_array_equal(np.asarray(A), blobs)
    # classic functions
    p = (ref.weights_, ref.means_, ref.covariances_)
    gamma = fastgmm.E_step(blobs, *p)
    assert_array_equal(fastgmm.E_step(A, *p), gamma)
    for a, b in zip(fastgmm.M_step(A, gamma), fastgmm.M_step(blobs, gamma)):
        assert_array_equal(a, b)
    assert fastgmm.compute_vlb(A, *p, gamma) == fastgmm.compute_vlb(blobs, *p, gamma)
    ta = fastgmm.train_EM(A, 3, restarts=2, random_state=0)
    tb = fastgmm.train_EM(blobs, 3, restarts=2, random_state=0)
    assert ta[0] == tb[0]
    assert_array_equal(ta[2], tb[2])


def test_read_only_classic_arguments(blobs):
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    p = [ref.weights_.copy(), ref.means_.copy(), ref.covariances_.copy()]
    for a in p:
        a.setflags(write=False)
    X = blobs.copy()
    X.setflags(write=False)
    gamma = fastgmm.E_step(X, *p)
    gamma.setflags(write=False)
    fastgmm.M_step(X, gamma)
    assert np.isfinite(fastgmm.compute_vlb(X, *p, gamma))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_int_and_bool_X_are_converted(dtype):
    rng = np.random.RandomState(0)
    if dtype is bool:
        X = rng.rand(200, 3) > 0.5
    else:
        X = np.r_[rng.randint(0, 5, (100, 3)), rng.randint(20, 25, (100, 3))].astype(dtype)
    g = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    ref = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X.astype(np.float64))
    assert g.means_.dtype == np.float64
    for attr in FITTED:
        assert_array_equal(getattr(g, attr), getattr(ref, attr))
    assert_array_equal(g.score_samples(X), ref.score_samples(X.astype(float)))
    gamma = fastgmm.E_step(X, ref.weights_, ref.means_, np.stack([np.diag(c) for c in ref.covariances_]))
    assert gamma.dtype == np.float64 and np.all(np.isfinite(gamma))
    pi, mu, sigma = fastgmm.M_step(X, gamma)
    assert np.all(np.isfinite(mu))
    loss, *_ = fastgmm.train_EM(X, 2, restarts=1, random_state=0)
    assert np.isfinite(loss)


def test_dataframe_keeps_feature_names(blobs):
    df = pd.DataFrame(blobs, columns=["x0", "x1", "x2"])
    g = GaussianMixture(3, random_state=0).fit(df)
    assert list(g.feature_names_in_) == ["x0", "x1", "x2"]
    assert g.predict(df).shape == (len(df),)
    gamma = fastgmm.E_step(df, g.weights_, g.means_, g.covariances_)
    assert_allclose(gamma, g.predict_proba(df), rtol=1e-10, atol=1e-15)


def test_float32_input_through_classic_api(blobs):
    X32 = blobs.astype(np.float32)
    g = GaussianMixture(3, random_state=0).fit(blobs)
    gamma = fastgmm.E_step(X32, g.weights_, g.means_, g.covariances_)
    assert gamma.dtype == np.float32
    assert_allclose(gamma.sum(1), 1.0, rtol=1e-5)
    assert_allclose(gamma, g.predict_proba(blobs), atol=1e-4)


# ------------------------------------------------------------- degenerate but valid data
def _degenerate():
    rng = np.random.RandomState(0)
    base = rng.randn(200, 3)
    return {
        "identical-rows": np.tile([1.0, -2.0, 3.0], (100, 1)),
        "duplicates": np.repeat(rng.randn(6, 3), 30, axis=0),
        "zero-variance-features": np.c_[base, np.zeros(200), np.full(200, 7.0)],
        "digits": load_digits().data[:400],
        "collinear": np.c_[base, 2.0 * base[:, 0] - base[:, 1]],
        "n_samples==n_components": rng.randn(3, 2),
        "scale-1e-8": base * 1e-8,
        "scale-1e+8": base * 1e8,
        "offset-1e6": base + 1e6,
        "float32-near-eps": (1.0 + 1e-6 * rng.randn(200, 3)).astype(np.float32),
        "one-far-outlier": np.r_[base, [[1e6, -1e6, 1e6]]],
        "fewer-distinct-than-components": np.repeat(rng.randn(2, 3), 10, axis=0),
        "tiny-integers": rng.randint(0, 2, (200, 3)).astype(np.float64),
    }


DEGENERATE = _degenerate()


def _check_valid_model(g, X):
    for attr in FITTED:
        a = getattr(g, attr)
        assert np.all(np.isfinite(a)), attr
        assert a.dtype == (np.float32 if X.dtype == np.float32 else np.float64)
    assert_allclose(g.weights_.sum(), 1.0, rtol=1e-5)
    assert np.all(g.weights_ >= 0)
    cov = np.asarray(g.covariances_, np.float64)
    if g.covariance_type == "full":
        assert np.all(np.linalg.eigvalsh(cov) > 0)
    elif g.covariance_type == "tied":
        assert np.all(np.linalg.eigvalsh(cov) > 0)
    else:
        assert np.all(cov > 0)
    assert np.isfinite(g.lower_bound_)
    proba = g.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(1), 1.0, rtol=1e-4)
    assert np.all(np.isfinite(g.score_samples(X)))
    assert np.isfinite(g.score(X)) and np.isfinite(g.bic(X))
    labels = g.predict(X)
    assert labels.min() >= 0 and labels.max() < g.n_components


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_data_fits_or_fails_clearly(case, covariance_type, init_params):
    X = DEGENERATE[case]
    C = min(3, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecoveryWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            g = GaussianMixture(C, covariance_type=covariance_type, init_params=init_params, random_state=0).fit(X)
        except FitFailedError as exc:
            # the only acceptable failure: fewer distinct points than components
            assert case == "fewer-distinct-than-components", exc
            assert "distinct row" in str(exc) and "n_components=3" in str(exc)
            return
    _check_valid_model(g, X)


@pytest.mark.parametrize("case", ["identical-rows", "zero-variance-features", "collinear", "scale-1e-8", "offset-1e6", "one-far-outlier"])
def test_degenerate_data_classic_api(case):
    X = DEGENERATE[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loss, pi, mu, sigma = fastgmm.train_EM(X, 2, restarts=2, random_state=0)
        except FitFailedError as exc:
            assert "fewer components" in str(exc)
            return
    assert np.isfinite(loss)
    assert_allclose(pi.sum(), 1.0)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))
    assert np.all(np.linalg.eigvalsh(sigma) > 0)
    gamma = fastgmm.E_step(X, pi, mu, sigma)
    assert np.all(np.isfinite(gamma))
    assert_allclose(gamma.sum(1), 1.0, rtol=1e-10)
    assert np.isfinite(fastgmm.compute_vlb(X, pi, mu, sigma, gamma))
    pi2, mu2, sigma2 = fastgmm.M_step(X, gamma)
    assert np.all(np.isfinite(pi2)) and np.all(np.isfinite(mu2)) and np.all(np.isfinite(sigma2))


def test_far_points_have_finite_responsibilities():
    """Points far from every component: no underflow to 0/0."""
    g = GaussianMixture(2, random_state=0).fit(X0)
    far = np.array([[1e5, 1e5, 1e5], [-1e8, 0.0, 0.0]])
    proba = g.predict_proba(far)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(1), 1.0)
    assert np.all(np.isfinite(g.score_samples(far)))
    gamma = fastgmm.E_step(far, PI, MU, SIGMA)
    assert np.all(np.isfinite(gamma))
    assert_allclose(gamma.sum(1), 1.0)


def test_float32_fit_close_to_float64():
    X, _ = make_blobs(500, n_features=4, centers=3, random_state=0)
    X = X + 1e3  # offset: float32 keeps ~4 digits of the spread
    a = GaussianMixture(3, random_state=0).fit(X.astype(np.float32))
    b = GaussianMixture(3, random_state=0).fit(X)
    assert_allclose(a.means_, b.means_, rtol=1e-5)
    assert_allclose(a.covariances_, b.covariances_, rtol=2e-2, atol=2e-3)


# ------------------------------------------------------------------------ determinism
@pytest.fixture(scope="module")
def big():
    # more than 3 * 2048 rows: several chunks per pass
    X, _ = make_blobs(7000, n_features=3, centers=4, cluster_std=2.0, random_state=3)
    return X


def _snapshot(g, X):
    out = {a: getattr(g, a).tobytes() for a in FITTED}
    out["lower_bound_"] = g.lower_bound_
    out["lower_bounds_"] = tuple(g.lower_bounds_)
    out["n_iter_"] = g.n_iter_
    out["proba"] = g.predict_proba(X).tobytes()
    out["score_samples"] = g.score_samples(X).tobytes()
    return out


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bit_identical_across_runs_and_threads(big, covariance_type):
    snaps = {}
    for n_threads in THREAD_COUNTS + THREAD_COUNTS[:1]:
        g = GaussianMixture(4, covariance_type=covariance_type, random_state=0, n_threads=n_threads).fit(big)
        snaps.setdefault(n_threads, []).append(_snapshot(g, big))
    ref = snaps[THREAD_COUNTS[0]][0]
    assert snaps[THREAD_COUNTS[0]][-1] == ref  # same run twice
    for n_threads in THREAD_COUNTS[1:]:
        assert snaps[n_threads][0] == ref, n_threads


def test_bit_identical_weighted_and_kmeans_init_across_threads(big):
    w = np.random.RandomState(0).rand(len(big))
    res = []
    for n_threads in THREAD_COUNTS:
        for init in ("kmeans", "k-means++"):
            g = GaussianMixture(4, init_params=init, random_state=1, n_threads=n_threads).fit(big, sample_weight=w)
            res.append((init, _snapshot(g, big)))
    for init in ("kmeans", "k-means++"):
        s = [snap for i, snap in res if i == init]
        assert all(snap == s[0] for snap in s[1:])


def test_classic_api_bit_identical_across_threads(big):
    out = []
    for n in THREAD_COUNTS:
        with fastgmm.num_threads(n):
            loss, pi, mu, sigma = fastgmm.train_EM(big, 3, restarts=2, random_state=0, max_iter=20)
            gamma = fastgmm.E_step(big, pi, mu, sigma)
            out.append((loss, pi.tobytes(), mu.tobytes(), sigma.tobytes(), gamma.tobytes(),
                        fastgmm.compute_vlb(big, pi, mu, sigma, gamma),
                        tuple(a.tobytes() for a in fastgmm.M_step(big, gamma))))
    assert all(o == out[0] for o in out[1:])


# ----------------------------------------------------------------------- thread safety
def test_concurrent_fits_match_sequential(big):
    kws = [dict(covariance_type=ct, random_state=s, n_threads=2) for ct, s in
           [("full", 0), ("diag", 1), ("tied", 2), ("full", 3)]]
    sequential = [_snapshot(GaussianMixture(4, **kw).fit(big), big) for kw in kws]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda kw: _snapshot(GaussianMixture(4, **kw).fit(big), big), kws))
    assert concurrent == sequential


def test_two_threads_fit_the_same_estimator_config(big):
    results = [None, None]
    errors = []

    def work(i):
        try:
            g = GaussianMixture(4, random_state=0).fit(big)
            results[i] = _snapshot(g, big)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results[0] == results[1] == _snapshot(GaussianMixture(4, random_state=0).fit(big), big)


def test_concurrent_predict_on_one_model(big):
    g = GaussianMixture(4, random_state=0).fit(big)
    ref = (g.predict_proba(big), g.score_samples(big), g.predict(big))
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda _: (g.predict_proba(big), g.score_samples(big), g.predict(big)), range(6)))
    for out in outs:
        for a, b in zip(out, ref):
            assert_array_equal(a, b)


def test_concurrent_classic_calls(big):
    g = GaussianMixture(3, random_state=0).fit(big)
    p = (g.weights_, g.means_, g.covariances_)
    ref = fastgmm.E_step(big, *p)
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda _: fastgmm.E_step(big, *p), range(4)))
    for out in outs:
        assert_array_equal(out, ref)
