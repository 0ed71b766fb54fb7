"""The hierarchical start (init_params='hc'): the 'VVV' agglomeration against
a naive one (tests/naive.py), Ward's against SciPy's, cutting the trees, and
fits started from them. (tests/test_mclust.py compares the 'VVV' tree with
mclust's own.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.cluster.hierarchy import fcluster, linkage

from fastgmm import GaussianMixture
from fastgmm.hc import _whiten, hc_tree, row_cap

from naive import vvv_agglomeration


def _same_partition(a, b):
    """Equal up to the numbering of the clusters."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_ward_cut_equals_scipy(seed, k):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(40, 3) * s + c for s, c in ((1.0, 0), (0.5, 4), (2.0, -6))])
    tree = hc_tree(X, None, rng, criterion="ward")
    Z = _whiten(X)
    ref = fcluster(linkage(Z, method="ward"), k, criterion="maxclust")
    got = tree.labels(k)
    assert got.dtype == np.int32 and set(got.tolist()) == set(range(k))
    assert _same_partition(got, ref)


def test_integer_weights_act_as_repeated_rows_in_the_merge_costs():
    rng = np.random.RandomState(3)
    X = rng.randn(30, 2)
    w = rng.randint(1, 4, 30).astype(float)
    a = hc_tree(X, w, rng, criterion="ward").labels(4)
    # the same costs from repeated points would merge the copies first (cost 0);
    # here: the weighted tree's partition is a valid partition of the 30 rows
    assert a.shape == (30,) and set(a.tolist()) == set(range(4))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("p", [2, 3])
def test_vvv_cut_equals_naive_greedy_agglomeration(seed, p):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(12, p) @ rng.randn(p, p) + 4 * c for c in range(3)])
    tree = hc_tree(X, None, rng)  # 'vvv' is the default, as in mclust
    Z = _whiten(X)
    for k in (1, 2, 3, 5, 12, 35):
        got = tree.labels(k)
        assert set(got.tolist()) == set(range(k))
        assert _same_partition(got, vvv_agglomeration(Z, k)), k


def test_hc_criterion_is_checked_and_the_vvv_sample_shrinks_with_width():
    with pytest.raises(ValueError, match="criterion must be one of"):
        hc_tree(np.zeros((5, 2)), None, np.random.RandomState(0), criterion="EII")
    assert row_cap(8) == row_cap(30) == row_cap(64, "ward") == 2000
    assert 100 <= row_cap(64) < row_cap(40) < 2000


def test_sample_above_max_rows_is_seeded_and_cut_for_every_k():
    rng = np.random.RandomState(0)
    X = rng.randn(500, 2)
    t1 = hc_tree(X, None, np.random.RandomState(5), max_rows=100)
    t2 = hc_tree(X, None, np.random.RandomState(5), max_rows=100)
    assert t1.n_rows == 100 and np.all(np.diff(t1.rows) > 0)
    assert_array_equal(t1.rows, t2.rows)
    for k in (1, 4, 100):
        assert_array_equal(t1.labels(k), t2.labels(k))
    with pytest.raises(ValueError, match="n_clusters"):
        t1.labels(101)


def test_hc_start_finds_the_clusters_unscaled_kmeans_misses():
    # two long thin clusters side by side along a feature 100x larger than the
    # other: k-means splits along the large feature, the standardised Ward start does not
    rng = np.random.RandomState(0)
    a = np.c_[rng.randn(300) * 100.0, rng.randn(300) * 0.3]
    b = np.c_[rng.randn(300) * 100.0, rng.randn(300) * 0.3 + 3.0]
    X = np.vstack([a, b])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hc = GaussianMixture(2, init_params="hc", random_state=0).fit(X)
        km = GaussianMixture(2, init_params="kmeans", random_state=0).fit(X)
    assert hc.lower_bound_ > km.lower_bound_ + 0.1
    truth = np.r_[np.zeros(300), np.ones(300)]
    assert _same_partition(hc.predict(X), truth.astype(int))


def test_hc_start_on_a_sample_assigns_every_row():
    rng = np.random.RandomState(1)
    X = np.vstack([rng.randn(3000, 3) + c for c in (0, 6, 12)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(3, init_params="hc", random_state=0, max_iter=0).fit(X)
    assert np.all(np.isfinite(g.means_)) and np.allclose(np.sort(g.means_[:, 0]), [0, 6, 12], atol=0.3)
