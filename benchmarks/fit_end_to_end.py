"""End-to-end ``fit`` with default parameters (k-means init, tol 1e-3): fastgmm
against scikit-learn on generated blobs, over several seeds, same process.

Reports the median fit time of each, the ratio, and the mean final lower bound
of each (fastgmm must be equal or better on average). Run with OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE unset in that command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/fit_end_to_end.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture as SkGMM

from fastgmm import GaussianMixture
from fastgmm.bench import machine_info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--c", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    n = int(args.n)
    X, _ = make_blobs(n, n_features=args.d, centers=args.c, cluster_std=1.5, center_box=(-10, 10), random_state=0)
    GaussianMixture(args.c, random_state=0).fit(X[:5000])  # compile / load the kernels
    info = machine_info()
    print(f"{info['date']} {info['cpu']} ({info['cores']} cores), numba {info['numba']}, "
          f"scikit-learn {info['scikit-learn']}; N={n:,} d={args.d} C={args.c}, default parameters")
    rows = []
    for seed in range(args.seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            a = GaussianMixture(args.c, random_state=seed).fit(X)
            ta = time.perf_counter() - t
            t = time.perf_counter()
            b = SkGMM(args.c, random_state=seed).fit(X)
            tb = time.perf_counter() - t
        rows.append((ta, tb, a.lower_bound_, b.lower_bound_, a.n_iter_, b.n_iter_))
        print(f"seed {seed}: fastgmm {ta:7.2f} s ({a.n_iter_:3d} it, LB {a.lower_bound_:.6f})   "
              f"sklearn {tb:7.2f} s ({b.n_iter_:3d} it, LB {b.lower_bound_:.6f})", flush=True)
    r = np.array(rows)
    print(f"median fit time: fastgmm {np.median(r[:, 0]):.2f} s, sklearn {np.median(r[:, 1]):.2f} s, "
          f"ratio {np.median(r[:, 1]) / np.median(r[:, 0]):.1f}x")
    print(f"mean final lower bound: fastgmm {r[:, 2].mean():.6f}, sklearn {r[:, 3].mean():.6f} "
          f"(difference {r[:, 2].mean() - r[:, 3].mean():+.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
