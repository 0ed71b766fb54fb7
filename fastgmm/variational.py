"""Variational Bayesian mixture: the driver behind
:class:`fastgmm.BayesianGaussianMixture`.

The model and its updates are scikit-learn's ``BayesianGaussianMixture``
(Bishop's variational treatment, with scikit-learn's normalisations): a
Dirichlet-process (stick-breaking) or Dirichlet prior on the weights, a
Gaussian-Wishart prior on each component. The E-step is the EM pass of the
engine with another per-component term: the variational E-step's
``log rho_k = E[log pi_k] + E[log N(x | mu_k, Lambda_k)]`` is a Gaussian
log-density at the precision factor ``sqrt(nu_k) L_k^-1`` (scikit-learn's
``precisions_cholesky_``) plus a constant per component (:func:`estep_log_weights`),
so a pass is the fused EM pass with ``Factors.log_weights`` set, and with its
entropy stage on: the bound's ``-sum r log r`` is summed in the pass, nothing
N x C is stored. The C-sized special functions (digamma, gammaln, betaln) run
in :mod:`scipy.special`.

Every update runs in float64 on the statistics of the pass, in scikit-learn's
order: ``nk, xk, sk`` (its ``_estimate_gaussian_parameters``, ``reg_covar``
included), then the weights' concentration, the means' precision and means,
the Wishart parameters, the factorisation, and the bound from the entropy of
the E-step before the update and the parameters after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .em import FitFailedError, RunResult, VerboseCallback, improves, initial_assignments
from .params import Factors, GMMParams, factorize
from .sources import DataSource
from .stats import SufficientStats, assign_stats, gaussian_parameters

__all__ = ["Priors", "VBState", "FitFailedError", "default_priors", "fit", "update", "lower_bound"]

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


@dataclass
class Priors:
    """The prior's parameters, as scikit-learn's ``*_prior_`` attributes.

    ``covariance`` is (d, d) for 'full' and 'tied', (d,) for 'diag', a float
    for 'spherical'.
    """

    prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: np.ndarray | float


@dataclass
class VBState:
    """The variational posterior, in scikit-learn's shapes (float64).

    ``weight_concentration`` is a pair of (C,) arrays for the Dirichlet process
    (the Beta parameters of the sticks), one (C,) array for the Dirichlet
    distribution. ``degrees_of_freedom`` is a float for 'tied', (C,) otherwise.
    ``covariances`` are scikit-learn's (the Wishart scale over the degrees of
    freedom); ``factors`` their factorisation with the E-step's per-component
    term. ``nk``, ``xk``, ``sk`` are the statistics the state was computed from.
    """

    covariance_type: str
    prior_type: str
    weight_concentration: tuple | np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: np.ndarray | float
    covariances: np.ndarray
    factors: Factors
    nk: np.ndarray
    xk: np.ndarray
    sk: np.ndarray

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def weights(self) -> np.ndarray:
        """The expected weights (scikit-learn's ``weights_``)."""
        return expected_weights(self.weight_concentration, self.prior_type)


def default_priors(
    prior_type: str,
    covariance_type: str,
    n_components: int,
    moments: tuple[np.ndarray, np.ndarray],
    total_weight: float,
    dtype,
    *,
    weight_concentration: float | None = None,
    mean_precision: float | None = None,
    mean: np.ndarray | None = None,
    degrees_of_freedom: float | None = None,
    covariance=None,
) -> Priors:
    """The priors, with scikit-learn's defaults for those not given: weight
    concentration ``1 / n_components``, mean precision 1, the data's mean (in
    X's dtype, as ``X.mean(axis=0)``), ``n_features`` degrees of freedom, and
    the data's covariance with ``ddof=1`` (``np.cov(X.T)``; weighted data:
    the weighted covariance times ``W / (W - 1)``, ``W`` the total weight),
    its diagonal for 'diag' and the diagonal's mean for 'spherical'.
    ``moments`` is the data's weighted (mean, covariance) (``ddof=0``)."""
    mu, cov = moments
    d = mu.shape[0]
    if mean is None:
        mean = np.asarray(mu, dtype=dtype).astype(np.float64)
    if covariance is None:
        w = float(total_weight)
        unbiased = cov * (w / (w - 1.0)) if w > 1.0 else cov
        covariance = {
            "full": unbiased,
            "tied": unbiased,
            "diag": np.diag(unbiased).copy(),
            "spherical": float(np.diag(unbiased).mean()),
        }[covariance_type]
    return Priors(
        prior_type,
        1.0 / n_components if weight_concentration is None else float(weight_concentration),
        1.0 if mean_precision is None else float(mean_precision),
        np.asarray(mean, np.float64),
        float(d) if degrees_of_freedom is None else float(degrees_of_freedom),
        covariance,
    )


# ------------------------------------------------------------------ the updates
def expected_weights(weight_concentration, prior_type: str) -> np.ndarray:
    """scikit-learn's ``weights_``: the normalised expected weights."""
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        tot = a + b
        w = a / tot * np.hstack((1.0, np.cumprod(b / tot)[:-1]))
        return w / w.sum()
    return weight_concentration / weight_concentration.sum()


def expected_log_weights(weight_concentration, prior_type: str) -> np.ndarray:
    """``E[log pi_k]`` under the posterior of the weights."""
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        dsum = digamma(a + b)
        return digamma(a) - dsum + np.hstack((0.0, np.cumsum(digamma(b) - dsum)[:-1]))
    return digamma(weight_concentration) - digamma(np.sum(weight_concentration))


def estep_log_weights(state_or_parts, n_features: int) -> np.ndarray:
    """The E-step's per-component term that replaces ``log w_k``:
    ``E[log pi_k] - d log(nu_k) / 2 + (log Lambda~_k - d / beta_k) / 2`` with
    ``log Lambda~_k = d log 2 + sum_i digamma((nu_k - i) / 2)`` (scikit-learn's
    ``_estimate_log_weights`` and the constant part of its ``_estimate_log_prob``;
    the Gaussian part at ``precisions_cholesky_`` is the kernels' own)."""
    wc, prior_type, dof, beta = state_or_parts
    d = n_features
    dof = np.asarray(dof, np.float64)
    log_lambda = d * np.log(2.0) + np.sum(digamma(0.5 * (dof - np.arange(d)[:, None])), 0)
    return expected_log_weights(wc, prior_type) - 0.5 * d * np.log(dof) + 0.5 * (log_lambda - d / beta)


def update(nk: np.ndarray, xk: np.ndarray, sk: np.ndarray, priors: Priors, covariance_type: str) -> VBState:
    """The variational M-step from ``nk'`` (with scikit-learn's ``10 eps``),
    the weighted means ``xk`` and covariances ``sk`` (``reg_covar`` included):
    scikit-learn's ``_estimate_weights``, ``_estimate_means`` and
    ``_estimate_precisions``, in its order and arithmetic."""
    C, d = xk.shape
    ct = covariance_type
    if priors.prior_type == "dirichlet_process":
        wc = (1.0 + nk, priors.weight_concentration + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0)))
    else:
        wc = priors.weight_concentration + nk
    beta0, m0 = priors.mean_precision, priors.mean
    beta = beta0 + nk
    means = (beta0 * m0 + nk[:, None] * xk) / beta[:, None]
    diff = xk - m0
    if ct == "full":
        dof = priors.degrees_of_freedom + nk
        cov = priors.covariance + nk[:, None, None] * sk + (nk * beta0 / beta)[:, None, None] * (
            diff[:, :, None] * diff[:, None, :]
        )
        cov /= dof[:, None, None]
    elif ct == "tied":
        dof = priors.degrees_of_freedom + nk.sum() / C
        cov = priors.covariance + sk * nk.sum() / C + beta0 / C * np.dot((nk / beta) * diff.T, diff)
        cov /= dof
    elif ct == "diag":
        dof = priors.degrees_of_freedom + nk
        cov = priors.covariance + nk[:, None] * (sk + (beta0 / beta)[:, None] * np.square(diff))
        cov /= dof[:, None]
    else:
        dof = priors.degrees_of_freedom + nk
        cov = priors.covariance + nk * (sk + beta0 / beta * np.mean(np.square(diff), 1))
        cov /= dof
    weights = expected_weights(wc, priors.prior_type)
    f = factorize(GMMParams(weights, means, cov, ct))
    f = replace(f, log_weights=estep_log_weights((wc, priors.prior_type, dof, beta), d))
    return VBState(ct, priors.prior_type, wc, beta, means, dof, cov, f, nk, xk, sk)


def lower_bound(state: VBState, entropy: float, priors: Priors) -> float:
    """scikit-learn's variational lower bound (up to its dropped constants):
    the entropy of the E-step's responsibilities (summed in the pass) minus
    the Wishart and weight normalisers and ``d/2 sum log beta_k``, at the
    parameters after the M-step."""
    d = state.means.shape[1]
    dof = state.degrees_of_freedom
    ldpc = state.factors.half_logdet - 0.5 * d * np.log(dof)
    if state.covariance_type == "tied":
        log_wishart = state.n_components * float(_log_wishart_norm(dof, ldpc[0], d)[0])
    else:
        log_wishart = float(np.sum(_log_wishart_norm(dof, ldpc, d)))
    wc = state.weight_concentration
    if state.prior_type == "dirichlet_process":
        log_norm_weight = -float(np.sum(betaln(wc[0], wc[1])))
    else:
        log_norm_weight = float(gammaln(np.sum(wc)) - np.sum(gammaln(wc)))
    return float(entropy - log_wishart - log_norm_weight - 0.5 * d * np.sum(np.log(state.mean_precision)))


def _log_wishart_norm(dof, log_det_precisions_chol, d: int):
    """scikit-learn's ``_log_wishart_norm`` (without its ``log pi`` term)."""
    return -(
        dof * log_det_precisions_chol
        + dof * d * 0.5 * np.log(2.0)
        + np.sum(gammaln(0.5 * (dof - np.arange(d)[:, None])), 0)
    )


def prune(state: VBState, keep: np.ndarray, priors: Priors) -> VBState:
    """The state recomputed from the statistics of the components ``keep``
    only (their weights renormalise; the stick order is kept)."""
    return update(state.nk[keep], state.xk[keep], state.sk[keep], priors, state.covariance_type)


def _checked(state: VBState, dtype) -> VBState:
    if state.factors.bad.size:
        from ._validation import ill_defined_covariance_message

        raise FitFailedError(ill_defined_covariance_message(dtype))
    return state


# ------------------------------------------------------------------ the driver
def initial_state(
    data: DataSource, n_components: int, covariance_type: str, init_params: str, reg_covar: float,
    priors: Priors, rng: np.random.RandomState,
) -> VBState:
    """scikit-learn's ``_initialize``: the statistics of the initial
    responsibilities, then the variational M-step. Initialising on a sample of
    a streamed source, the statistics are scaled to the source's total weight
    (the posterior's counts are those of the data, not of the sample)."""
    init = data.init_data(rng, n_components)
    given = initial_assignments(init, n_components, init_params, rng)
    st = assign_stats(init.X, init.sw, covariance_type, n_components, init.moments[0], given)
    if init is not data:
        s = data.total_weight / init.total_weight
        st = replace(st, nk=st.nk * s, s1=st.s1 * s, s2=st.s2 * s)
    nk, xk, sk = gaussian_parameters(st, covariance_type, reg_covar, data.eps)
    return _checked(update(nk, xk, sk, priors, covariance_type), data.dtype)


@dataclass
class VBResult(RunResult):
    """One variational run (``params`` holds the expected weights, the means
    and scikit-learn's covariances; ``state`` the whole posterior)."""

    state: VBState | None = None
    n_pruned: int = 0


def vb_run(
    data: DataSource,
    state: VBState,
    priors: Priors,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    prev_lower_bound: float = -np.inf,
    min_weight: float | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> VBResult:
    """Variational EM from ``state``: per iteration one fused pass (E-step,
    statistics, entropy), the variational M-step, the bound; converged when the
    bound changes by less than ``tol``. With ``min_weight``, components whose
    expected weight falls below it are dropped after the M-step (the
    convergence test then restarts: the bound of a smaller model is another
    function)."""
    ct = state.covariance_type
    lb = prev_lower_bound
    bounds: list[float] = []
    converged = False
    n_iter = 0
    pruned = 0
    for n_iter in range(1, max_iter + 1):
        prev = lb
        st: SufficientStats = data.stats(state.factors, entropy=True)
        nk, xk, sk = gaussian_parameters(st, ct, reg_covar, data.eps)
        state = _checked(update(nk, xk, sk, priors, ct), data.dtype)
        lb = lower_bound(state, st.entropy, priors)
        bounds.append(lb)
        change = lb - prev
        if callback is not None:
            callback(n_iter, lb, change)
        if min_weight is not None:
            keep = state.weights >= min_weight
            if not keep.all() and keep.any():
                pruned += int((~keep).sum())
                state = _checked(prune(state, keep, priors), data.dtype)
                lb = -np.inf
                continue
        if abs(change) < tol:
            converged = True
            break
    if bounds and lb == -np.inf:
        lb = bounds[-1]
    params = GMMParams(state.weights, state.means, state.covariances, ct)
    return VBResult(params, float(lb), bounds, n_iter, converged, 0, state.factors, state, pruned)


def fit(
    data: DataSource,
    n_components: int,
    covariance_type: str,
    priors: Priors,
    *,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init_params: str = "kmeans",
    warm_state: VBState | None = None,
    warm_lower_bound: float = -np.inf,
    random_state: np.random.RandomState,
    min_weight: float | None = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    on_iter: Callable[[int, int, float], None] | None = None,
) -> VBResult:
    """Best of ``n_init`` variational runs (by final bound), as scikit-learn's
    ``fit`` chooses it; ``warm_state`` runs once from a previous posterior."""
    best: VBResult | None = None
    n_runs = 1 if warm_state is not None else n_init
    for run in range(n_runs):
        cb = VerboseCallback(run, verbose, verbose_interval, on_iter)
        if warm_state is not None:
            state, prev = warm_state, warm_lower_bound
        else:
            state = initial_state(data, n_components, covariance_type, init_params, reg_covar, priors, random_state)
            prev = -np.inf
        result = vb_run(
            data, state, priors, tol=tol, max_iter=max_iter, reg_covar=reg_covar, prev_lower_bound=prev,
            min_weight=min_weight, callback=cb if (verbose or on_iter is not None) else None,
        )
        if max_iter == 0:
            result.lower_bound = -np.inf
        cb.end(result, max_iter)
        if best is None or improves(result.lower_bound, best.lower_bound, data.eps):
            best = result
    return best
