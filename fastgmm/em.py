"""The EM driver: one run, restarts, collapse recovery, convergence.

Collapse recovery
-----------------
After every M-step (and after initialisation) each component is checked. A
component *collapses* when its weight vanishes (``N_k`` below a thousandth of
an average point's weight) or when its covariance, ``reg_covar`` included, is
not numerically positive definite (the hand-written Cholesky reports a
failed pivot). A collapsed component is re-seeded: its mean moves to the point
the current model explains worst (then to random data points, if several
collapse at once), its covariance becomes the data's covariance (plus
``reg_covar``) and its weight ``1/C`` before renormalising. A re-seed changes
the parameters outside EM, so the lower bound may drop once: the convergence
test restarts after it (the previous bound is forgotten), and within the
stretches between re-seeds the bound never decreases. A run that needs more
than ``max_recoveries`` re-seeds is abandoned and restarted from a fresh
initialisation; only when every attempt fails does the caller get a
:class:`FitFailedError` that says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Callable

import numpy as np

from .init import kmeans, kmeans_plusplus
from .params import Factors, GMMParams, factorize
from .sources import ArrayData, DataSource
from .hc import hc_tree
from .stats import assign_stats, m_step, score

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hc")


class FitFailedError(ValueError):
    """Every attempt to fit collapsed beyond recovery."""


@dataclass
class RunResult:
    """Outcome of one EM run from one initialisation."""

    params: GMMParams
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    n_recoveries: int = 0
    factors: Factors | None = None  #: the factorisation of ``params`` (the fitted precisions)


class _Collapsed(Exception):
    pass


def params_from_assignments(
    data: ArrayData, n_components: int, covariance_type: str, reg_covar: float, given
) -> GMMParams:
    """M-step from given assignments ``given``: hard int32 labels (-1 for rows of
    no component) or dense (N, C) responsibilities in X's dtype."""
    mean, _ = data.moments
    st = assign_stats(data.X, data.sw, covariance_type, n_components, mean, given)
    return m_step(st, covariance_type, reg_covar, data.eps)


def initialize(
    data: ArrayData,
    n_components: int,
    covariance_type: str,
    init_params: str,
    reg_covar: float,
    rng: np.random.RandomState,
) -> GMMParams:
    """Initial parameters by one of scikit-learn's schemes (weighted): the
    M-step from :func:`initial_assignments`."""
    given = initial_assignments(data, n_components, init_params, rng)
    return params_from_assignments(data, n_components, covariance_type, reg_covar, given)


def initial_assignments(data: ArrayData, n_components: int, init_params: str, rng: np.random.RandomState):
    """The initial responsibilities of scikit-learn's schemes (and 'hc'), as
    :func:`fastgmm.stats.assign_stats` takes them: int32 labels (-1: no
    component) or dense (N, C) responsibilities in X's dtype."""
    X, sw, n = data.X, data.sw, data.n
    if init_params == "kmeans":
        return kmeans(X, n_components, rng, sw)[1]
    if init_params == "random":
        resp = rng.uniform(size=(n, n_components)).astype(X.dtype)
        resp /= resp.sum(axis=1)[:, None]
        return resp
    if init_params == "hc":
        return hc_labels(data, n_components, rng)
    if init_params == "random_from_data":
        indices = rng.choice(n, size=n_components, replace=False)
    elif init_params == "k-means++":
        indices = kmeans_plusplus(X, n_components, rng, sw)
    else:  # pragma: no cover - validated by callers
        raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {init_params!r}")
    labels = np.full(n, -1, np.int32)
    labels[indices] = np.arange(n_components)
    return labels


def hc_labels(data: ArrayData, n_components: int, rng: np.random.RandomState, tree=None) -> np.ndarray:
    """int32 labels of every row from a hierarchical tree cut at ``n_components``
    (:mod:`fastgmm.hc`; ``tree`` when given, else one built from ``rng``): the
    agglomerated rows keep the tree's clusters; the others go to the nearest
    cluster mean in the data's Mahalanobis metric."""
    if tree is None:
        tree = hc_tree(data.X, data.sw, rng)
    sample = tree.labels(n_components)
    if tree.n_rows == data.n:
        return sample
    Xs = data.X[tree.rows].astype(np.float64)
    ws = np.ones(tree.n_rows) if data.sw is None else data.sw[tree.rows]
    C = n_components
    tot = np.bincount(sample, weights=ws, minlength=C)
    means = np.stack([np.bincount(sample, weights=ws * Xs[:, i], minlength=C) for i in range(Xs.shape[1])], 1)
    means /= np.where(tot > 0, tot, 1.0)[:, None]
    _, cov = data.moments
    f = factorize(GMMParams(np.full(C, 1.0 / C), means, cov + 1e-10 * np.trace(cov) * np.eye(cov.shape[0]), "tied"))
    labels = np.empty(data.n, np.int64)
    score(data.X, f, labels=labels)
    labels = labels.astype(np.int32)
    labels[tree.rows] = sample
    return labels


def _reseed(
    params: GMMParams, bad: np.ndarray, data: DataSource, worst_index: int, reg_covar: float, rng
) -> GMMParams:
    """Re-seed the collapsed components ``bad`` (see the module docstring)."""
    p = params.copy()
    _, cov = data.moments
    d = p.n_features
    cov = cov + reg_covar * np.eye(d)
    ct = p.covariance_type
    for j, k in enumerate(bad):
        idx = worst_index if (j == 0 and worst_index >= 0) else int(rng.randint(data.n))
        p.means[k] = data.row(idx)
        p.weights[k] = 1.0 / p.n_components
        if ct == "full":
            p.covariances[k] = cov
        elif ct == "diag":
            p.covariances[k] = np.diag(cov)
        elif ct == "spherical":
            p.covariances[k] = np.diag(cov).mean()
    if ct == "tied" and factorize(p).bad.size:
        p.covariances = cov
    p.weights /= p.weights.sum()
    return p


def _check(params: GMMParams, nk: np.ndarray | None, data: DataSource):
    f = factorize(params)
    bad = f.bad
    if nk is not None:
        vanish = 1e-3 * data.total_weight / data.n
        small = np.flatnonzero(~(nk >= vanish))
        if small.size:
            bad = np.union1d(bad, small)
    if not (np.all(np.isfinite(params.means)) and np.all(np.isfinite(params.weights))):
        bad = np.arange(params.n_components)
    return f, bad


def recover(
    params: GMMParams, nk: np.ndarray | None, data: DataSource, worst_index: int, reg_covar: float, rng,
    max_recoveries: int,
) -> tuple[GMMParams, Factors, int]:
    """``params`` with its collapsed components re-seeded (see the module
    docstring), their factorisation and the number of re-seeds;
    :class:`FitFailedError` after ``max_recoveries``."""
    f, bad = _check(params, nk, data)
    n = 0
    while bad.size:
        n += 1
        if n > max_recoveries:
            from ._validation import ill_defined_covariance_message

            raise FitFailedError(
                f"{ill_defined_covariance_message(data.dtype)} In fastgmm: components still collapsed "
                f"after {max_recoveries} re-seeds."
            )
        params = _reseed(params, bad, data, worst_index if n == 1 else -1, reg_covar, rng)
        f, bad = _check(params, None, data)
    return params, f, n


def em_run(
    data: DataSource,
    params: GMMParams,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    rng: np.random.RandomState,
    rtol: bool = False,
    prev_lower_bound: float = -np.inf,
    max_recoveries: int | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> RunResult:
    """One EM run from ``params``.

    Each iteration is one fused pass (E-step at the current parameters, their
    mean log-likelihood, and the statistics) followed by the M-step. The lower
    bound recorded for an iteration is the weighted mean log-likelihood of the
    parameters *before* its M-step, as in scikit-learn. Converged when
    ``|change| < tol`` (or, with ``rtol=True``, ``|change / previous| <= tol``).
    """
    C = params.n_components
    if max_recoveries is None:
        max_recoveries = max(10, 2 * C)
    W = data.total_weight
    recoveries = 0
    f, bad = _check(params, None, data)
    while bad.size:
        recoveries += 1
        if recoveries > max_recoveries:
            raise _Collapsed()
        params = _reseed(params, bad, data, -1, reg_covar, rng)
        f, bad = _check(params, None, data)
    lower_bound = prev_lower_bound
    bounds: list[float] = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        prev = lower_bound
        st = data.stats(f)
        lower_bound = st.ll / W
        if not np.isfinite(lower_bound):
            raise _Collapsed()
        bounds.append(lower_bound)
        new = m_step(st, params.covariance_type, reg_covar, data.eps)
        f, bad = _check(new, st.nk, data)
        reseeded = False
        while bad.size:
            recoveries += 1
            reseeded = True
            if recoveries > max_recoveries:
                raise _Collapsed()
            new = _reseed(new, bad, data, st.worst_index, reg_covar, rng)
            f, bad = _check(new, None, data)
        params = new
        change = lower_bound - prev
        if callback is not None:
            callback(n_iter, lower_bound, change)
        if reseeded:
            lower_bound = -np.inf  # the bound restarts after a re-seed
            continue
        if rtol:
            done = prev != -np.inf and abs(change / prev) <= tol
        else:
            done = abs(change) < tol
        if done:
            converged = True
            break
    if not bounds:
        lower_bound = prev_lower_bound
    elif lower_bound == -np.inf:
        lower_bound = bounds[-1]
    return RunResult(params, float(lower_bound), bounds, n_iter, converged, recoveries, f)


class VerboseCallback:
    """The per-iteration callback of run ``run``: ``on_iter(run, iteration,
    lower_bound)`` and scikit-learn's verbose messages (``verbose`` 1 or 2,
    every ``verbose_interval`` iterations); :meth:`end` prints the run's end.
    Prints "Initialization <run>" when made (verbose)."""

    def __init__(self, run: int, verbose: int, verbose_interval: int, on_iter):
        self.run, self.verbose, self.interval, self.on_iter = run, verbose, verbose_interval, on_iter
        if verbose:
            print(f"Initialization {run}")
        self.t_init = self.t_iter = perf_counter()

    def __call__(self, it: int, lb: float, change: float) -> None:
        if self.on_iter is not None:
            self.on_iter(self.run, it, lb)
        if self.verbose and it % self.interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {it}")
            else:
                now = perf_counter()
                print(f"  Iteration {it}\t time lapse {now - self.t_iter:.5f}s\t ll change {change:.5f}")
                self.t_iter = now

    def end(self, result: RunResult, max_iter: int) -> None:
        if self.verbose and max_iter > 0:
            msg = "converged" if result.converged else "did not converge"
            if self.verbose == 1:
                print(f"Initialization {msg}.")
            else:
                print(
                    f"Initialization {msg}. time lapse {perf_counter() - self.t_init:.5f}s\t "
                    f"lower bound {result.lower_bound:.5f}."
                )


def improves(bound: float, best: float, eps: float) -> bool:
    """Whether a run's lower ``bound`` beats the ``best`` so far, as
    scikit-learn decides (higher; a later run wins ties at -inf, i.e.
    ``max_iter=0``) except that a gain within rounding (``10 eps`` of the
    data's dtype, relative) is a tie the earlier run keeps: runs that reach
    the same optimum with the components permuted then give the same fit from
    any data source (arrays, memmaps, dask), not one decided by the last bit."""
    if best == -np.inf:
        return True
    return bound > best + 10.0 * eps * max(1.0, abs(best))


def fit(
    data: DataSource,
    n_components: int,
    covariance_type: str,
    *,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init_params: str = "kmeans",
    user_init: Callable[[GMMParams], GMMParams] | None = None,
    warm_params: GMMParams | None = None,
    warm_lower_bound: float = -np.inf,
    random_state: np.random.RandomState,
    rtol: bool = False,
    max_attempts: int = 3,
    verbose: int = 0,
    verbose_interval: int = 10,
    on_iter: Callable[[int, int, float], None] | None = None,
) -> tuple[RunResult, int]:
    """Best of ``n_init`` EM runs (by final lower bound).

    ``user_init`` overrides parts of each initialisation (scikit-learn's
    ``weights_init`` / ``means_init`` / ``precisions_init``); ``warm_params``
    starts a single run from previous parameters. A run that collapses beyond
    recovery is retried from a new initialisation up to ``max_attempts`` times.
    ``on_iter(run, iteration, lower_bound)`` is called after every iteration
    (progress bars). Returns the best run and the total number of re-seeds over
    all runs.
    """
    best: RunResult | None = None
    total_recoveries = 0
    n_runs = 1 if warm_params is not None else n_init
    failures = 0
    for run in range(n_runs):
        callback = VerboseCallback(run, verbose, verbose_interval, on_iter)
        result = None
        for attempt in range(max_attempts):
            if warm_params is not None and attempt == 0:
                params = warm_params.copy()
                prev = warm_lower_bound
            else:
                params = initialize(
                    data.init_data(random_state, n_components),
                    n_components, covariance_type, init_params, reg_covar, random_state,
                )
                if user_init is not None:
                    params = user_init(params)
                prev = -np.inf
            try:
                result = em_run(
                    data,
                    params,
                    tol=tol,
                    max_iter=max_iter,
                    reg_covar=reg_covar,
                    rng=random_state,
                    rtol=rtol,
                    prev_lower_bound=prev,
                    callback=callback if (verbose or on_iter is not None) else None,
                )
                break
            except _Collapsed:
                failures += 1
                continue
        if result is None:
            continue
        total_recoveries += result.n_recoveries
        callback.end(result, max_iter)
        if best is None or improves(result.lower_bound, best.lower_bound, data.eps):
            best = result
    if best is None:
        from ._validation import ill_defined_covariance_message  # scikit-learn's sentence(s) first

        raise FitFailedError(
            f"{ill_defined_covariance_message(data.dtype)} In fastgmm: every one of the "
            f"{failures} attempts collapsed (components with vanishing weight or a covariance "
            f"that is not positive definite, even after re-seeding). Increase reg_covar "
            f"(now {reg_covar:g}), use fewer components (now {n_components}), or check the "
            f"data for duplicated or constant features."
        )
    return best, total_recoveries
