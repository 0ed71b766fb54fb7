"""How the fused pass alone scales with threads (no M-step, no Python around it).

    python benchmarks/scaling.py --threads 1,2,4,8,16

Prints the median ms of one statistics pass per shape and thread count and the
speed-up over one thread, next to a DGEMM calibration of the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fastgmm import num_threads
from fastgmm.bench import _init_covariances, dgemm_gflops, make_data
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import run_pass

SHAPES = [(1_000_000, 2, 3, "full"), (1_000_000, 8, 8, "full"), (200_000, 32, 16, "full"),
          (100_000, 64, 10, "full"), (1_000_000, 16, 8, "tied"), (1_000_000, 16, 8, "diag")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    print("DGEMM GFLOP/s:", {t: round(float(dgemm_gflops(t)), 1) for t in threads})
    for n, d, c, ct in SHAPES:
        X, w, m, cov = make_data(n, d, c, np.float64)
        f = factorize(GMMParams(w, m, _init_covariances(cov, c, ct), ct))
        row = {}
        for t in threads:
            with num_threads(t):
                run_pass(X, None, f)
                ts = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    run_pass(X, None, f)
                    ts.append(time.perf_counter() - t0)
            row[t] = 1e3 * float(np.median(ts))
        base = row[threads[0]]
        print(f"N={n:>9,} d={d:>2} C={c:>2} {ct:<5} " + "  ".join(
            f"{t}T {row[t]:7.1f} ms (x{base / row[t]:4.1f})" for t in threads), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
