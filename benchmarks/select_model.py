"""Time ``select_model`` over k = 1..10 and the four covariance types (issue #15).

Usage::

    python benchmarks/select_model.py [--n 200000] [--d 8] [--threads 2]

The data: 6 seeded, well-separated Gaussian clusters with random
covariances (random rotations, scales 0.5-2: none nearly singular). Prints the
time of each ``starts`` strategy (kernels compiled beforehand by a small run)
and the model each picks.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from fastgmm import select_model


def make_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    parts = []
    for _ in range(6):
        rot = np.linalg.qr(rng.standard_normal((d, d)))[0]
        parts.append(rng.standard_normal((n // 6, d)) * rng.uniform(0.5, 2.0, d) @ rot + rng.normal(scale=10.0, size=d))
    return np.vstack(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=2e5)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    X = make_data(int(args.n), args.d)
    warnings.simplefilter("ignore")
    select_model(X[:3000], n_components=range(1, 3), random_state=0, n_threads=args.threads)  # compile
    for starts in ("estimator", "best"):
        t0 = time.perf_counter()
        res = select_model(X, n_components=range(1, 11), random_state=0, starts=starts, n_threads=args.threads)
        el = time.perf_counter() - t0
        print(f"starts={starts!r}: {el:.1f} s, best {res.best_covariance_type} k={res.best_n_components}")


if __name__ == "__main__":
    main()
