"""GaussianMixture(missing='marginalize'): exact EM for data with NaN,
against the row-by-row reference in tests/naive.py from the same initial
parameters (parameters after a fixed number of iterations, score, impute),
the observed-data log-likelihood never decreasing, complete data on today's
path bit for bit, and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import naive
from fastgmm import GaussianMixture

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _data(seed=0, n=400, d=4, C=3, frac=0.2, covariance_type="full"):
    rng = np.random.RandomState(seed)
    w, mu, cov = naive.random_params(rng, C, d, covariance_type)
    X = naive.sample_mixture(rng, n, w, mu, cov, covariance_type)
    M = rng.rand(n, d) < frac
    M[M.all(axis=1), 0] = False  # every row keeps an observed value
    Xm = X.copy()
    Xm[M] = np.nan
    return Xm, X, M, rng


def _init(rng, C, d, covariance_type):
    return naive.random_params(rng, C, d, covariance_type, spread=2.0)


def _precisions(cov, covariance_type):
    return np.linalg.inv(cov) if covariance_type in ("full", "tied") else 1.0 / cov


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_iterations_match_naive(covariance_type):
    Xm, _, _, rng = _data(covariance_type=covariance_type)
    w, mu, cov = _init(rng, 3, 4, covariance_type)
    gm = GaussianMixture(
        3, covariance_type=covariance_type, missing="marginalize", weights_init=w, means_init=mu,
        precisions_init=_precisions(cov, covariance_type), max_iter=5, tol=0, reg_covar=1e-6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(Xm)
    p = (w, mu, cov)
    bounds = []
    for _ in range(5):
        p, ll = naive.missing_em_step(Xm, *p, covariance_type=covariance_type, reg_covar=1e-6)
        bounds.append(ll / Xm.shape[0])
    for got, want, name in zip((gm.weights_, gm.means_, gm.covariances_), p, ("weights", "means", "covariances")):
        assert_allclose(got, want, rtol=1e-8, atol=1e-12, err_msg=name)
    assert_allclose(gm.lower_bounds_, bounds, rtol=1e-9)
    # score, per row and on average, and impute under the fitted model
    ll, _, _, _ = naive.missing_e_step(Xm, gm.weights_, gm.means_, gm.covariances_, covariance_type)
    assert_allclose(gm.score_samples(Xm), ll, rtol=1e-9)
    assert gm.score(Xm) == pytest.approx(ll.mean(), rel=1e-9)
    want = naive.missing_impute(Xm, gm.weights_, gm.means_, gm.covariances_, covariance_type)
    assert_allclose(gm.impute(Xm), want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_iteration_matches_naive(covariance_type):
    Xm, _, _, rng = _data(seed=1, n=200, covariance_type=covariance_type)
    sw = rng.uniform(0.2, 3.0, size=Xm.shape[0])
    w, mu, cov = _init(rng, 3, 4, covariance_type)
    gm = GaussianMixture(
        3, covariance_type=covariance_type, missing="marginalize", weights_init=w, means_init=mu,
        precisions_init=_precisions(cov, covariance_type), max_iter=2, tol=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(Xm, sample_weight=sw)
    p = (w, mu, cov)
    for _ in range(2):
        p, _ = naive.missing_em_step(Xm, *p, covariance_type=covariance_type, reg_covar=1e-6, sample_weight=sw)
    for got, want in zip((gm.weights_, gm.means_, gm.covariances_), p):
        assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_likelihood_never_decreases(covariance_type):
    Xm, _, _, _ = _data(seed=2, n=600, frac=0.3, covariance_type=covariance_type)
    gm = GaussianMixture(3, covariance_type=covariance_type, missing="marginalize", random_state=0,
                         max_iter=60, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(Xm)
    lb = np.array(gm.lower_bounds_)
    assert len(lb) == 60 and gm.n_recoveries_ == 0
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:]))


def test_imputation_beats_column_means():
    Xm, X, M, _ = _data(seed=3, n=2000, frac=0.15)
    gm = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    imp = gm.impute(Xm)
    assert_array_equal(imp[~M], Xm[~M])  # observed values unchanged
    col = np.nanmean(Xm, axis=0)[np.nonzero(M)[1]]
    assert np.sqrt(np.mean((imp[M] - X[M]) ** 2)) < 0.8 * np.sqrt(np.mean((col - X[M]) ** 2))


def test_complete_data_takes_todays_path_bit_for_bit():
    _, X, _, _ = _data(seed=4)
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0, missing="marginalize").fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.lower_bounds_ == b.lower_bounds_
    assert_array_equal(a.impute(X), X)


def test_predict_and_proba_marginalise(X=None):
    Xm, _, _, _ = _data(seed=5)
    gm = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    P = gm.predict_proba(Xm)
    assert_allclose(P.sum(axis=1), 1.0)
    assert_array_equal(gm.predict(Xm), P.argmax(axis=1))
    _, resp, _, _ = naive.missing_e_step(Xm, gm.weights_, gm.means_, gm.covariances_)
    assert_allclose(P, resp, atol=1e-10)


def test_float32():
    Xm, _, _, _ = _data(seed=6, n=1000)
    a = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    b = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm.astype(np.float32))
    assert b.means_.dtype == np.float32
    assert_allclose(b.means_, a.means_, rtol=1e-3, atol=1e-3)


def test_errors():
    Xm, _, _, _ = _data(seed=7)
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(3).fit(Xm)  # missing='raise': scikit-learn's behaviour
    bad = Xm.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match="no observed value.*index 17"):
        GaussianMixture(3, missing="marginalize").fit(bad)
    gm = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    with pytest.raises(ValueError, match="no observed value.*index 17"):
        gm.predict(bad)
    with pytest.raises(ValueError, match="'missing' parameter of GaussianMixture must be"):
        GaussianMixture(3, missing="drop").fit(Xm)
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixture(3, missing="marginalize").fit(np.where(np.isnan(Xm), np.inf, Xm))


def test_command_line_reads_empty_fields_as_missing(tmp_path, capsys):
    from fastgmm.cli import main

    Xm, _, _, _ = _data(seed=8, n=300)
    path = tmp_path / "holes.csv"
    lines = ["a,b,c,d"] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in Xm]
    fields = lines[5].split(",")  # row 4: its first value written as the word nan
    fields[0] = "nan"
    lines[5] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    assert main(["fit", str(path), "-k", "3", "--missing", "marginalize", "--save", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    n_nan = int(np.isnan(Xm).sum()) + (1 if not np.isnan(Xm[4, 0]) else 0)
    assert f"{n_nan:,} missing value(s) marginalised" in out
    assert main(["fit", str(path), "-k", "3"]) == 1  # without --missing: an error, as before
    assert "fastgmm fit: error" in capsys.readouterr().err
