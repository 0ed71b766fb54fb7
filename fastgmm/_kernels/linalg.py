"""Small dense linear algebra for the parameters: Cholesky with a status code."""

import numpy as np
from numba import njit

from .._config import JIT


@njit(**JIT)
def _cholesky_inv(cov, linv, status):
    """Cholesky factor ``L`` of each ``cov[k]`` and its inverse ``L^-1``.

    Writes ``L^-1`` (lower triangular) into ``linv[k]`` and returns, per matrix,
    ``sum(log(diag(L^-1)))`` (half the log-determinant of the precision). A matrix
    that is not numerically positive definite (a pivot that is not finite and
    > 0) gets ``status[k] = j + 1`` for the failing column ``j``, an identity in
    ``linv[k]`` and 0 as its log-determinant: never NaN, never an exception.
    """
    k_count, d, _ = cov.shape
    logdet = np.zeros(k_count)
    L = np.empty((d, d))
    for k in range(k_count):
        status[k] = 0
        L[:, :] = 0.0
        for j in range(d):
            s = cov[k, j, j]
            for p in range(j):
                s -= L[j, p] * L[j, p]
            if not (s > 0.0 and s < np.inf):
                status[k] = j + 1
                break
            ljj = np.sqrt(s)
            L[j, j] = ljj
            for i in range(j + 1, d):
                t = cov[k, i, j]
                for p in range(j):
                    t -= L[i, p] * L[j, p]
                L[i, j] = t / ljj
        if status[k] != 0:
            linv[k, :, :] = 0.0
            for j in range(d):
                linv[k, j, j] = 1.0
            continue
        # forward substitution for L^-1, column by column
        ld = 0.0
        for j in range(d):
            for i in range(d):
                linv[k, i, j] = 0.0
            linv[k, j, j] = 1.0 / L[j, j]
            ld -= np.log(L[j, j])
            for i in range(j + 1, d):
                t = 0.0
                for p in range(j, i):
                    t -= L[i, p] * linv[k, p, j]
                linv[k, i, j] = t / L[i, i]
        if not np.isfinite(ld):
            status[k] = d + 1
        logdet[k] = ld
    return logdet
