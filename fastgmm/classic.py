"""The classic EM exercise, done right: ``E_step``, ``M_step``, ``compute_vlb``
and ``train_EM`` with the exercise's signatures, on the fused kernels.

What they get right that naive versions get wrong: the normal density's
constant uses the dimension d; the log-sum-exp subtracts the maximum of the
log-probabilities; nothing of size N x N is built; ``0 log 0 = 0`` in the
bound; ``train_EM`` stops on the relative change of the bound, keeps the
restart with the highest bound, initialises from the data, and survives
collapsing components.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import (
    _has_complex,
    check_param_array,
    check_spd,
    check_weights,
    check_X,
    ill_defined_covariance_message,
    naming,
)
from .em import FitFailedError, _Collapsed, em_run
from .sources import ArrayData
from .init import kmeans_plusplus
from .params import GMMParams, factorize
from .stats import assign_stats, expected_complete_loglik, m_step, score

__all__ = ["E_step", "M_step", "compute_vlb", "train_EM"]

#: diagonal loading ``train_EM`` adds to every covariance (scikit-learn's default)
TRAIN_REG_COVAR = 1e-6


def _as_float_array(a, name: str) -> np.ndarray:
    """float64 array of ``a``; complex, ragged or non-numeric input is a
    ValueError that names ``name``."""
    if _has_complex(a):
        raise ValueError(f"{name} must be real; complex numbers are not supported")
    with naming(name):
        try:
            return np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of numbers: {exc}") from None


def _check_X(X) -> np.ndarray:
    """:func:`check_X`, with a message that names X when X is not 2-D."""
    with naming("X"):
        ndim = np.ndim(X)
    if ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (N, d), got a {ndim}-D array of shape {np.shape(X)}")
    return check_X(X)


def _check_model(X, pi, mu, sigma):
    X = _check_X(X)
    N, d = X.shape
    mu = _as_float_array(mu, "mu")
    if np.ndim(mu) != 2 or np.shape(mu)[1] != d:
        raise ValueError(f"mu must have shape (C, {d}) to match X's {d} features, got {np.shape(mu)}")
    C = np.shape(mu)[0]
    pi = check_weights(pi, C, "pi")
    mu = check_param_array(mu, "mu", (C, d))
    sigma = check_param_array(sigma, "sigma", (C, d, d))
    check_spd(sigma, "sigma")
    return X, GMMParams(pi, mu, sigma, "full")


def _check_gamma(gamma, N: int) -> np.ndarray:
    g = _as_float_array(gamma, "gamma")
    if g.ndim != 2 or g.shape[0] != N:
        raise ValueError(f"gamma must have shape ({N}, C) to match X's {N} rows, got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("gamma must be finite; it contains NaN or inf")
    if np.any(g < 0):
        raise ValueError("gamma must be non-negative")
    if not np.allclose(g.sum(axis=1), 1.0, rtol=0, atol=1e-6):
        bad = int(np.argmax(np.abs(g.sum(axis=1) - 1.0)))
        raise ValueError(f"gamma's rows must sum to 1; row {bad} sums to {g[bad].sum():.8f}")
    return g


def E_step(X, pi, mu, sigma) -> np.ndarray:
    """Posterior probabilities of the components for every point.

    Parameters
    ----------
    X : array-like of shape (N, d)
        The points.
    pi : array-like of shape (C,)
        Mixture weights (non-negative, summing to 1).
    mu : array-like of shape (C, d)
        Component means.
    sigma : array-like of shape (C, d, d)
        Component covariance matrices (symmetric positive definite).

    Returns
    -------
    gamma : ndarray of shape (N, C)
        ``gamma[n, k] = p(z_n = k | x_n)``; rows sum to 1. Same dtype as X
        (float32 input stays float32).
    """
    X, params = _check_model(X, pi, mu, sigma)
    gamma = np.empty((X.shape[0], params.n_components), X.dtype)
    score(X, factorize(params), resp=gamma)
    return gamma


def M_step(X, gamma) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood parameters given responsibilities.

    Parameters
    ----------
    X : array-like of shape (N, d)
    gamma : array-like of shape (N, C)
        Responsibilities; rows sum to 1.

    Returns
    -------
    pi : ndarray of shape (C,)
    mu : ndarray of shape (C, d)
    sigma : ndarray of shape (C, d, d)
        Plain maximum-likelihood estimates in float64 (no regularisation). A
        component with zero total responsibility gets a zero mean and covariance.
    """
    X = _check_X(X)
    N, d = X.shape
    g = _check_gamma(gamma, N).astype(X.dtype)
    C = g.shape[1]
    mean, _ = ArrayData(X).moments
    st = assign_stats(X, None, "full", C, mean, g)
    p = m_step(st, "full", 0.0, 0.0) if np.all(st.nk > 0) else _safe_m_step(st)
    pi = st.nk / st.nk.sum()
    return pi, p.means, _symmetrize(p.covariances)


def _symmetrize(sigma: np.ndarray) -> np.ndarray:
    """Exactly symmetric covariances (the M-step's rank-one correction is
    symmetric only up to rounding)."""
    return 0.5 * (sigma + np.swapaxes(sigma, -1, -2))


def _safe_m_step(st):
    nk = np.where(st.nk > 0, st.nk, 1.0)
    st2 = type(st)(nk, np.where(st.nk[:, None] > 0, st.s1, 0.0), st.s2, st.shift, st.center, st.ll)
    p = m_step(st2, "full", 0.0, 0.0)
    empty = st.nk <= 0
    p.means[empty] = 0.0
    p.covariances[empty] = 0.0
    return p


def compute_vlb(X, pi, mu, sigma, gamma) -> float:
    """The variational lower bound ``L(q, theta)`` with ``q = gamma``.

    ``sum_n sum_k gamma_nk (log pi_k + log N(x_n | mu_k, sigma_k))
    - sum_n sum_k gamma_nk log gamma_nk``, with ``0 log 0 = 0``. Equals the
    log-likelihood when ``gamma`` is the posterior of the same parameters.

    Returns
    -------
    float
    """
    X, params = _check_model(X, pi, mu, sigma)
    g = _check_gamma(gamma, X.shape[0])
    if g.shape[1] != params.n_components:
        raise ValueError(f"gamma must have {params.n_components} columns (one per component), got {g.shape[1]}")
    ecl = expected_complete_loglik(X, factorize(params), np.ascontiguousarray(g, X.dtype))
    pos = g > 0
    entropy = -float(np.sum(g[pos] * np.log(g[pos])))
    return float(ecl + entropy)


def train_EM(X, C, rtol=1e-3, max_iter=100, restarts=10, random_state=None):
    """Fit a C-component full-covariance mixture by EM, best of ``restarts`` runs.

    Parameters
    ----------
    X : array-like of shape (N, d)
    C : int
        Number of components.
    rtol : float, default=1e-3
        A run stops when ``|(L_i - L_{i-1}) / L_{i-1}| <= rtol``, L being the
        lower bound (log-likelihood) of successive iterations.
    max_iter : int, default=100
        Most iterations per run.
    restarts : int, default=10
        Number of runs from different initialisations; the one with the highest
        bound is kept.
    random_state : int, RandomState or None
        Seeds the initialisations.

    Returns
    -------
    best_loss : float
        The log-likelihood of the returned parameters (the variational lower
        bound at the posterior they imply).
    best_pi : ndarray of shape (C,)
    best_mu : ndarray of shape (C, d)
    best_sigma : ndarray of shape (C, d, d)

    Notes
    -----
    Each run starts from k-means++ seeds for the means, the data's covariance
    for every component and equal weights. ``1e-6`` is added to the diagonal of
    every covariance (:data:`TRAIN_REG_COVAR`), and collapsing components are
    re-seeded (see :mod:`fastgmm.em`).
    """
    X = _check_X(X)
    N, d = X.shape
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)) or C < 1:
        raise ValueError(f"C must be a positive integer, got {C!r}")
    if C > N:
        raise ValueError(f"C must be at most the number of points ({N}), got {C}")
    for name, val, lo in (("max_iter", max_iter, 1), ("restarts", restarts, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.integer, np.floating)) or not (
        np.isfinite(rtol) and rtol >= 0
    ):
        raise ValueError(f"rtol must be a non-negative number, got {rtol!r}")
    rng = _check_random_state(random_state)
    data = ArrayData(X)
    _, cov = data.moments
    best = None
    for _ in range(restarts):
        idx = kmeans_plusplus(X, C, rng)
        params = GMMParams(
            np.full(C, 1.0 / C),
            X[idx].astype(np.float64),
            np.repeat((cov + TRAIN_REG_COVAR * np.eye(d))[None], C, 0),
            "full",
        )
        try:
            res = em_run(data, params, tol=rtol, max_iter=max_iter, reg_covar=TRAIN_REG_COVAR, rng=rng, rtol=True)
        except _Collapsed:  # a run that collapsed beyond recovery
            continue
        # the bound of the parameters we return: one more E-pass
        loss, _ = score(X, factorize(res.params))
        if best is None or loss > best[0]:
            best = (float(loss), res.params)
    if best is None:
        raise FitFailedError(
            f"{ill_defined_covariance_message(X.dtype)} In train_EM: every one of the {restarts} "
            f"restarts collapsed beyond recovery. train_EM adds a fixed {TRAIN_REG_COVAR:g} "
            f"(TRAIN_REG_COVAR) to every covariance: use fewer components (C, now {C}) or scale the data."
        )
    loss, p = best
    return loss, p.weights, p.means, _symmetrize(p.covariances)


def _check_random_state(seed) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``, without importing scikit-learn."""
    if seed is None or seed is np.random:
        # NumPy's global RandomState (the one np.random.seed seeds), which the
        # legacy module-level functions are bound methods of
        return np.random.random_sample.__self__
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state: {seed!r} cannot be used to seed a numpy.random.RandomState instance")
