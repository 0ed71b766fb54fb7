"""Slow, obviously-correct references in plain NumPy/SciPy loops.

Everything here works in float64, one point or one component at a time, with
no cleverness: densities come from :func:`scipy.stats.multivariate_normal.logpdf`,
the M-step is written out as the weighted sums scikit-learn's
``_estimate_gaussian_parameters`` defines, and the bound treats ``0 log 0`` as 0.
The tests compare fastgmm's fused kernels against these.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import multivariate_normal

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


# --------------------------------------------------------------------- params
def full_covariances(covariances, covariance_type: str, n_components: int, n_features: int):
    """Every component's covariance as a (d, d) matrix: (C, d, d) float64."""
    cov = np.asarray(covariances, dtype=np.float64)
    C, d = n_components, n_features
    out = np.empty((C, d, d))
    for k in range(C):
        if covariance_type == "full":
            out[k] = cov[k]
        elif covariance_type == "tied":
            out[k] = cov
        elif covariance_type == "diag":
            out[k] = np.diag(cov[k])
        elif covariance_type == "spherical":
            out[k] = cov[k] * np.eye(d)
        else:
            raise ValueError(covariance_type)
    return out


def random_params(rng: np.random.RandomState, C: int, d: int, covariance_type: str, spread=3.0):
    """Well-conditioned random parameters (weights, means, covariances) in
    scikit-learn's shapes for ``covariance_type``."""
    weights = rng.dirichlet(np.full(C, 3.0))
    means = spread * rng.standard_normal((C, d))

    def spd():
        A = rng.standard_normal((d, d)) * 0.6
        return A @ A.T + (0.3 + rng.uniform()) * np.eye(d)

    if covariance_type == "full":
        cov = np.stack([spd() for _ in range(C)])
    elif covariance_type == "tied":
        cov = spd()
    elif covariance_type == "diag":
        cov = rng.uniform(0.3, 2.0, size=(C, d))
    else:
        cov = rng.uniform(0.3, 2.0, size=C)
    return weights, means, cov


def sample_mixture(rng: np.random.RandomState, n: int, weights, means, covariances, covariance_type):
    """``n`` points drawn from the mixture (float64)."""
    C, d = np.shape(means)
    full = full_covariances(covariances, covariance_type, C, d)
    z = rng.choice(C, size=n, p=np.asarray(weights) / np.sum(weights))
    X = np.empty((n, d))
    for k in range(C):
        idx = np.flatnonzero(z == k)
        if idx.size:
            X[idx] = rng.multivariate_normal(means[k], full[k], size=idx.size)
    return X


# -------------------------------------------------------------------- E-step
def log_gauss(X, mean, cov) -> np.ndarray:
    """log N(x_n | mean, cov) for every row, by SciPy."""
    X = np.asarray(X, dtype=np.float64)
    out = multivariate_normal.logpdf(X, mean=np.asarray(mean, np.float64), cov=np.asarray(cov, np.float64))
    return np.atleast_1d(out).reshape(X.shape[0])


def weighted_log_prob(X, weights, means, covariances, covariance_type="full") -> np.ndarray:
    """(N, C): ``log w_k + log N(x_n | mu_k, Sigma_k)``, one component at a time."""
    X = np.asarray(X, dtype=np.float64)
    C, d = np.shape(means)
    full = full_covariances(covariances, covariance_type, C, d)
    lp = np.empty((X.shape[0], C))
    for k in range(C):
        with np.errstate(divide="ignore"):
            lw = math.log(weights[k]) if weights[k] > 0 else -np.inf
        lp[:, k] = lw + log_gauss(X, means[k], full[k])
    return lp


def logsumexp_rows(lp) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities and per-point log-likelihood by a log-sum-exp per row
    that subtracts the row's maximum (plain Python loop over the rows)."""
    N, C = lp.shape
    resp = np.empty((N, C))
    ll = np.empty(N)
    for n in range(N):
        m = max(lp[n])
        s = 0.0
        for k in range(C):
            s += math.exp(lp[n, k] - m)
        ll[n] = m + math.log(s)
        for k in range(C):
            resp[n, k] = math.exp(lp[n, k] - ll[n])
    return resp, ll


def e_step(X, weights, means, covariances, covariance_type="full"):
    """``(resp, ll, labels)``: responsibilities (N, C), per-point
    log-likelihood (N,), most probable component (N,)."""
    lp = weighted_log_prob(X, weights, means, covariances, covariance_type)
    resp, ll = logsumexp_rows(lp)
    return resp, ll, np.argmax(lp, axis=1)


# -------------------------------------------------------------------- M-step
def m_step(X, resp, covariance_type="full", reg_covar=0.0, sample_weight=None, eps=None):
    """Weights, means, covariances from responsibilities, as scikit-learn defines
    them (``nk`` gets ``10 * eps``; ``weights = nk / sum(nk)``), with explicit
    weighted sums over points. ``sample_weight`` multiplies every responsibility.
    """
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    N, d = X.shape
    C = resp.shape[1]
    if eps is None:
        eps = np.finfo(np.float64).eps
    w = np.ones(N) if sample_weight is None else np.asarray(sample_weight, np.float64)
    rw = resp * w[:, None]
    nk = np.zeros(C)
    means = np.zeros((C, d))
    for k in range(C):
        for n in range(N):
            nk[k] += rw[n, k]
            means[k] += rw[n, k] * X[n]
    nk += 10.0 * eps
    means /= nk[:, None]
    # per-component scatter around the component's mean
    scatter = np.zeros((C, d, d))
    for k in range(C):
        for n in range(N):
            diff = X[n] - means[k]
            scatter[k] += rw[n, k] * np.outer(diff, diff)
    if covariance_type == "full":
        cov = scatter / nk[:, None, None] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        # scikit-learn: (sum_n w x x^T - sum_k nk mu_k mu_k^T) / sum(nk)
        xx = np.zeros((d, d))
        for n in range(N):
            xx += w[n] * np.outer(X[n], X[n])
        mm = np.zeros((d, d))
        for k in range(C):
            mm += nk[k] * np.outer(means[k], means[k])
        cov = (xx - mm) / nk.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        cov = np.stack([np.diag(scatter[k]) for k in range(C)]) / nk[:, None] + reg_covar
    elif covariance_type == "spherical":
        cov = np.array([np.diag(scatter[k]).mean() for k in range(C)]) / nk + reg_covar
    else:
        raise ValueError(covariance_type)
    weights = nk / nk.sum()
    return weights, means, cov


def ml_m_step(X, gamma):
    """The classic exercise's M-step: plain maximum likelihood, no epsilon, no
    regularisation; ``pi = N_k / N``."""
    X = np.asarray(X, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    N, d = X.shape
    C = gamma.shape[1]
    pi = np.empty(C)
    mu = np.zeros((C, d))
    sigma = np.zeros((C, d, d))
    for k in range(C):
        nk = gamma[:, k].sum()
        pi[k] = nk / N
        for n in range(N):
            mu[k] += gamma[n, k] * X[n]
        mu[k] /= nk
        for n in range(N):
            diff = X[n] - mu[k]
            sigma[k] += gamma[n, k] * np.outer(diff, diff)
        sigma[k] /= nk
    return pi, mu, sigma


# --------------------------------------------------------------------- bound
def vlb(X, weights, means, covariances, resp, covariance_type="full") -> float:
    """``sum_nk r_nk (log w_k + log N(x_n|k)) - sum_nk r_nk log r_nk`` with
    ``0 log 0 = 0`` (and ``0 * (-inf) = 0``)."""
    lp = weighted_log_prob(X, weights, means, covariances, covariance_type)
    resp = np.asarray(resp, dtype=np.float64)
    total = 0.0
    N, C = resp.shape
    for n in range(N):
        for k in range(C):
            r = resp[n, k]
            if r > 0:
                total += r * lp[n, k] - r * math.log(r)
    return total


def log_likelihood(X, weights, means, covariances, covariance_type="full", sample_weight=None) -> float:
    """Weighted sum of per-point log-likelihoods."""
    _, ll, _ = e_step(X, weights, means, covariances, covariance_type)
    w = np.ones(len(ll)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return float(np.sum(w * ll))


# ------------------------------------------------------------------------ EM
def em(X, weights, means, covariances, covariance_type="full", reg_covar=0.0, n_iter=10, sample_weight=None):
    """``n_iter`` plain EM iterations. Returns the final parameters and the
    list of mean log-likelihoods, each of the parameters *before* that
    iteration's M-step (scikit-learn's convention)."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    params = (np.asarray(weights, np.float64), np.asarray(means, np.float64), np.asarray(covariances, np.float64))
    bounds = []
    for _ in range(n_iter):
        resp, ll, _ = e_step(X, *params, covariance_type)
        bounds.append(float(np.sum(w * ll) / w.sum()))
        params = m_step(X, resp, covariance_type, reg_covar, sample_weight=sample_weight)
    return params, bounds


# --------------------------------------------------------------- missing values
def missing_e_step(X, weights, means, covariances, covariance_type="full"):
    """Per row with NaN entries: the log-likelihood of its observed values
    under the marginal mixture, the responsibilities, and per component the
    completed row ``x^`` and conditional covariance ``Ck`` (d x d, zero off the
    missing block). A loop over rows and components."""
    n, d = X.shape
    C = len(weights)
    covs = full_covariances(covariances, covariance_type, C, d)
    ll = np.empty(n)
    resp = np.empty((n, C))
    xhat = np.empty((n, C, d))
    cond = np.zeros((n, C, d, d))
    for i in range(n):
        o = ~np.isnan(X[i])
        m = ~o
        lp = np.empty(C)
        for k in range(C):
            S = covs[k]
            lp[k] = math.log(weights[k]) + multivariate_normal(means[k][o], S[np.ix_(o, o)]).logpdf(X[i][o])
            B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
            xhat[i, k] = X[i]
            xhat[i, k, m] = means[k][m] + B @ (X[i][o] - means[k][o])
            cond[i, k][np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
        top = lp.max()
        ll[i] = top + math.log(np.exp(lp - top).sum())
        resp[i] = np.exp(lp - ll[i])
    return ll, resp, xhat, cond


def missing_em_step(X, weights, means, covariances, covariance_type="full", reg_covar=0.0, sample_weight=None):
    """One exact EM iteration for data with NaN (Ghahramani & Jordan): returns
    the new (weights, means, covariances) and the weighted log-likelihood of
    the observed values before the update. The M-step is scikit-learn's with
    the completed rows and the conditional covariances in the scatter."""
    n, d = X.shape
    C = len(weights)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    ll, resp, xhat, cond = missing_e_step(X, weights, means, covariances, covariance_type)
    eps = np.finfo(np.float64).eps
    N = np.zeros(C)
    S1 = np.zeros((C, d))
    S2 = np.zeros((C, d, d))
    for i in range(n):
        for k in range(C):
            r = w[i] * resp[i, k]
            N[k] += r
            S1[k] += r * xhat[i, k]
            S2[k] += r * (np.outer(xhat[i, k], xhat[i, k]) + cond[i, k])
    nk = N + 10 * eps
    mu = S1 / nk[:, None]
    scatter = np.stack([S2[k] - np.outer(mu[k], S1[k]) - np.outer(S1[k], mu[k]) + N[k] * np.outer(mu[k], mu[k])
                        for k in range(C)])
    if covariance_type == "full":
        cov = scatter / nk[:, None, None] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        cov = scatter.sum(0) / nk.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        cov = np.stack([np.diag(scatter[k]) for k in range(C)]) / nk[:, None] + reg_covar
    else:
        cov = np.stack([np.diag(scatter[k]) for k in range(C)]) / nk[:, None] + reg_covar
        cov = cov.mean(1)
    return (nk / nk.sum(), mu, cov), float(np.dot(w, ll))


def missing_impute(X, weights, means, covariances, covariance_type="full"):
    """Each NaN replaced by sum_k r_k(x_o) E[x_m | x_o, k]."""
    _, resp, xhat, _ = missing_e_step(X, weights, means, covariances, covariance_type)
    return np.einsum("nk,nkd->nd", resp, xhat)


def vvv_term(rows: np.ndarray, alpha: float) -> float:
    """Fraley's (1998) regularised 'VVV' classification term of one cluster of
    unit-weight rows: ``n log(|W/n| + (tr W + alpha)/n)``, with ``|W/n|`` taken
    as 0 when the cluster has at most as many rows as dimensions."""
    n, p = rows.shape
    D = rows - rows.mean(axis=0)
    W = D.T @ D
    det = 0.0 if n <= p else max(np.linalg.det(W / n), 0.0)
    return n * np.log(det + (np.trace(W) + alpha) / n)


def vvv_agglomeration(Z: np.ndarray, n_clusters: int) -> np.ndarray:
    """Greedy agglomeration by the 'VVV' criterion down to ``n_clusters``, every
    pair's cost recomputed from its rows at every step (labels by cluster)."""
    m, p = Z.shape
    alpha = ((Z - Z.mean(axis=0)) ** 2).sum() / (m * p)
    clusters = [[i] for i in range(m)]
    while len(clusters) > n_clusters:
        best = None
        for a in range(len(clusters)):
            for b in range(a):
                u = clusters[a] + clusters[b]
                c = vvv_term(Z[u], alpha) - vvv_term(Z[clusters[a]], alpha) - vvv_term(Z[clusters[b]], alpha)
                if best is None or c < best[0]:
                    best = (c, a, b)
        _, a, b = best
        clusters[b] = clusters[b] + clusters.pop(a)
    labels = np.empty(m, np.int64)
    for k, members in enumerate(clusters):
        labels[members] = k
    return labels
