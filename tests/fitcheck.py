"""Helpers shared by the tests that compare a streamed fit (dask, memmap) with
the in-memory one."""

from __future__ import annotations

import warnings

import numpy as np

from fastgmm import GaussianMixture


def init_params(X, C: int, ct: str = "full") -> dict:
    """weights/means/precisions_init from a short fit on a few rows (float64)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(C, covariance_type=ct, max_iter=2, random_state=1).fit(
            np.asarray(X[:300], np.float64)
        )
    return dict(weights_init=g.weights_, means_init=g.means_, precisions_init=g.precisions_)


def assert_close(a, b, rtol: float) -> None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()))


def assert_same_fit(a, b, rtol: float = 1e-10) -> None:
    """``a`` (streamed) fitted the same model as ``b`` (in memory)."""
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
        assert_close(getattr(a, name), getattr(b, name), rtol)
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    assert a.n_recoveries_ == b.n_recoveries_
    assert a.n_features_in_ == b.n_features_in_
    assert_close(a.lower_bound_, b.lower_bound_, rtol)
