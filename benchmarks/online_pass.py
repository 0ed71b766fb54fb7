"""Issue #17's check: one ``partial_fit`` pass over N shuffled rows (8 features,
8 well separated blobs with random covariances) in batches of 10,000, against
a full ``fit`` on the same data: the gap in mean log-likelihood per point, and
the pass's time over one full-data EM iteration (factorize + fused pass +
M-step, median of 5), in one process.

    python benchmarks/online_pass.py --n 2e6 [--threads 2] [--decay 0.7 --offset 1]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from fastgmm import GaussianMixture, num_threads
from fastgmm.bench import machine_info
from fastgmm.outofcore import online_pass
from fastgmm.params import factorize
from fastgmm.stats import em_stats, m_step


def blobs(n: int, d: int = 8, c: int = 8, seed: int = 0) -> np.ndarray:
    """Shuffled, well separated blobs (centres uniform in [-10, 10]^d) with random covariances."""
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-10, 10, (c, d))
    A = np.array([np.linalg.cholesky(np.cov(rng.randn(d, 3 * d))) for _ in range(c)])
    lab = rng.randint(c, size=n)
    X = np.empty((n, d))
    for lo in range(0, n, 1_000_000):  # in slices: no N x d x d temporary
        sl = slice(lo, min(n, lo + 1_000_000))
        X[sl] = centers[lab[sl]] + np.einsum("nij,nj->ni", A[lab[sl]], rng.randn(sl.stop - sl.start, d))
    return X


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=2e6)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--decay", type=float, default=None)
    ap.add_argument("--offset", type=float, default=None)
    args = ap.parse_args(argv)
    X = blobs(int(args.n))
    kw = {k: v for k, v in (("learning_decay", args.decay), ("learning_offset", args.offset)) if v is not None}
    warnings.simplefilter("ignore")
    with num_threads(args.threads):
        online_pass(GaussianMixture(8, random_state=0, **kw), X[:50_000], batch_size=args.batch_size)  # warm
        t = time.perf_counter()
        full = GaussianMixture(8, random_state=0).fit(X)
        t_fit = time.perf_counter() - t
        p = full._params64
        its = []
        for _ in range(5):
            t = time.perf_counter()
            m_step(em_stats(X, None, factorize(p)), "full", full.reg_covar, np.finfo(X.dtype).eps)
            its.append(time.perf_counter() - t)
        t = time.perf_counter()
        gm = online_pass(GaussianMixture(8, random_state=0, **kw), X, batch_size=args.batch_size)
        t_pass = time.perf_counter() - t
        gap = full.score(X) - gm.score(X)
    it = float(np.median(its))
    out = {
        "machine": {k: v for k, v in machine_info([args.threads]).items() if k in ("date", "cpu", "cores", "numba", "numpy")},
        "n": int(args.n), "batch_size": args.batch_size, "threads": args.threads,
        "learning_decay": gm.learning_decay, "learning_offset": gm.learning_offset,
        "full_fit_s": t_fit, "full_fit_iterations": full.n_iter_, "em_iteration_s": it,
        "online_pass_s": t_pass, "pass_over_iteration": t_pass / it, "gap_nats_per_point": gap,
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
