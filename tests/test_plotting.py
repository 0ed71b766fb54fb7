"""fastgmm.plotting: every figure renders with Agg, with the expected artists."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

from fastgmm import GaussianMixture, select_model  # noqa: E402
from fastgmm.plotting import plot_clusters, plot_criterion, plot_lower_bound  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("plt.show() must not be called")

    monkeypatch.setattr(plt, "show", fail)


def blobs(d=2, n_per=80, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.zeros((3, d))
    centers[1, 0], centers[2, 1 % d] = 8.0, 8.0
    return np.vstack([c + rng.randn(n_per, d) for c in centers])


def render(ax, tmp_path, name="fig.png"):
    path = tmp_path / name
    ax.figure.savefig(path, dpi=50)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    return path


def ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_clusters_2d(tmp_path, covariance_type):
    X = blobs()
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = plot_clusters(gm, X)
    render(ax, tmp_path)
    assert len(ellipses(ax)) == 3 * 2  # 1 and 2 standard deviations per component
    points = ax.collections[0]
    assert len(points.get_offsets()) == len(X)
    # the 2-sd ellipse is twice the 1-sd one, centred on the mean
    e = ellipses(ax)
    assert e[1].width == pytest.approx(2 * e[0].width) and e[1].height == pytest.approx(2 * e[0].height)
    np.testing.assert_allclose(e[0].center, gm.means_[0])


def test_clusters_ellipse_matches_covariance(tmp_path):
    X = blobs()
    gm = GaussianMixture(3, random_state=0).fit(X)
    ax = plot_clusters(gm, X, n_std=(1.0,))
    for e, cov in zip(ellipses(ax), gm.covariances_):
        vals = np.linalg.eigvalsh(cov)
        assert sorted([e.width, e.height]) == pytest.approx(sorted(2 * np.sqrt(vals)))


def test_clusters_projected_for_more_features(tmp_path):
    X = blobs(d=4)
    gm = GaussianMixture(3, random_state=0).fit(X)
    _, ax = plt.subplots()
    out = plot_clusters(gm, X, ax=ax, n_std=(1.0, 2.0, 3.0))
    assert out is ax
    render(ax, tmp_path)
    assert len(ellipses(ax)) == 3 * 3
    assert "PC1" in ax.get_xlabel() and "principal" in ax.get_title()
    # projected covariance P^T S P: the ellipse area is pi * sqrt(det(P^T S P)) (1 sd)
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(Xc, rowvar=False))
    P = vecs[:, ::-1][:, :2]
    for e, cov in zip(ellipses(ax)[::3], gm.covariances_):
        S2 = P.T @ cov @ P
        assert e.width * e.height / 4 == pytest.approx(np.sqrt(np.linalg.det(S2)), rel=1e-6)


def test_clusters_subsample_and_one_feature(tmp_path):
    X = blobs()
    gm = GaussianMixture(3, random_state=0).fit(X)
    ax = plot_clusters(gm, X, max_points=50)
    assert len(ax.collections[0].get_offsets()) == 50
    X1 = X[:, :1]
    gm1 = GaussianMixture(2, random_state=0).fit(X1)
    ax1 = plot_clusters(gm1, X1)
    render(ax1, tmp_path)
    assert len(ellipses(ax1)) == 0 and len(ax1.lines) == 2 + 1  # each component, then the mixture


def test_clusters_rejects_wrong_features():
    gm = GaussianMixture(2, random_state=0).fit(blobs())
    with pytest.raises(ValueError, match="features"):
        plot_clusters(gm, blobs(d=3))


def test_lower_bound(tmp_path):
    X = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(3, init_params="random", random_state=0, tol=1e-6).fit(X)
    ax = plot_lower_bound(gm)
    render(ax, tmp_path)
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), gm.lower_bounds_)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, gm.n_iter_ + 1))


def test_criterion(tmp_path):
    X = blobs(n_per=60)
    res = select_model(X, n_components=range(1, 5), covariance_types=("full", "diag", "spherical"),
                       random_state=0)
    ax = plot_criterion(res)
    render(ax, tmp_path)
    assert len(ax.lines) == 3  # one per covariance type
    assert [line.get_label() for line in ax.lines] == ["full", "diag", "spherical"]
    for line, row in zip(ax.lines, res.scores()):
        np.testing.assert_array_equal(line.get_ydata(), row)
    (star,) = ax.collections  # the best model
    np.testing.assert_allclose(star.get_offsets()[0], [res.best_n_components, res.best_score])
    ax2 = plot_criterion(res, criterion="aic")
    assert "AIC" in ax2.get_ylabel()
