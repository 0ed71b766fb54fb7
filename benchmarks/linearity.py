"""Two of the speed issue's targets in one run: time per EM iteration grows
linearly with N, and ``fit`` adds little memory above X.

1. Median ms per iteration (Cholesky + fused pass + M-step, warm kernels) at N
   and at 10 N rows of the same blobs; the ratio should be 10 (target 10 ± 15%).
2. Peak resident memory that a default ``GaussianMixture.fit`` adds above the
   resident size once X is loaded, against the size of X (target: under 10% of
   X plus O(C d^2)). Linux only (``/proc/self/clear_refs``).

    python benchmarks/linearity.py [--n 2e5] [--d 8] [--c 8] [--threads 1,2]

``--threads`` times the iterations at each thread count in turn (default: the
kernels' default thread count).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fastgmm import GaussianMixture, num_threads
from fastgmm._parallel import get_num_threads
from fastgmm.bench import _init_covariances, _peak_added_mb, machine_info, make_data
from fastgmm.sources import ArrayData as Data
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import em_stats, m_step


def ms_per_iteration(datasets, w0, m0, cov, repeat: int) -> list[float]:
    """Median ms of one EM iteration from the same parameters on each data set,
    the data sets' iterations interleaved so that the machine's drift hits all
    of them alike."""
    c = m0.shape[0]
    p0 = GMMParams(w0, m0, _init_covariances(cov, c, "full"), "full")

    def step(X):
        st = em_stats(X, None, factorize(p0))
        return m_step(st, "full", 1e-6, Data(X).eps)

    times = [[] for _ in datasets]
    for X in datasets:
        step(X)
    for _ in range(repeat):
        for X, ts in zip(datasets, times):
            t = time.perf_counter()
            step(X)
            ts.append(time.perf_counter() - t)
    return [1e3 * float(np.median(ts)) for ts in times]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=2e5, help="the smaller N (the larger is 10 N)")
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--c", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", default=None, help="comma-separated thread counts, e.g. 1,2")
    args = ap.parse_args(argv)
    n = int(args.n)
    info = machine_info()
    threads = [int(t) for t in args.threads.split(",")] if args.threads else [get_num_threads()]
    print(f"{info['date']} {info['cpu']} ({info['cores']} cores), numba {info['numba']}; "
          f"d={args.d} C={args.c}")

    X, w0, m0, cov = make_data(10 * n, args.d, args.c, np.float64)
    small = np.ascontiguousarray(X[:n])
    for t in threads:
        with num_threads(t):
            t_small, t_large = ms_per_iteration([small, X], w0, m0, cov, args.repeat)
        ratio = t_large / t_small
        print(f"{t} thread(s), per iteration: N={n:,} {t_small:.2f} ms, N={10 * n:,} {t_large:.2f} ms, "
              f"ratio {ratio:.2f} (target 10 +- 15%: {'met' if 8.5 <= ratio <= 11.5 else 'not met'})")

    GaussianMixture(args.c, random_state=0).fit(small[:5000])  # load the kernels first
    x_mb = X.nbytes / 2**20
    added = _peak_added_mb(lambda: GaussianMixture(args.c, random_state=0).fit(X))
    print(f"fit peak memory above X: {added:.1f} MB with X = {x_mb:.1f} MB "
          f"({100 * added / x_mb:.1f}% of X; target under 10% plus O(C d^2))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
