"""Issue #18's check: one exact EM iteration on data with entries missing
completely at random against a complete-data iteration on the same rows
(N = 1e6, d = 8, C = 8, 'full'), medians side by side, and how the cost grows
with the number of missingness patterns.

    python benchmarks/missing_iteration.py [--n 1e6] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fastgmm import num_threads
from fastgmm.bench import _init_covariances, machine_info, make_data
from fastgmm.missing import MissingData
from fastgmm.params import GMMParams, factorize
from fastgmm.sources import ArrayData
from fastgmm.stats import m_step


def _median_iteration(data, params, repeat=5) -> float:
    f = factorize(params)
    data.stats(f)  # warm
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        m_step(data.stats(factorize(params)), params.covariance_type, 1e-6, data.eps)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--c", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    n, d, c = int(args.n), args.d, args.c
    X, w0, m0, cov = make_data(n, d, c, np.float64)
    params = GMMParams(w0, m0, _init_covariances(cov, c, "full"), "full")
    rng = np.random.RandomState(1)
    rows = []
    with num_threads(args.threads):
        t_full = _median_iteration(ArrayData(X), params)
        for frac in (0.01, 0.05, 0.1, 0.2):
            Xm = X.copy()
            Xm[rng.rand(n, d) < frac] = np.nan
            Xm[np.isnan(Xm).all(axis=1), 0] = X[np.isnan(Xm).all(axis=1), 0]
            t = time.perf_counter()
            data = MissingData(Xm)
            t_setup = time.perf_counter() - t
            t_it = _median_iteration(data, params)
            rows.append({"missing_fraction": frac, "patterns": len(data.patterns), "setup_s": t_setup,
                         "iteration_s": t_it, "ratio_to_complete": t_it / t_full})
    info = {k: v for k, v in machine_info([args.threads]).items() if k in ("date", "cpu", "cores", "numba", "numpy")}
    print(json.dumps({"machine": info, "n": n, "d": d, "c": c, "complete_iteration_s": t_full, "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
