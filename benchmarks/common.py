"""Shared data and models for the asv suite (seeded, generated: no downloads)."""

import numpy as np

from fastgmm.bench import _init_covariances, make_data

#: asv's default shapes: big enough to time the kernels, small enough for --quick
N, D, C = 100_000, 8, 8


def init_params(n=N, d=D, c=C, covariance_type="full", dtype=np.float64):
    """Data and one shared initial model (weights, means, covariances)."""
    X, w0, m0, cov = make_data(n, d, c, dtype)
    return X, w0, m0, _init_covariances(cov, c, covariance_type)


def precisions_init(cov, covariance_type):
    """scikit-learn's precisions_init from covariances."""
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(cov)
    return 1.0 / cov
