"""``fastgmm.BayesianGaussianMixture``: a drop-in for scikit-learn's
variational Bayesian Gaussian mixture, on the fused passes
(:mod:`fastgmm.variational`)."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._parallel import num_threads
from ._validation import (
    ArrayLike,
    Interval,
    NoneConstraint,
    StrOptions,
    check_prior_covariance,
    check_prior_mean,
)
from .mixture import BaseMixture
from .params import factors_from_precision_cholesky, precisions_from_cholesky
from . import variational

__all__ = ["BayesianGaussianMixture"]


class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian Gaussian mixture on fused Numba kernels.

    Same parameters, attributes and methods as
    :class:`sklearn.mixture.BayesianGaussianMixture`: a Dirichlet-process
    (stick-breaking) or Dirichlet prior on the weights lets the fit switch off
    components it does not need, so ``n_components`` is an upper bound. Each
    iteration is one fused pass over the data (E-step, the M-step's
    statistics and the entropy term of the bound; no
    ``n_samples x n_components`` array), then scikit-learn's variational
    updates on the C-sized statistics. Beyond scikit-learn: weighted fitting
    (``fit(X, sample_weight=...)``), dask arrays and memory-mapped files
    through the same path as :class:`fastgmm.GaussianMixture`, float32 end to
    end, a thread-count control, and ``min_weight`` to drop unneeded
    components during the fit.

    Parameters
    ----------
    n_components : int, default=1
        Most components the fit may use.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (a total over
        the data, as in scikit-learn).
    reg_covar : float, default=1e-6
        Added to the diagonal of each component's data covariance.
    max_iter : int, default=100
    n_init : int, default=1
        Number of initialisations; the one with the highest bound is kept
        (a tie within rounding keeps the earlier, as :class:`fastgmm.GaussianMixture`).
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, default='kmeans'
        The initial responsibilities (as :class:`fastgmm.GaussianMixture`).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, default='dirichlet_process'
    weight_concentration_prior : float or None, default=None
        The Dirichlet (process) concentration; ``None``: ``1 / n_components``.
    mean_precision_prior : float or None, default=None
        Precision prior of the means (``beta_0``); ``None``: 1.
    mean_prior : array-like of shape (n_features,), default=None
        Prior mean of the means; ``None``: the data's (weighted) mean.
    degrees_of_freedom_prior : float or None, default=None
        Wishart degrees of freedom (``nu_0 > n_features - 1``); ``None``: ``n_features``.
    covariance_prior : float or array-like, default=None
        Wishart covariance prior ((d, d) for 'full'/'tied', (d,) for 'diag', a
        float for 'spherical'); ``None``: the data's covariance (``ddof=1``;
        with weights, the weighted covariance times ``W / (W - 1)``).
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start each ``fit`` from the previous posterior (one initialisation).
    verbose : int, default=0
    verbose_interval : int, default=10
    min_weight : float or None, default=None
        Not in scikit-learn. When set (in ``[0, 1)``), components whose
        expected weight falls below it after an M-step are removed and the fit
        continues with the others; the fitted attributes then have
        ``n_components_`` rows. ``None`` (default) keeps every component, as
        scikit-learn does.
    n_threads : int or None, default=None
        Threads for the kernels; results do not depend on it.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        float64, as scikit-learn's (also for float32 X, whose passes run in
        float32; ``predict_proba`` and ``score_samples`` return X's dtype).
    weight_concentration_ : tuple of two ndarrays or ndarray
    mean_precision_ : ndarray of shape (n_components_,)
    degrees_of_freedom_ : ndarray of shape (n_components_,) (a float for 'tied')
    weight_concentration_prior_, mean_precision_prior_, mean_prior_,
    degrees_of_freedom_prior_, covariance_prior_
        The priors used (the defaults resolved).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The best run's final variational lower bound (scikit-learn's, a total).
    lower_bounds_ : list of float
    n_components_ : int
        Components in the fitted model (``n_components`` unless ``min_weight``
        dropped some).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        min_weight=None,
        n_threads=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.min_weight = min_weight
        self.n_threads = n_threads

    #: scikit-learn's constraints (``BayesianGaussianMixture._parameter_constraints``),
    #: plus 'hc', ``min_weight`` and ``n_threads``
    _CONSTRAINTS = {
        **BaseMixture._CONSTRAINTS,
        "covariance_type": (StrOptions(("spherical", "tied", "diag", "full")),),
        "weight_concentration_prior_type": (StrOptions(variational.PRIOR_TYPES),),
        "weight_concentration_prior": (NoneConstraint(), Interval(Real, 0.0, None, closed="neither")),
        "mean_precision_prior": (NoneConstraint(), Interval(Real, 0.0, None, closed="neither")),
        "mean_prior": (NoneConstraint(), ArrayLike()),
        "degrees_of_freedom_prior": (NoneConstraint(), Interval(Real, 0.0, None, closed="neither")),
        "covariance_prior": (NoneConstraint(), ArrayLike(), Interval(Real, 0.0, None, closed="neither")),
        "min_weight": (NoneConstraint(), Interval(Real, 0.0, 1.0, closed="left")),
    }

    def _check_data_parameters(self, n_features: int) -> dict:
        """The priors that need ``n_features``, checked as scikit-learn's
        ``_check_parameters`` checks them (its messages)."""
        dof = self.degrees_of_freedom_prior
        if dof is not None and not dof > n_features - 1.0:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than %d, but got %.3f."
                % (n_features - 1, dof)
            )
        mean = None if self.mean_prior is None else check_prior_mean(self.mean_prior, n_features)
        cov = None
        if self.covariance_prior is not None:
            cov = check_prior_covariance(self.covariance_prior, self.covariance_type, n_features)
        return {"mean": mean, "covariance": cov, "degrees_of_freedom": dof}

    def _fit_source(self, data, checked: dict, callback) -> None:
        """The variational fit on a checked source, then the attributes."""
        ct = self.covariance_type
        warm = self.warm_start and hasattr(self, "converged_")
        rng = check_random_state(self.random_state)
        with num_threads(self._n_threads()):
            moments = data.moments if checked["mean"] is None or checked["covariance"] is None else None
            priors = variational.default_priors(
                self.weight_concentration_prior_type, ct, self.n_components,
                moments if moments is not None else (checked["mean"], None), data.total_weight, data.dtype,
                weight_concentration=self.weight_concentration_prior,
                mean_precision=self.mean_precision_prior, **checked,
            )
            best = variational.fit(
                data, self.n_components, ct, priors, tol=self.tol, reg_covar=self.reg_covar,
                max_iter=self.max_iter, n_init=self.n_init, init_params=self.init_params,
                warm_state=self._state if warm else None,
                warm_lower_bound=self.lower_bound_ if warm else -np.inf, random_state=rng,
                min_weight=self.min_weight, verbose=self.verbose, verbose_interval=self.verbose_interval,
                on_iter=callback,
            )
        self._set_fitted(best.state, priors)
        self.converged_ = bool(best.converged)
        self.n_iter_ = int(best.n_iter)
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )

    def _set_fitted(self, state: variational.VBState, priors: variational.Priors) -> None:
        self._state = state
        f = state.factors
        cast = (lambda a: np.array(a, np.float64))  # float64, as scikit-learn's (float32 X too)
        self.weight_concentration_prior_ = priors.weight_concentration
        self.mean_precision_prior_ = priors.mean_precision
        self.mean_prior_ = cast(priors.mean)
        self.degrees_of_freedom_prior_ = priors.degrees_of_freedom
        cp = priors.covariance
        self.covariance_prior_ = cp if np.ndim(cp) == 0 else cast(cp)
        wc = state.weight_concentration
        self.weight_concentration_ = (cast(wc[0]), cast(wc[1])) if isinstance(wc, tuple) else cast(wc)
        self.mean_precision_ = cast(state.mean_precision)
        self.means_ = cast(state.means)
        dof = state.degrees_of_freedom
        self.degrees_of_freedom_ = float(dof) if np.ndim(dof) == 0 else cast(dof)
        self.covariances_ = cast(state.covariances)
        self.precisions_cholesky_ = cast(f.prec_chol)
        self.precisions_ = cast(precisions_from_cholesky(f.prec_chol, state.covariance_type))
        self.weights_ = cast(state.weights)
        self.n_components_ = int(state.n_components)

    def _factors(self):
        """The kernels' factors of the fitted posterior: the Gaussian part at
        ``precisions_cholesky_``, the variational term per component."""
        check_is_fitted(self)
        d = self.means_.shape[1]
        wc = self.weight_concentration_
        wc64 = tuple(np.asarray(a, np.float64) for a in wc) if isinstance(wc, tuple) else np.asarray(wc, np.float64)
        f = factors_from_precision_cholesky(self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type)
        f.log_weights = variational.estep_log_weights(
            (wc64, self.weight_concentration_prior_type, np.asarray(self.degrees_of_freedom_, np.float64),
             np.asarray(self.mean_precision_, np.float64)), d,
        )
        return f
