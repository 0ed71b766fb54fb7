"""``fastgmm.GaussianMixture``: a drop-in for scikit-learn's estimator."""

from __future__ import annotations

import math
from dataclasses import replace
import numbers
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._parallel import num_threads
from ._validation import (
    BOOLEAN,
    RANDOM_STATE,
    VERBOSE,
    ArrayLike,
    Interval,
    NoneConstraint,
    StrOptions,
    as_kernel_array,
    check_means_init,
    check_precisions_init,
    check_X,
    check_sample_weight,
    check_weights_init,
    check_fit_shape,
    ill_defined_covariance_message,
    naming,
    validate_params,
)
from .em import FitFailedError, fit as em_fit
from .missing import MissingData, has_missing, impute as impute_missing, score_missing
from .sources import ArrayData, is_source
from .params import (
    GMMParams,
    covariances_from_precisions,
    factorize,
    factors_from_precision_cholesky,
    n_parameters,
    precisions_from_cholesky,
)
from . import stats

__all__ = ["BaseMixture", "GaussianMixture", "fitted_params", "RecoveryWarning", "check_parameters", "fitted_factors", "set_parameters"]


def is_dask(X) -> bool:
    """True for dask collections, told from the type's module (dask is not imported)."""
    return type(X).__module__.startswith("dask")


def check_parameters(gm: "GaussianMixture", n_features: int):
    """Every parameter of ``gm`` for data of ``n_features`` columns (the scalar
    ones, then the init arrays), as ``fit`` checks them; returns the init arrays."""
    gm._check_scalar_parameters()
    return gm._check_data_parameters(n_features)


def set_parameters(gm: "GaussianMixture", params: GMMParams, dtype) -> None:
    """Set the fitted parameter attributes of ``gm`` (``weights_`` ...
    ``precisions_``) in ``dtype`` from ``params`` (model files use it)."""
    gm._set_fitted(params, factorize(params), dtype)


def fitted_params(gm: "BaseMixture") -> GMMParams:
    """The fitted weights, means and covariances of ``gm`` as float64
    :class:`GMMParams` (the marginal mixtures of rows with NaN start from them)."""
    check_is_fitted(gm)
    return GMMParams(
        np.asarray(gm.weights_, np.float64), np.asarray(gm.means_, np.float64),
        np.asarray(gm.covariances_, np.float64), gm.covariance_type,
    )


def fitted_factors(gm: "GaussianMixture"):
    """The kernels' precision factors of a fitted estimator (for passes of
    other modules: model selection's criteria)."""
    check_is_fitted(gm)
    return gm._factors()


class RecoveryWarning(UserWarning):
    """Components collapsed during the fit and were re-seeded."""


class BaseMixture(DensityMixin, BaseEstimator):
    """What fastgmm's mixtures share: validation of the data, the one fit path
    of every data source, prediction, scoring and sampling through the fused
    passes. A subclass defines ``_CONSTRAINTS``, ``_check_data_parameters``
    (the parameters that need ``n_features``), ``_fit_source`` (the fit on a
    checked source) and ``_factors`` (the kernels' factors of the fitted model)."""

    #: the constructor parameters common to fastgmm's mixtures: scikit-learn's
    #: ``BaseMixture._parameter_constraints`` with fastgmm's 'hc' start, plus
    #: ``n_threads`` (not named ``_parameter_constraints``: scikit-learn reads that name)
    _CONSTRAINTS: dict = {
        "n_components": (Interval(Integral, 1, None, closed="left"),),
        "tol": (Interval(Real, 0.0, None, closed="left"),),
        "reg_covar": (Interval(Real, 0.0, None, closed="left"),),
        "max_iter": (Interval(Integral, 0, None, closed="left"),),
        "n_init": (Interval(Integral, 1, None, closed="left"),),
        "init_params": (StrOptions(("kmeans", "random", "random_from_data", "k-means++", "hc")),),
        "random_state": RANDOM_STATE,
        "warm_start": BOOLEAN,
        "verbose": VERBOSE,
        "verbose_interval": (Interval(Integral, 1, None, closed="left"),),
        "n_threads": (Interval(Integral, 1, None, closed="left"), NoneConstraint()),
    }

    def _check_scalar_parameters(self) -> None:
        """Types and ranges of the constructor parameters, before any look at X:
        :class:`fastgmm._validation.InvalidParameterError` (a ValueError and a
        TypeError) with scikit-learn's message for the first bad parameter in
        alphabetical order, as scikit-learn checks them."""
        # the constructor's parameters in get_params' (alphabetical) order, read directly
        # (get_params introspects the signature: a quarter of a small partial_fit)
        params = {k: getattr(self, k) for k in sorted(self._CONSTRAINTS)}
        validate_params(self._CONSTRAINTS, params, type(self).__name__)

    def _n_threads(self):
        """``n_threads`` as a plain int (NumPy integers accepted) or None."""
        return None if self.n_threads is None else int(self.n_threads)

    def _source(self, X, sample_weight):
        """The data as a :class:`fastgmm.sources.DataSource`: an array is
        validated as scikit-learn validates it (``n_features_in_`` and
        ``feature_names_in_`` recorded), a dask array or a source given as such
        is wrapped or taken as it is (their values are checked by ``check()``)."""
        if is_source(X):
            if sample_weight is not None:
                raise ValueError("sample_weight must be None when X is a data source: the source holds its weights")
            self._record_features(X.n_features)
            return X
        if is_dask(X):
            from .distributed import dask_source

            src = dask_source(X, sample_weight, estimator_name=type(self).__name__)
            self._record_features(src.n_features)
            return src
        with naming("X"):
            X = validate_data(
                self, X, dtype=[np.float64, np.float32], ensure_min_samples=2, ensure_all_finite=self._finite()
            )
        X = as_kernel_array(X)
        sw = check_sample_weight(sample_weight, X.shape[0])
        if self._finite() is not True and has_missing(X):
            return MissingData(X, sw)
        return ArrayData(X, sw)

    def _finite(self):
        """``validate_data``'s ``ensure_all_finite``: NaN allowed with ``missing='marginalize'``."""
        return "allow-nan" if getattr(self, "missing", "raise") == "marginalize" else True


    def _record_features(self, n_features: int) -> None:
        """What ``validate_data(reset=True)`` records for data without column names."""
        self.n_features_in_ = int(n_features)
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        if is_dask(X):
            from .distributed import check_predict_array

            return check_predict_array(X, self.n_features_in_, type(self).__name__)
        with naming("X"):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=self._finite())
        return as_kernel_array(X)

    def fit(self, X, y=None, sample_weight=None, *, callback=None):
        """Estimate the parameters (best of ``n_init`` runs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), dask array, or DataSource
            The data: anything scikit-learn accepts, a ``dask.array.Array``
            (fitted block by block, see :mod:`fastgmm.distributed`), or a
            :class:`fastgmm.sources.DataSource` such as
            :func:`fastgmm.outofcore.memmap_source` (a file larger than memory).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; every sufficient statistic (and the k-means
            initialiser) is weighted. Integer weights give the model that
            repeating rows would. (A data source holds its own weights.)
        callback : callable, default=None
            ``callback(run, iteration, lower_bound)`` after every iteration
            (``run`` counts the initialisations from 0): progress bars.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._fit(X, sample_weight, callback)
        return self

    def fit_predict(self, X, y=None, sample_weight=None, *, callback=None):
        """Fit, then return the most probable component of each row.

        Equal to ``fit(X).predict(X)`` (lazy for a dask array).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        source = self._fit(X, sample_weight, callback)
        if isinstance(source, ArrayData):
            return self._labels(source.X)
        return self.predict(X)

    def _fit(self, X, sample_weight, callback):
        """The one fit path of every data source: parameters, then the data's
        shape, the parameters that need its width, the data's values, the fit."""
        self._check_scalar_parameters()
        source = self._source(X, sample_weight)
        check_fit_shape(source.n, source.n_features, self.n_components, type(self).__name__)
        checked = self._check_data_parameters(source.n_features)
        source.check()
        with self._explain_failure(source):
            self._fit_source(source, checked, callback)
        return source

    @contextmanager
    def _explain_failure(self, source):
        """Add the likely cause to a :class:`FitFailedError` of in-memory data:
        fewer distinct rows (with positive weight) than components."""
        try:
            yield
        except FitFailedError as exc:
            if not isinstance(source, ArrayData):
                raise
            X, sw = source.X, source.sw
            rows = X if sw is None else X[sw > 0]
            n_distinct = np.unique(rows, axis=0).shape[0]
            if n_distinct >= self.n_components:
                raise
            head = ill_defined_covariance_message(X.dtype)  # scikit-learn's sentence(s) first
            detail = str(exc).removeprefix(head).strip()
            raise FitFailedError(
                f"{head} X has only {n_distinct} distinct row(s) (with positive weight), fewer than "
                f"n_components={self.n_components}: use at most {n_distinct} components."
                + (f" ({detail})" if detail else "")
            ) from None

    def _score_into(self, X, **out) -> None:
        """One scoring pass of validated in-memory X writing ``out`` (``labels``,
        ``resp`` or ``loglik``, as :func:`fastgmm.stats.score` takes them); rows
        with NaN through their marginal mixtures when ``missing='marginalize'``."""
        with num_threads(self._n_threads()):
            if self._finite() is not True and has_missing(X):
                score_missing(X, fitted_params(self), **out)
            else:
                stats.score(X, self._factors(), **out)

    def _labels(self, X):
        labels = np.empty(X.shape[0], np.int64)
        self._score_into(X, labels=labels)
        return labels

    def predict(self, X):
        """Most probable component of each row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._validate_predict_data(X)
        if is_dask(X):
            from .distributed import predict

            return predict(X, self._factors())
        return self._labels(X)

    def predict_proba(self, X):
        """Posterior probability of each component for each row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components), X's dtype
        """
        X = self._validate_predict_data(X)
        if is_dask(X):
            from .distributed import predict_proba

            return predict_proba(X, self._factors())
        resp = np.empty((X.shape[0], self.weights_.shape[0]), X.dtype)
        self._score_into(X, resp=resp)
        return resp

    def score_samples(self, X):
        """Log-likelihood of each row under the model.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,), X's dtype
        """
        X = self._validate_predict_data(X)
        if is_dask(X):
            from .distributed import score_samples

            return score_samples(X, self._factors())
        return self._score_samples(X)

    def _score_samples(self, X):
        ll = np.empty(X.shape[0])
        self._score_into(X, loglik=ll)
        return ll.astype(X.dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood of the rows (weighted by ``sample_weight``).

        Without ``sample_weight`` this is ``score_samples(X).mean()``, computed
        as scikit-learn computes it: NumPy's mean of the per-row values in X's
        dtype (float32 X: a float32 mean).

        Returns
        -------
        log_likelihood : float
        """
        X = self._validate_predict_data(X)
        if is_dask(X):
            from .distributed import score

            return score(X, self._factors(), sample_weight)
        sw = check_sample_weight(sample_weight, X.shape[0])
        if sw is None:
            return float(np.mean(self._score_samples(X)))
        if self._finite() is not True and has_missing(X):
            return float(np.dot(self._score_samples(X).astype(np.float64), sw) / sw.sum())
        with num_threads(self._n_threads()):
            ll, _ = stats.score(X, self._factors(), sw=sw)
        return float(ll / sw.sum())

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float64
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at least one sample."
            )
        d = self.means_.shape[1]
        rng = check_random_state(self.random_state)
        weights = np.asarray(self.weights_, np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        means = np.asarray(self.means_, np.float64)
        cov = np.asarray(self.covariances_, np.float64)
        ct = self.covariance_type
        if ct == "full":
            X = np.vstack([rng.multivariate_normal(m, c, int(s)) for m, c, s in zip(means, cov, counts)])
        elif ct == "tied":
            X = np.vstack([rng.multivariate_normal(m, cov, int(s)) for m, s in zip(means, counts)])
        else:
            X = np.vstack(
                [m + rng.standard_normal(size=(s, d)) * np.sqrt(c) for m, c, s in zip(means, cov, counts)]
            )
        y = np.concatenate([np.full(int(s), k, dtype=np.int64) for k, s in enumerate(counts)])
        return X, y


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by EM on fused Numba kernels.

    Same parameters, attributes and methods as
    :class:`sklearn.mixture.GaussianMixture`, plus weighted fitting
    (``fit(X, sample_weight=...)``), collapse recovery instead of errors, and a
    thread-count control. No ``n_samples x n_components`` array is built
    during ``fit``.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Shape of the covariance of each component.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariances.
    max_iter : int, default=100
        Number of EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best result is kept (a later run
        must beat the best lower bound by more than rounding, 10 eps of the
        data's dtype relative, so a tie keeps the earlier run).
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, default='kmeans'
        Initialisation of the responsibilities. 'kmeans' runs fastgmm's own Numba
        k-means (k-means++ seeding and Lloyd iterations); 'hc' (not in
        scikit-learn) cuts the agglomeration of the SVD-whitened data by the
        unconstrained Gaussian ('VVV') criterion: mclust's default start
        (:mod:`fastgmm.hc`; at most 2,000 rows, a seeded sample above).
    weights_init : array-like of shape (n_components,), default=None
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        User-provided initial parameters (shapes as in scikit-learn).
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (one initialisation).
    verbose : int, default=0
    verbose_interval : int, default=10
    learning_decay : float in (0.5, 1], default=0.7
        :meth:`partial_fit`'s step exponent: the ``t``-th update moves the
        running statistics by ``(t + learning_offset) ** -learning_decay``.
    learning_offset : float >= 0, default=1.0
        :meth:`partial_fit`'s step offset (larger: smaller early steps).
    missing : {'raise', 'marginalize'}, default='raise'
        'raise': NaN in X is a ``ValueError``, as in scikit-learn.
        'marginalize': ``fit`` maximises the observed-data likelihood by exact
        EM (:mod:`fastgmm.missing`; in-memory arrays), and ``predict``,
        ``predict_proba``, ``score_samples`` and ``score`` marginalise the NaNs
        of their input. A row with no observed value is a ``ValueError``.
        Initialisations run on the rows with NaN replaced by column means.
    n_threads : int or None, default=None
        Threads for the kernels during this estimator's calls; ``None`` uses
        all usable cores (or ``FASTGMM_NUM_THREADS``). Results do not depend on it.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Fitted parameters, in X's dtype (float32 input gives float32).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Weighted mean log-likelihood of the best run's last E-step.
    lower_bounds_ : list of float
        The best run's lower bound per iteration.
    n_recoveries_ : int
        Collapsed components re-seeded during the fit (all runs).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string feature names.
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        learning_decay=0.7,
        learning_offset=1.0,
        missing="raise",
        n_threads=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.missing = missing
        self.n_threads = n_threads

    # ------------------------------------------------------------------ checks
    #: the common constraints plus scikit-learn's ``GaussianMixture`` ones (strings in the
    #: order of its source, see :class:`fastgmm._validation.StrOptions`) and the streaming
    #: and missing-value parameters
    _CONSTRAINTS = {
        **BaseMixture._CONSTRAINTS,
        "covariance_type": (StrOptions(("full", "tied", "diag", "spherical")),),
        "weights_init": (ArrayLike(), NoneConstraint()),
        "means_init": (ArrayLike(), NoneConstraint()),
        "precisions_init": (ArrayLike(), NoneConstraint()),
        "learning_decay": (Interval(Real, 0.5, 1.0, closed="right"),),
        "learning_offset": (Interval(Real, 0.0, None, closed="left"),),
        "missing": (StrOptions(("raise", "marginalize")),),
    }

    def _check_data_parameters(self, n_features: int):
        """``(weights, means, precisions)`` from ``weights_init`` / ``means_init``
        / ``precisions_init`` (float64, or None), checked as scikit-learn
        checks them once n_features is known (its messages and exception types)."""
        C, ct = self.n_components, self.covariance_type
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = check_weights_init(self.weights_init, C)
        if self.means_init is not None:
            means = check_means_init(self.means_init, C, n_features)
        if self.precisions_init is not None:
            precisions = check_precisions_init(self.precisions_init, ct, C, n_features)
        return weights, means, precisions

    # --------------------------------------------------------------------- fit
    def _user_init(self, init_arrays):
        """The function that puts the checked ``weights_init`` / ``means_init`` /
        ``precisions_init`` into an initialisation (those given)."""
        weights_init, means_init, precisions_init = init_arrays
        ct = self.covariance_type

        def user_init(p: GMMParams) -> GMMParams:
            if weights_init is not None:
                p.weights = weights_init.copy()
            if means_init is not None:
                p.means = means_init.copy()
            if precisions_init is not None:
                p.covariances = covariances_from_precisions(precisions_init, ct)
            return p

        return user_init

    def _fit_source(self, data, init_arrays, callback) -> None:
        """EM on a checked data source, then the fitted attributes and warnings."""
        weights_init, means_init, precisions_init = init_arrays
        ct = self.covariance_type
        user_init = self._user_init(init_arrays)
        rng = check_random_state(self.random_state)
        warm = self.warm_start and hasattr(self, "converged_")

        common = dict(
            tol=self.tol, reg_covar=self.reg_covar, max_iter=self.max_iter, random_state=rng,
            verbose=self.verbose, verbose_interval=self.verbose_interval, on_iter=callback,
        )
        all_init = weights_init is not None and means_init is not None and precisions_init is not None
        with num_threads(self._n_threads()):
            if all_init and not warm:
                # nothing of the initialisation survives: skip it
                init = user_init(GMMParams(None, None, None, ct))
                best, n_rec = em_fit(data, self.n_components, ct, n_init=1, warm_params=init, **common)
            else:
                warm_params = None
                if warm:
                    warm_params = GMMParams(
                        np.asarray(self.weights_, np.float64),
                        np.asarray(self.means_, np.float64),
                        np.asarray(self.covariances_, np.float64),
                        ct,
                    )
                best, n_rec = em_fit(
                    data, self.n_components, ct, n_init=self.n_init, init_params=self.init_params,
                    user_init=user_init, warm_params=warm_params,
                    warm_lower_bound=self.lower_bound_ if warm else -np.inf, **common,
                )
        self._set_fitted(best.params, best.factors, data.dtype)
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        self.n_recoveries_ = int(n_rec)
        if n_rec:
            warnings.warn(
                f"{n_rec} collapsed component(s) were re-seeded during the fit "
                "(vanishing weight or a covariance that is not positive definite). "
                "Consider fewer components or a larger reg_covar.",
                RecoveryWarning,
            )
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )

    def impute(self, X):
        """X with each NaN replaced by its conditional expectation under the
        fitted mixture, ``sum_k r_k(x_o) E[x_m | x_o, k]`` (``r_k(x_o)`` the
        responsibilities of the row's observed values). Rows without NaN come
        back unchanged; a row with no observed value is a ``ValueError``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), X's dtype
        """
        check_is_fitted(self)
        with naming("X"):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        with num_threads(self._n_threads()):
            return impute_missing(as_kernel_array(X), fitted_params(self))

    # -------------------------------------------------------------- streaming
    def partial_fit(self, X, y=None, sample_weight=None):
        """One stepwise (online) EM update from the batch ``X``.

        The running sufficient statistics ``s`` (per unit weight) move towards
        the batch's, ``s <- (1 - g) s + g s(batch)`` with
        ``g = (t + learning_offset) ** -learning_decay`` at the ``t``-th update
        (Cappe & Moulines 2009), then the M-step gives the parameters; nothing
        of past batches is kept beyond ``s`` (O(C d^2)). The first call on an
        unfitted estimator initialises from the batch with ``init_params``
        (and ``weights_init`` / ``means_init`` / ``precisions_init``); a call
        after ``fit`` continues from the fitted model (its parameters seed
        ``s``). A component that starves (the batch gives it less than a
        thousandth of a point where the model expects ten or more) or whose
        covariance fails is re-seeded from the batch (counted in
        ``n_recoveries_``, with a :class:`RecoveryWarning`). An empty batch
        changes nothing; a bad one (wrong feature count, NaN, bad weights)
        raises before anything changes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
            ``lower_bound_`` is the batch's mean log-likelihood under the
            parameters before the update; ``n_steps_`` counts the updates since
            the last initialisation or ``fit``.
        """
        self._check_scalar_parameters()
        fitted = hasattr(self, "converged_")
        shape = np.shape(X) if isinstance(X, np.ndarray) else None
        if fitted and shape is not None and len(shape) == 2 and shape[0] == 0:
            if shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            return self  # an empty batch: nothing to learn from
        X = self._validate_batch(X, fitted)
        data = ArrayData(X, check_sample_weight(sample_weight, X.shape[0]))
        with num_threads(self._n_threads()):
            if not fitted:
                params, rng = self._online_init(data)
            else:
                params, rng = self._params64, self._online_rng_state()
            self._online_step(data, params, rng)
        return self

    def _validate_batch(self, X, fitted: bool):
        """A batch checked as ``validate_data`` checks it; a finite float
        ndarray of the fitted width takes :func:`check_X`'s fast path (a
        batch's validation should not cost more than its pass)."""
        if (
            fitted and type(X) is np.ndarray and X.ndim == 2 and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        ):
            return check_X(X, dtype=(np.float64, np.float32))
        with naming("X"):
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not fitted)
        return as_kernel_array(X)

    def _online_init(self, data):
        """The first batch's initialisation (``init_params`` and the init arrays)."""
        C = self.n_components
        if data.n < C:
            raise ValueError(
                f"partial_fit initialises the model from its first batch, which has {data.n} rows: "
                f"fewer than n_components={C}; pass at least {C} rows the first time"
            )
        user_init = self._user_init(self._check_data_parameters(data.n_features))
        rng = check_random_state(self.random_state)
        best, _ = em_fit(
            data, C, self.covariance_type, tol=self.tol, reg_covar=self.reg_covar, max_iter=0, n_init=1,
            init_params=self.init_params, user_init=user_init, random_state=rng,
        )
        self.converged_, self.n_iter_, self.n_recoveries_ = False, 0, 0
        self.lower_bounds_ = []
        self._online_rng = rng
        return best.params, rng

    def _online_rng_state(self):
        rng = getattr(self, "_online_rng", None)
        if rng is None:
            rng = self._online_rng = check_random_state(self.random_state)
        return rng

    def _online_step(self, data, params: GMMParams, rng) -> None:
        """One stepwise-EM update at ``params`` from ``data`` (a batch)."""
        from .em import recover

        ct, reg = self.covariance_type, self.reg_covar
        st = data.stats(factorize(params))
        W = data.total_weight
        t = getattr(self, "n_steps_", 0) + 1
        g = float((t + self.learning_offset) ** -self.learning_decay)
        s = self._online if getattr(self, "_online", None) is not None else stats.expected_stats(params, reg)
        s = stats.recentre(s, st.shift, st.center)
        s = replace(
            s, nk=(1.0 - g) * s.nk + (g / W) * st.nk, s1=(1.0 - g) * s.s1 + (g / W) * st.s1,
            s2=(1.0 - g) * s.s2 + (g / W) * st.s2,
        )
        # the M-step at the batch's scale (the same parameters; scikit-learn's 10 eps per batch weight)
        scaled = replace(s, nk=s.nk * W, s1=s.s1 * W, s2=s.s2 * W)
        new = stats.m_step(scaled, ct, reg, data.eps)
        # starving: the batch gives a component under a thousandth of a point where the model
        # expects ten or more (its running weight alone would decay only slowly)
        starving = (st.nk < 1e-3 * W / data.n) & (params.weights * W >= 10.0)
        nk_check = np.where(starving, 0.0, scaled.nk)
        new, f, n_rec = recover(new, nk_check, data, st.worst_index, reg, rng, max(10, 2 * self.n_components))
        if n_rec:
            s = stats.expected_stats(new, reg)  # the re-seeded components' statistics restart
            warnings.warn(
                f"{n_rec} collapsed component(s) were re-seeded from the batch during partial_fit "
                "(vanishing weight or a covariance that is not positive definite).",
                RecoveryWarning,
            )
        n_recoveries = getattr(self, "n_recoveries_", 0) + n_rec
        self._set_fitted(new, f, data.dtype)
        self._online, self.n_steps_, self.n_recoveries_ = s, t, int(n_recoveries)
        self.lower_bound_ = st.ll / W  # (lower_bounds_ stays the fit's: memory does not grow with batches)

    def _set_fitted(self, params: GMMParams, f, dtype):
        self._params64 = params.copy()  # the float64 parameters partial_fit continues from
        self._online = None  # partial_fit's running statistics: rebuilt from the parameters
        self.n_steps_ = 0
        self.weights_ = params.weights.astype(dtype)
        self.means_ = params.means.astype(dtype)
        self.covariances_ = params.covariances.astype(dtype)
        self.precisions_cholesky_ = f.prec_chol.astype(dtype)
        self.precisions_ = precisions_from_cholesky(f.prec_chol, params.covariance_type).astype(dtype)

    # ----------------------------------------------------------------- predict
    def _factors(self):
        return factors_from_precision_cholesky(
            self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type
        )

    def _n_parameters(self) -> int:
        d = self.means_.shape[1]
        return n_parameters(self.n_components, d, self.covariance_type)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better).

        Returns
        -------
        bic : float
        """
        X = self._validate_predict_data(X)
        n = X.shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        """Akaike information criterion on X (lower is better).

        Returns
        -------
        aic : float
        """
        X = self._validate_predict_data(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # -------------------------------------------------------------- model files
    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz of arrays + JSON header, no pickle).

        See :func:`fastgmm.io.save_model`.
        """
        from .io import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path) -> "GaussianMixture":
        """Read a model written by :meth:`save`; ``ValueError`` for a corrupt or foreign file.

        See :func:`fastgmm.io.load_model`.
        """
        from .io import load_model

        return load_model(path)
