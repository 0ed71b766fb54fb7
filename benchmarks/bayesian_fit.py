"""A whole ``BayesianGaussianMixture`` fit, fastgmm against scikit-learn, in
one process: N = 1e6, d = 8, C = 8, 'full', 20 iterations from the same
'random' start (``tol=0``), median of ``--repeat`` fits each, and the
difference of the final bounds.

Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bayesian_fit.py
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastgmm.bench import _blas_limit, machine_info, make_data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--c", type=int, default=8)
    ap.add_argument("--covariance", default="full")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    from sklearn.mixture import BayesianGaussianMixture as SkBGMM

    from fastgmm import BayesianGaussianMixture, num_threads

    X, *_ = make_data(int(args.n), args.d, args.c, np.float64)
    kw = dict(n_components=args.c, covariance_type=args.covariance, init_params="random",
              random_state=0, max_iter=args.iters, tol=0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    with num_threads(args.threads), _blas_limit(args.threads):
        BayesianGaussianMixture(**dict(kw, max_iter=1)).fit(X[:20_000])  # compile / load the kernels
        times = {"fastgmm": [], "sklearn": []}
        bounds = {}
        for _ in range(args.repeat):
            for name, cls in (("fastgmm", BayesianGaussianMixture), ("sklearn", SkBGMM)):
                t = time.perf_counter()
                est = cls(**kw).fit(X)
                times[name].append(time.perf_counter() - t)
                bounds[name] = float(np.ravel(est.lower_bound_)[0])
    fg, sk = np.median(times["fastgmm"]), np.median(times["sklearn"])
    out = {
        "machine": machine_info([args.threads]),
        "shape": [int(args.n), args.d, args.c, args.covariance], "iterations": args.iters,
        "fastgmm_s": fg, "sklearn_s": sk, "ratio": sk / fg,
        "bound_rel_diff": abs(bounds["fastgmm"] - bounds["sklearn"]) / abs(bounds["sklearn"]),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
