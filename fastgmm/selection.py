"""Model selection: fit a grid of ``n_components`` x ``covariance_type`` and
rank the models by BIC, AIC or ICL.

The data are validated once (2-D, finite, C-contiguous float32/float64) and
every model of the grid is fitted on that same array, so the finiteness check
and any conversion copy happen once, and every fit reuses the compiled kernels.
The criteria of a fitted model come from one more pass over the data that
returns the log-likelihood and the entropy of the responsibilities together;
no ``n_samples x n_components`` array is built, for any model.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning

from ._parallel import num_threads
from ._validation import check_sample_weight, check_X
from .em import FitFailedError
from .mixture import GaussianMixture, RecoveryWarning, fitted_factors, fitted_params
from .missing import has_missing, score_missing
from .params import COVARIANCE_TYPES, n_parameters
from .stats import score

__all__ = [
    "CRITERIA", "STARTS", "SelectionResult", "criteria", "fit_validated", "information_criteria", "is_spurious",
    "progress_bar", "select_model",
]

#: criteria :func:`select_model` ranks by (all are "lower is better")
CRITERIA = ("bic", "aic", "icl")

_TABLE_DTYPE = np.dtype(
    [
        ("covariance_type", "U9"),
        ("n_components", np.int64),
        ("n_parameters", np.int64),
        ("log_likelihood", np.float64),
        ("entropy", np.float64),
        ("bic", np.float64),
        ("aic", np.float64),
        ("icl", np.float64),
        ("converged", np.bool_),
        ("n_iter", np.int64),
        ("n_recoveries", np.int64),
        ("start", "U16"),
        ("spurious", np.bool_),
    ]
)

#: what :func:`select_model` starts each model from (``starts``)
STARTS = ("best", "estimator")


def is_spurious(gm: GaussianMixture, total_weight: float, data_variance: float = 0.0) -> bool:
    """A maximum that owes its likelihood to a collapsed component: the smallest
    component holds fewer effective points (weight x total weight) than a
    covariance of its type needs (d + 1 for 'full', 2 otherwise), or some
    component's covariance is held up by the regularisation alone (an
    eigenvalue at most ``10 reg_covar + 1e-12 data_variance``: its points lie
    in a hyperplane, as rounded data let them)."""
    d = gm.means_.shape[1]
    need = d + 1 if gm.covariance_type == "full" else 2
    if float(np.min(gm.weights_)) * total_weight < need:
        return True
    cov = np.asarray(gm.covariances_, np.float64)
    if gm.covariance_type in ("full", "tied"):
        smallest = np.linalg.eigvalsh(cov).min()
    else:
        smallest = cov.min()
    return bool(smallest <= 10.0 * float(gm.reg_covar) + 1e-12 * float(data_variance))


# --------------------------------------------------------------------- helpers
def progress_bar(iterable, *, total: int | None = None, desc: str = "", enabled: bool = False):
    """Wrap ``iterable`` in a tqdm bar on stderr when ``enabled`` and tqdm is
    installed; otherwise return it unchanged."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)


def fit_validated(
    gm: GaussianMixture, X: np.ndarray, sw: np.ndarray | None, callback=None
) -> GaussianMixture:
    """Fit ``gm`` on ``X`` that :func:`fastgmm._validation.check_X` already
    accepted: the estimator's own validation then neither copies nor scans X
    for NaN/inf again. ``callback`` is ``GaussianMixture.fit``'s."""
    with sklearn.config_context(assume_finite=True):
        return gm.fit(X, sample_weight=sw, callback=callback)


def criteria(
    gm: GaussianMixture, X: np.ndarray, sw: np.ndarray | None, labels_out: np.ndarray | None = None
) -> dict:
    """Criteria of fitted ``gm`` on validated ``X`` from one pass (which also
    writes the most probable component of each row into ``labels_out``, an
    int64 array of ``len(X)``, when given).

    The pass returns the (weighted) log-likelihood ``ll = sum_n w_n log p(x_n)``
    and the entropy ``-sum_n w_n sum_k r_nk log r_nk``, taken per point as
    ``log p(x_n) - sum_k r_nk log(w_k N(x_n | k))`` (since ``log r_nk =
    log(w_k N(x_n | k)) - log p(x_n)`` and the responsibilities of a point sum
    to 1; terms with ``r_nk = 0`` skipped): exactly 0 for one component, where
    the difference of the two sums over all points would leave round-off.
    """
    with num_threads(None if gm.n_threads is None else int(gm.n_threads)):
        if getattr(gm, "missing", "raise") == "marginalize" and has_missing(X):
            ll, entropy = score_missing(X, fitted_params(gm), sw=sw, labels=labels_out, entropy=True)
        else:
            ll, entropy = score(X, fitted_factors(gm), sw=sw, labels=labels_out, entropy=True)
    n = float(X.shape[0] if sw is None else sw.sum())
    p = n_parameters(gm.n_components, X.shape[1], gm.covariance_type)
    entropy = max(entropy, 0.0)  # >= 0 exactly; clip round-off
    bic = -2.0 * ll + p * np.log(n)
    return {
        "n_parameters": p,
        "log_likelihood": ll,
        "entropy": entropy,
        "bic": bic,
        "aic": -2.0 * ll + 2.0 * p,
        "icl": bic + 2.0 * entropy,
    }


def information_criteria(model: GaussianMixture, X, sample_weight=None) -> dict:
    """BIC, AIC and ICL of a fitted model on ``X`` (one pass, no N x C array).

    Parameters
    ----------
    model : GaussianMixture
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows: the log-likelihood and the entropy are weighted
        sums and the BIC's sample size is ``sample_weight.sum()``, so integer
        weights give the criteria of the data with repeated rows.

    Returns
    -------
    criteria : dict
        ``n_parameters``, ``log_likelihood`` (total, not per point),
        ``entropy`` (``-sum r log r`` of the responsibilities, ``0 log 0 = 0``),
        ``bic``, ``aic`` and ``icl = bic + 2 * entropy``; lower is better.
        Without weights, ``bic`` and ``aic`` equal ``model.bic(X)`` and
        ``model.aic(X)``.
    """
    X = model._validate_predict_data(X)
    sw = check_sample_weight(sample_weight, X.shape[0])
    return criteria(model, X, sw)


def _as_components(n_components) -> tuple[int, ...]:
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        n_components = (n_components,)
    try:
        values = list(n_components)
    except TypeError:
        raise ValueError(f"n_components must be an int or an iterable of ints, got {n_components!r}") from None
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"n_components must hold ints >= 1, got {v!r}")
        out.append(int(v))
    if not out:
        raise ValueError("n_components is empty: give at least one number of components")
    return tuple(sorted(set(out)))


def _as_covariance_types(covariance_types) -> tuple[str, ...]:
    if isinstance(covariance_types, str):
        covariance_types = COVARIANCE_TYPES if covariance_types == "all" else (covariance_types,)
    out = []
    for ct in covariance_types:
        if ct not in COVARIANCE_TYPES:
            raise ValueError(f"covariance type must be one of {COVARIANCE_TYPES} (or 'all'), got {ct!r}")
        if ct not in out:
            out.append(ct)
    if not out:
        raise ValueError("covariance_types is empty: give at least one covariance type")
    return tuple(out)


# ---------------------------------------------------------------------- result
@dataclass
class SelectionResult:
    """What :func:`select_model` returns.

    Attributes
    ----------
    criterion : {'bic', 'aic', 'icl'}
        The criterion the best model minimises.
    n_components : tuple of int
        The numbers of components tried, ascending.
    covariance_types : tuple of str
        The covariance types tried, in the order given.
    table : numpy structured array
        One row per model, covariance type major, ``n_components`` minor, with
        fields ``covariance_type``, ``n_components``, ``n_parameters``,
        ``log_likelihood`` (total), ``entropy``, ``bic``, ``aic``, ``icl``,
        ``converged``, ``n_iter``, ``n_recoveries``, ``start`` (which start
        won) and ``spurious`` (:func:`is_spurious`: reported, not ranked). A
        fit that failed has NaN criteria.
    models : dict
        ``{(covariance_type, n_components): GaussianMixture}``, the fitted
        models (``None`` for a fit that failed).
    best_covariance_type : str
    best_n_components : int
    best_model : GaussianMixture
    best_score : float
        The best model's criterion value.
    """

    criterion: str
    n_components: tuple
    covariance_types: tuple
    table: np.ndarray
    models: dict = field(repr=False)
    best_covariance_type: str = field(init=False)
    best_n_components: int = field(init=False)
    best_model: GaussianMixture = field(init=False, repr=False)
    best_score: float = field(init=False)

    def __post_init__(self):
        values = self.table[self.criterion]
        if np.all(np.isnan(values)):
            raise FitFailedError("every model of the grid failed to fit")
        ranked = np.where(self.table["spurious"], np.nan, values)
        if np.all(np.isnan(ranked)):  # nothing but spurious fits: rank them
            ranked = values
        i = int(np.nanargmin(ranked))  # ties: the first in grid order
        row = self.table[i]
        self.best_covariance_type = str(row["covariance_type"])
        self.best_n_components = int(row["n_components"])
        self.best_model = self.models[(self.best_covariance_type, self.best_n_components)]
        self.best_score = float(values[i])

    def scores(self, criterion: str | None = None) -> np.ndarray:
        """Criterion values as a grid.

        Parameters
        ----------
        criterion : {'bic', 'aic', 'icl'}, default=None
            ``None`` means :attr:`criterion`.

        Returns
        -------
        scores : ndarray of shape (len(covariance_types), len(n_components))
        """
        criterion = self.criterion if criterion is None else criterion
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
        return self.table[criterion].reshape(len(self.covariance_types), len(self.n_components))

    def to_frame(self):
        """The table as a :class:`pandas.DataFrame` (needs pandas).

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        return pd.DataFrame({name: self.table[name] for name in self.table.dtype.names})

    def format_table(self) -> str:
        """The table as aligned text, the best model marked with ``*``.

        Returns
        -------
        str
        """
        head = f"{'covariance':<10} {'k':>3} {'params':>6} {'log-lik':>13} {'BIC':>13} {'AIC':>13} {'ICL':>13}  conv"
        lines = [head]
        for row in self.table:
            best = (row["covariance_type"], row["n_components"]) == (
                self.best_covariance_type,
                self.best_n_components,
            )
            line = (
                f"{row['covariance_type']:<10} {row['n_components']:>3} {row['n_parameters']:>6} "
                f"{row['log_likelihood']:>13.4f} {row['bic']:>13.4f} {row['aic']:>13.4f} "
                f"{row['icl']:>13.4f}  {('yes' if row['converged'] else 'no'):<3}"
            )
            mark = f"  * best {self.criterion.upper()}" if best else ""
            lines.append(line + mark + ("  (spurious: not ranked)" if row["spurious"] else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


# ------------------------------------------------------------------- selection
def select_model(
    X,
    n_components: int | Iterable[int] = range(1, 11),
    covariance_types: str | Iterable[str] = ("full", "tied", "diag", "spherical"),
    criterion: str = "bic",
    n_init: int = 1,
    random_state=None,
    sample_weight=None,
    *,
    starts: str = "best",
    n_restarts: int = 2,
    verbose: int = 0,
    progress: bool | None = None,
    **estimator_params,
) -> SelectionResult:
    """Fit every ``(covariance_type, n_components)`` model and pick the best.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Validated once (2-D, finite, float32/float64, C-contiguous); every
        model is fitted on that array.
    n_components : int or iterable of int, default=range(1, 11)
        Numbers of components to try (sorted, duplicates dropped).
    covariance_types : str or iterable of str, default=all four
        Any of 'full', 'tied', 'diag', 'spherical'; ``'all'`` means all four.
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        What the best model minimises. ICL is BIC plus twice the entropy
        ``-sum_n sum_k r_nk log r_nk`` of the responsibilities (as in mclust,
        lower is better): it penalises overlapping components. All three are
        always computed and stored in the table.
    n_init : int, default=1
        Initialisations of the estimator's own start per model (best kept).
    random_state : int, RandomState instance or None, default=None
        Given to every fit as is: an int gives each the same seed; a
        RandomState instance is shared and consumed in grid order.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows, used by every fit and every criterion (the BIC's
        sample size is then ``sample_weight.sum()``).
    starts : {'best', 'estimator'}, default='best'
        ``'best'``: each model keeps the highest likelihood, among the fits
        that are not spurious (:func:`is_spurious`), of four starts: the
        hierarchical one (``init_params='hc'``, from one tree of the data by
        mclust's 'VVV' agglomeration, cut at each k), ``n_restarts``
        random-from-data and ``n_restarts`` k-means++ initialisations, and the
        estimator's k-means (``n_init`` times): about ``2 + 2 n_restarts`` fits
        a model, short ones since fastgmm's iterations are cheap. Unless
        ``tol`` is given, the winner is then continued (warm start, at most
        ``max_iter`` more iterations) towards ``tol=1e-6``
        (:data:`POLISH_TOL`): the estimator's 1e-3 per point can stop several
        nats short of the maximum on small data. Its ``converged_`` and the
        table's ``converged`` say whether it converged at the estimator's
        ``tol``; ``n_iter_`` counts both runs. ``'estimator'``: one estimator per
        model with its own ``init_params`` (then a model equals
        ``GaussianMixture(k, covariance_type=ct, n_init=n_init, random_state=seed).fit(X)``).
    n_restarts : int, default=2
        Random-from-data and k-means++ restarts per model with ``starts='best'``.
    verbose : int, default=0
        ``> 0`` shows a progress bar (when tqdm is installed).
    progress : bool or None, default=None
        Show a progress bar on stderr; ``None`` means ``verbose > 0``.
    **estimator_params
        Other :class:`GaussianMixture` parameters for every model
        (``tol``, ``reg_covar``, ``max_iter``, ``init_params``, ``n_threads``...).

    Returns
    -------
    result : SelectionResult
        The table of criteria, the fitted models and the best model.

    Warns
    -----
    ConvergenceWarning, RecoveryWarning
        One summary warning each (instead of one per model) when some fits
        did not converge or re-seeded collapsed components.

    Raises
    ------
    ValueError
        Bad arguments or data, or more components than samples.
    FitFailedError
        When every model of the grid fails.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgmm import select_model
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(100, 2), rng.randn(100, 2) + 8])
    >>> result = select_model(X, n_components=range(1, 5), random_state=0)
    >>> result.best_n_components
    2
    """
    ks = _as_components(n_components)
    cts = _as_covariance_types(covariance_types)
    criterion = str(criterion).lower()
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    for name in ("n_components", "covariance_type", "n_init", "random_state"):
        if name in estimator_params:
            raise TypeError(f"select_model() sets {name!r} itself; it cannot be an estimator parameter")
    if starts not in STARTS:
        raise ValueError(f"starts must be one of {STARTS}, got {starts!r}")
    if starts == "best":
        for name in ("init_params", "weights_init", "means_init", "precisions_init", "warm_start"):
            if name in estimator_params:
                raise TypeError(f"select_model(starts='best') chooses {name!r} itself; pass starts='estimator' to set it")
    if isinstance(n_restarts, bool) or not isinstance(n_restarts, (int, np.integer)) or n_restarts < 1:
        raise ValueError(f"n_restarts must be an int >= 1, got {n_restarts!r}")
    X = check_X(X, min_samples=2)
    sw = check_sample_weight(sample_weight, X.shape[0])
    if ks[-1] > X.shape[0]:
        raise ValueError(f"n_components up to {ks[-1]} needs at least as many samples, got {X.shape[0]}")
    show = verbose > 0 if progress is None else bool(progress)
    total = float(X.shape[0] if sw is None else sw.sum())
    variance = float(np.var(X, axis=0, dtype=np.float64).mean())
    fit_one = (
        _estimator_fit if starts == "estimator" else _best_fit(X, sw, random_state, int(n_restarts), total, variance)
    )

    rows = []
    models: dict = {}
    not_converged, recovered, failed = [], [], []
    grid = [(ct, k) for ct in cts for k in ks]
    bar = progress_bar(grid, total=len(grid), desc="select_model", enabled=show)
    for ct, k in bar:
        if show and hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"{ct}, k={k}")
        try:
            with warnings.catch_warnings():
                # one summary warning for the grid instead of one per model
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RecoveryWarning)
                gm, start = fit_one(X, sw, ct, k, n_init, random_state, estimator_params)
        except FitFailedError:
            failed.append(f"{ct}/{k}")
            models[(ct, k)] = None
            nan = np.nan
            rows.append((ct, k, 0, nan, nan, nan, nan, nan, False, 0, 0, "", False))
            continue
        c = criteria(gm, X, sw)
        models[(ct, k)] = gm
        if not gm.converged_ and gm.max_iter > 0:
            not_converged.append(f"{ct}/{k}")
        if gm.n_recoveries_:
            recovered.append(f"{ct}/{k}")
        rows.append(
            (ct, k, c["n_parameters"], c["log_likelihood"], c["entropy"], c["bic"], c["aic"], c["icl"],
             gm.converged_, gm.n_iter_, gm.n_recoveries_, start, is_spurious(gm, total, variance))
        )
    n = len(grid)
    if failed and len(failed) < n:
        warnings.warn(f"{len(failed)} of {n} fits failed (NaN in the table): {', '.join(failed)}", RecoveryWarning)
    if recovered:
        warnings.warn(
            f"{len(recovered)} of {n} fits re-seeded collapsed components: {', '.join(recovered)}", RecoveryWarning
        )
    if not_converged:
        warnings.warn(
            f"{len(not_converged)} of {n} fits did not converge (increase max_iter or tol): "
            + ", ".join(not_converged),
            ConvergenceWarning,
        )
    table = np.array(rows, dtype=_TABLE_DTYPE)
    return SelectionResult(criterion, ks, cts, table, models)


def _estimator_fit(X, sw, ct, k, n_init, random_state, params):
    """``starts='estimator'``: the estimator with its own start."""
    gm = GaussianMixture(k, covariance_type=ct, n_init=n_init, random_state=random_state, **params)
    return fit_validated(gm, X, sw), params.get("init_params", "kmeans")


#: the tolerance the winning start of ``starts='best'`` is continued to when the
#: caller sets no ``tol``: the estimator's 1e-3 per point stopped up to 10 nats
#: below mclust's maxima (breast cancer, 569 rows)
POLISH_TOL = 1e-6


def _best_fit(X, sw, random_state, n_restarts: int, total: float, variance: float):
    """``starts='best'``: a fitter that keeps the best non-spurious of four starts
    per model, the hierarchical one cut from one tree built here (mclust's 'VVV'
    agglomeration), the winner continued to :data:`POLISH_TOL` unless the
    caller set ``tol``."""
    from sklearn.utils import check_random_state

    from .em import hc_labels, params_from_assignments
    from .hc import hc_tree
    from .params import factorize, precisions_from_cholesky
    from .sources import ArrayData

    data = ArrayData(X, sw)
    tree = hc_tree(X, sw, check_random_state(random_state))

    def hc_start(ct, k, params):
        p = params_from_assignments(data, k, ct, params.get("reg_covar", 1e-6), hc_labels(data, k, None, tree))
        f = factorize(p)
        if f.bad.size:
            return None
        prec = precisions_from_cholesky(f.prec_chol, ct)
        return dict(weights_init=p.weights, means_init=p.means, precisions_init=prec)

    def fit(X, sw, ct, k, n_init, random_state, params):
        tried = []
        init = hc_start(ct, k, params)
        if init is not None:
            tried.append(("hc", init))
        tried += [
            ("random_from_data", dict(init_params="random_from_data", n_init=n_restarts)),
            ("k-means++", dict(init_params="k-means++", n_init=n_restarts)),
            ("kmeans", dict(init_params="kmeans", n_init=n_init)),
        ]
        fits = []
        for name, kw in tried:
            gm = GaussianMixture(k, covariance_type=ct, random_state=random_state, **params, **kw)
            try:
                fits.append((name, fit_validated(gm, X, sw)))
            except FitFailedError:
                continue
            except ValueError:
                if name != "hc":
                    raise
                # its precisions_init too near singular to pass the estimator's checks
                continue
        if not fits:
            raise FitFailedError(f"every start of the {ct} model with {k} components failed")
        sound = [f for f in fits if not is_spurious(f[1], total, variance)] or fits
        name, gm = max(sound, key=lambda f: f[1].lower_bound_)  # ties: the first start
        if "tol" not in params:  # the starts compete at the estimator's tol; the winner climbs on
            tol, converged, n_iter = gm.tol, gm.converged_, gm.n_iter_
            gm.set_params(tol=POLISH_TOL, warm_start=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # it converged at its own tol
                fit_validated(gm, X, sw)
            gm.set_params(tol=tol, warm_start=False)
            gm.converged_ = converged or gm.converged_
            gm.n_iter_ += n_iter
        return gm, name

    return fit
