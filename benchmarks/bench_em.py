"""asv benchmarks: per-iteration cost, end-to-end fit, prediction, memory,
agreement with scikit-learn, and cold-cache compile time.

Run offline in the current environment: ``asv run --python=same --quick``.
Each ``setup`` warms the kernels and checks one result against a reference.
"""

import numpy as np

from benchmarks.common import C, init_params, precisions_init

COV_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = ["float64", "float32"]


class EMIteration:
    """One EM iteration (factorize + fused pass + M-step) from fixed parameters."""

    params = (COV_TYPES, DTYPES)
    param_names = ["covariance_type", "dtype"]

    def setup(self, covariance_type, dtype):
        from scipy.special import logsumexp
        from scipy.stats import multivariate_normal

        from fastgmm.sources import ArrayData as Data
        from fastgmm.params import GMMParams, factorize
        from fastgmm.stats import em_stats, m_step, score

        X, w0, m0, cov0 = init_params(covariance_type=covariance_type, dtype=np.dtype(dtype).type)
        self.X, self.data = X, Data(X)
        self.params0 = GMMParams(w0, m0, cov0, covariance_type)
        self.em_stats, self.m_step, self.factorize = em_stats, m_step, factorize
        st = self.iteration()  # warm the kernels
        # check: the pass's log-likelihood on the first 500 rows against SciPy
        if covariance_type == "full":
            sub = X[:500].astype(np.float64)
            ref = logsumexp(
                np.stack([np.log(w0[k]) + multivariate_normal(m0[k], cov0[k]).logpdf(sub) for k in range(C)], 1),
                axis=1,
            )
            ll = np.empty(500)
            score(np.ascontiguousarray(X[:500]), factorize(self.params0), loglik=ll)
            tol = 1e-9 if dtype == "float64" else 1e-3
            assert np.allclose(ll, ref, rtol=tol, atol=tol), "fused pass disagrees with SciPy"
        assert np.isfinite(st.weights).all()

    def iteration(self):
        f = self.factorize(self.params0)
        st = self.em_stats(self.X, None, f)
        return self.m_step(st, self.params0.covariance_type, 1e-6, self.data.eps)

    def time_em_iteration(self, covariance_type, dtype):
        self.iteration()


class LateIteration:
    """One full-covariance EM iteration late in a fit on separated clusters
    (d = 32, C = 16, after 10 iterations from the shared start), where most
    responsibilities have underflowed to exactly 0 and the statistics gather
    the weighted points (docs/performance.md, 2026-12-08)."""

    timeout = 300

    def setup(self):
        from fastgmm.params import GMMParams, factorize
        from fastgmm.stats import em_stats, m_step, score

        X, w0, m0, cov0 = init_params(n=50_000, d=32, c=16)
        eps = float(np.finfo(X.dtype).eps)
        p = GMMParams(w0, m0, cov0, "full")
        for _ in range(10):
            p = m_step(em_stats(X, None, factorize(p)), "full", 1e-6, eps)
        resp = np.empty((len(X), 16))
        score(X, factorize(p), resp=resp)
        assert (resp == 0).mean() > 0.5, "the responsibilities are not sparse here"
        new = m_step(em_stats(X, None, factorize(p)), "full", 1e-6, eps)
        # check: the M-step's means and covariances against NumPy's from the responsibilities
        nk = resp.sum(axis=0)
        k = int(np.argmax(nk))
        mean = resp[:, k] @ X / nk[k]
        cov = (resp[:, k, None] * (X - mean)).T @ (X - mean) / nk[k] + 1e-6 * np.eye(32)
        assert np.allclose(new.means[k], mean, rtol=1e-9, atol=1e-9 * np.abs(X).max()), "means disagree with NumPy"
        assert np.allclose(new.covariances[k], cov, rtol=1e-8, atol=1e-9 * np.abs(cov).max()), "covariances disagree"
        self.X, self.p, self.eps = X, p, eps
        self.em_stats, self.m_step, self.factorize = em_stats, m_step, factorize

    def time_late_iteration(self):
        self.m_step(self.em_stats(self.X, None, self.factorize(self.p)), "full", 1e-6, self.eps)


class Fit:
    """End-to-end ``GaussianMixture.fit`` with default parameters (k-means init)."""

    timeout = 300

    def setup(self):
        from fastgmm import GaussianMixture

        self.X = init_params()[0]
        self.GaussianMixture = GaussianMixture
        gm = GaussianMixture(C, random_state=0).fit(self.X[:2000])
        assert np.isclose(gm.weights_.sum(), 1.0)

    def time_fit(self):
        self.GaussianMixture(C, random_state=0).fit(self.X)

    def peakmem_fit(self):
        self.GaussianMixture(C, random_state=0).fit(self.X)


class PredictProba:
    def setup(self):
        from fastgmm import GaussianMixture

        X, w0, m0, cov0 = init_params()
        self.X = X
        self.gm = GaussianMixture(
            C, weights_init=w0, means_init=m0, precisions_init=precisions_init(cov0, "full"), max_iter=1
        ).fit(X[:5000])
        p = self.gm.predict_proba(X[:100])
        assert np.allclose(p.sum(axis=1), 1.0)

    def time_predict_proba(self):
        self.gm.predict_proba(self.X)


class LowerBound:
    """fastgmm's final lower bound minus scikit-learn's, from the same init."""

    params = COV_TYPES
    param_names = ["covariance_type"]
    unit = "nats per point"

    def setup(self, covariance_type):
        X, w0, m0, cov0 = init_params(n=20_000, covariance_type=covariance_type)
        self.kw = dict(
            n_components=C,
            covariance_type=covariance_type,
            weights_init=w0,
            means_init=m0,
            precisions_init=precisions_init(cov0, covariance_type),
            max_iter=20,
            tol=0.0,
        )
        self.X = X

    def track_lower_bound(self, covariance_type):
        import warnings

        from sklearn.mixture import GaussianMixture as SkGMM

        from fastgmm import GaussianMixture

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = GaussianMixture(**self.kw).fit(self.X).lower_bound_
            b = SkGMM(**self.kw).fit(self.X).lower_bound_
        return float(a - b)


class Compile:
    """Time to the first fit in a fresh interpreter with an empty (disabled)
    Numba cache: the compile time users pay once."""

    timeout = 600
    repeat = 1
    number = 1

    def timeraw_cold_first_fit(self):
        return """
import os
os.environ["FASTGMM_NO_CACHE"] = "1"
import numpy as np
from fastgmm import GaussianMixture
X = np.random.RandomState(0).rand(280, 2)
GaussianMixture(3, random_state=0).fit(X)
"""

    def timeraw_warm_first_fit(self):
        return """
import numpy as np
from fastgmm import GaussianMixture
X = np.random.RandomState(0).rand(280, 2)
GaussianMixture(3, random_state=0).fit(X)
"""

    def timeraw_cold_first_train_EM(self):
        return """
import os
os.environ["FASTGMM_NO_CACHE"] = "1"
import numpy as np
from fastgmm import train_EM
X = np.random.RandomState(0).rand(280, 2)
train_EM(X, 3, random_state=0)
"""

    def timeraw_warm_first_train_EM(self):
        # the classic API does not import scikit-learn
        return """
import numpy as np
from fastgmm import train_EM
X = np.random.RandomState(0).rand(280, 2)
train_EM(X, 3, random_state=0)
"""


class BayesianIteration:
    """One variational iteration (fused pass with the entropy stage, the
    updates, the bound) from a fixed random start."""

    params = (COV_TYPES,)
    param_names = ["covariance_type"]

    def setup(self, covariance_type):
        from fastgmm import variational
        from fastgmm.sources import ArrayData
        from fastgmm.stats import gaussian_parameters

        X = init_params(covariance_type=covariance_type)[0]
        self.data = data = ArrayData(X)
        self.ct = covariance_type
        self.priors = variational.default_priors("dirichlet_process", covariance_type, C, data.moments, data.n, X.dtype)
        self.state = variational.initial_state(
            data, C, covariance_type, "random", 1e-6, self.priors, np.random.RandomState(0)
        )
        self.variational, self.gaussian_parameters = variational, gaussian_parameters
        assert np.isfinite(self.iteration())

    def iteration(self):
        st = self.data.stats(self.state.factors, entropy=True)
        nk, xk, sk = self.gaussian_parameters(st, self.ct, 1e-6, self.data.eps)
        new = self.variational.update(nk, xk, sk, self.priors, self.ct)
        return self.variational.lower_bound(new, st.entropy, self.priors)

    def time_bayesian_iteration(self, covariance_type):
        self.iteration()
