"""fastgmm.select_model: the grid, the criteria, the best model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from fastgmm import GaussianMixture, select_model
from fastgmm.selection import SelectionResult, information_criteria


def three_blobs(n_per=150, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 9.0]])
    return np.vstack([c + rng.randn(n_per, 2) * [1.0, 0.6] for c in centers])


def entropy_of(model, X):
    r = model.predict_proba(X).astype(np.float64)
    pos = r > 0
    return -float(np.sum(r[pos] * np.log(r[pos])))


@pytest.fixture(scope="module")
def iris():
    return load_iris().data


@pytest.fixture(scope="module")
def iris_result(iris):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return select_model(iris, n_components=range(1, 5), random_state=0, starts="estimator")


@pytest.mark.parametrize("criterion", ["bic", "icl"])
def test_three_blobs_pick_three_components(criterion):
    X = three_blobs()
    res = select_model(X, n_components=range(1, 7), criterion=criterion, random_state=0)
    assert isinstance(res, SelectionResult)
    assert res.best_n_components == 3
    assert res.best_model is res.models[(res.best_covariance_type, 3)]
    assert res.best_score == pytest.approx(res.scores().min())


def test_iris_table_equals_per_model_fits(iris, iris_result):
    res = iris_result
    assert res.n_components == (1, 2, 3, 4)
    assert res.covariance_types == ("full", "tied", "diag", "spherical")
    assert len(res.table) == 16
    for row in res.table:
        ct, k = str(row["covariance_type"]), int(row["n_components"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = GaussianMixture(k, covariance_type=ct, random_state=0).fit(iris)
        got = res.models[(ct, k)]
        np.testing.assert_array_equal(got.means_, ref.means_)
        np.testing.assert_array_equal(got.covariances_, ref.covariances_)
        assert row["bic"] == pytest.approx(ref.bic(iris), rel=1e-12)
        assert row["aic"] == pytest.approx(ref.aic(iris), rel=1e-12)
        assert row["log_likelihood"] == pytest.approx(ref.score(iris) * len(iris), rel=1e-12)
        assert row["n_parameters"] == ref._n_parameters()
        ent = entropy_of(ref, iris)
        assert row["entropy"] == pytest.approx(ent, rel=1e-9, abs=1e-9)
        assert row["icl"] == pytest.approx(ref.bic(iris) + 2 * ent, rel=1e-12)
        assert row["converged"] == ref.converged_ and row["n_iter"] == ref.n_iter_


def test_result_views(iris_result):
    res = iris_result
    grid = res.scores("aic")
    assert grid.shape == (4, 4)
    assert grid[1, 2] == res.table["aic"][1 * 4 + 2]
    assert res.best_score == np.nanmin(res.scores())
    text = str(res)
    assert text.count("\n") == 16 and "* best BIC" in text
    frame = res.to_frame()
    assert list(frame.columns)[:2] == ["covariance_type", "n_components"] and len(frame) == 16
    with pytest.raises(ValueError, match="criterion"):
        res.scores("xyz")


def test_icl_is_bic_for_one_component(iris_result):
    one = iris_result.table[iris_result.table["n_components"] == 1]
    np.testing.assert_array_equal(one["entropy"], 0.0)
    np.testing.assert_array_equal(one["icl"], one["bic"])


def test_information_criteria_matches_estimator(iris):
    gm = GaussianMixture(3, covariance_type="diag", random_state=1).fit(iris)
    c = information_criteria(gm, iris)
    assert c["bic"] == pytest.approx(gm.bic(iris), rel=1e-12)
    assert c["aic"] == pytest.approx(gm.aic(iris), rel=1e-12)
    assert c["entropy"] == pytest.approx(entropy_of(gm, iris), rel=1e-9)


def test_sample_weight_used_by_fits_and_criteria():
    X = three_blobs(60)
    w = np.random.RandomState(3).randint(1, 4, len(X)).astype(float)
    res = select_model(X, n_components=[2, 3], covariance_types="full", random_state=0, sample_weight=w, starts="estimator")
    for row in res.table:
        k = int(row["n_components"])
        ref = GaussianMixture(k, random_state=0).fit(X, sample_weight=w)
        np.testing.assert_array_equal(res.models[("full", k)].means_, ref.means_)
        ll = ref.score(X, sample_weight=w) * w.sum()
        assert row["log_likelihood"] == pytest.approx(ll, rel=1e-12)
        assert row["bic"] == pytest.approx(-2 * ll + ref._n_parameters() * np.log(w.sum()), rel=1e-12)


def test_float32_and_arguments_normalised():
    X = three_blobs(40).astype(np.float32)
    res = select_model(X, n_components=[3, 1, 3], covariance_types="all", criterion="AIC", random_state=0)
    assert res.n_components == (1, 3) and res.covariance_types == ("full", "tied", "diag", "spherical")
    assert res.criterion == "aic"
    assert res.best_model.means_.dtype == np.float32


def test_validates_once_not_per_model(monkeypatch):
    import fastgmm.selection as sel

    calls = []
    real = sel.check_X
    monkeypatch.setattr(sel, "check_X", lambda *a, **k: calls.append(1) or real(*a, **k))
    X = three_blobs(30)
    res = select_model(X.tolist(), n_components=range(1, 4), covariance_types=("full", "diag"), random_state=0)
    assert len(calls) == 1 and len(res.table) == 6


def test_summary_warnings_instead_of_one_per_model():
    X = three_blobs(40)
    with pytest.warns(Warning) as rec:
        select_model(X, n_components=range(2, 6), covariance_types="full", random_state=0, max_iter=1)
    messages = [str(w.message) for w in rec]
    assert sum("did not converge" in m for m in messages) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_components": []}, "empty"),
        ({"n_components": [0, 2]}, ">= 1"),
        ({"n_components": 2.5}, "int"),
        ({"covariance_types": "round"}, "covariance type"),
        ({"criterion": "mdl"}, "criterion"),
        ({"n_components": [50]}, "samples"),
    ],
)
def test_bad_arguments(kwargs, match):
    X = three_blobs(10)
    with pytest.raises(ValueError, match=match):
        select_model(X, **kwargs)


def test_bad_data_and_reserved_params():
    with pytest.raises(ValueError, match="NaN"):
        select_model(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), n_components=[1])
    with pytest.raises(TypeError, match="covariance_type"):
        select_model(three_blobs(10), n_components=[1], random_state=0, **{"covariance_type": "full"})


# ---------------------------------------------------------- starts='best' (issue #15)
def test_best_start_is_at_least_each_single_start():
    from sklearn.datasets import load_wine

    from fastgmm.selection import is_spurious

    X = load_wine().data  # unscaled: k-means falls into a poor basin here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = select_model(X, n_components=[3], covariance_types="full", random_state=0)
        km = GaussianMixture(3, random_state=0).fit(X)
        hc = GaussianMixture(3, init_params="hc", random_state=0).fit(X)
    best = res.models[("full", 3)]
    row = res.table[0]
    assert row["start"] in ("hc", "random_from_data", "k-means++", "kmeans")
    assert not row["spurious"] and not is_spurious(best, len(X))
    assert best.lower_bound_ >= km.lower_bound_ - 1e-12
    # the hc start here comes from the grid's one tree, not the estimator's own
    # sample: with all 178 rows (< HC_MAX_ROWS) both trees are the same
    assert best.lower_bound_ >= hc.lower_bound_ - 1e-9
    assert best.lower_bound_ * len(X) > km.lower_bound_ * len(X) + 50  # 128 nats here


def test_spurious_fits_are_reported_not_ranked():
    from fastgmm.selection import SelectionResult, _TABLE_DTYPE

    rows = [("full", 1, 5, -10.0, 0.0, 30.0, 20.0, 30.0, True, 3, 0, "kmeans", False),
            ("full", 2, 11, 50.0, 0.0, 10.0, 0.0, 10.0, True, 3, 0, "random_from_data", True)]
    res = SelectionResult("bic", (1, 2), ("full",), np.array(rows, dtype=_TABLE_DTYPE),
                          {("full", 1): "one", ("full", 2): "two"})
    assert res.best_n_components == 1 and res.best_model == "one"
    assert "(spurious: not ranked)" in res.format_table()


def test_is_spurious_counts_effective_points():
    from fastgmm.selection import is_spurious

    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(200, 3), rng.randn(200, 3) + 6])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(2, random_state=0).fit(X)
    assert not is_spurious(g, len(X))
    g.weights_ = np.array([1.0 - 3.0 / 400, 3.0 / 400])  # 3 points < d + 1 = 4
    assert is_spurious(g, len(X))
    g.covariance_type = "diag"  # 3 points >= 2
    g.covariances_ = np.stack([np.diag(c) for c in g.covariances_])
    assert not is_spurious(g, len(X))


def test_is_spurious_flags_covariances_held_up_by_reg_covar():
    from fastgmm.selection import is_spurious

    rng = np.random.RandomState(1)
    X = np.vstack([rng.randn(200, 3), rng.randn(200, 3) + 6])
    X[200:, 2] = 6.0  # the second cluster lies in a plane: only reg_covar keeps it regular
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(2, random_state=0, reg_covar=1e-6).fit(X)
    assert is_spurious(g, len(X))
    assert not is_spurious(GaussianMixture(2, random_state=0).fit(np.vstack([rng.randn(200, 3), rng.randn(200, 3) + 6])), 400)


def test_best_starts_arguments():
    X = three_blobs(30)
    with pytest.raises(ValueError, match="starts"):
        select_model(X, n_components=[1], starts="x")
    with pytest.raises(TypeError, match="init_params"):
        select_model(X, n_components=[1], init_params="random")
    with pytest.raises(ValueError, match="n_restarts"):
        select_model(X, n_components=[1], n_restarts=0)
    res = select_model(X, n_components=[2], starts="estimator", init_params="random", random_state=0)
    assert res.table[0]["start"] == "random"
