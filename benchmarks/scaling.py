"""How the fused pass alone scales with threads (no M-step, no Python around it).

    python benchmarks/scaling.py --threads 1,2,4,8,16
    python benchmarks/scaling.py --threads 1,2 --float32
    python benchmarks/scaling.py --threads 2 --dgemm

Prints the median ms of one statistics pass per shape and thread count and the
speed-up over one thread, next to a DGEMM calibration of the same machine.
``--float32`` also times the same data in float32, alternating the two dtypes
repeat by repeat, and prints float64's time over float32's. ``--dgemm`` times
a DGEMM before each repeat too and prints the full-covariance passes' GFLOP/s
as a share of the DGEMM rate (medians of the interleaved timings, so that a
shared host's drift falls on both).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fastgmm import num_threads
from fastgmm.bench import _init_covariances, dgemm_gflops, make_data
from fastgmm.params import GMMParams, factorize
from fastgmm.stats import em_stats

SHAPES = [(1_000_000, 2, 3, "full"), (1_000_000, 8, 8, "full"), (200_000, 32, 16, "full"),
          (100_000, 64, 10, "full"), (1_000_000, 16, 8, "tied"), (1_000_000, 16, 8, "diag")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--float32", action="store_true", help="float32 side by side with float64")
    ap.add_argument("--dgemm", action="store_true", help="a DGEMM before each repeat; passes as a share of it")
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    print("DGEMM GFLOP/s:", {t: round(float(dgemm_gflops(t)), 1) for t in threads})
    for n, d, c, ct in SHAPES:
        X, w, m, cov = make_data(n, d, c, np.float64)
        f = factorize(GMMParams(w, m, _init_covariances(cov, c, ct), ct))
        data = {"float64": X}
        if args.float32:
            data["float32"] = X.astype(np.float32)
        times = {}
        rates = {}
        for t in threads:
            with num_threads(t):
                for Xd in data.values():
                    em_stats(Xd, None, f)
                ts = {k: [] for k in data}
                gf = []
                for _ in range(args.repeat):
                    if args.dgemm:
                        gf.append(dgemm_gflops(t, repeat=1))
                        time.sleep(0.2)  # the BLAS pool's threads spin a while after their work
                    for k, Xd in data.items():  # dtypes alternate: same machine state
                        t0 = time.perf_counter()
                        em_stats(Xd, None, f)
                        ts[k].append(time.perf_counter() - t0)
            for k in data:
                times[k, t] = 1e3 * float(np.median(ts[k]))
            rates[t] = float(np.median(gf)) if gf else float("nan")
        for k in data:
            base = times[k, threads[0]]
            line = f"N={n:>9,} d={d:>2} C={c:>2} {ct:<5} {k} " + "  ".join(
                f"{t}T {times[k, t]:7.1f} ms (x{base / times[k, t]:4.1f})" for t in threads)
            if k == "float32":
                line += "  float64/float32: " + "  ".join(
                    f"{t}T {times['float64', t] / times[k, t]:.2f}" for t in threads)
            if args.dgemm and ct == "full":
                share = [2.0 * n * c * d * (d + 1) / (times[k, t] / 1e3) / 1e9 / rates[t] for t in threads]
                line += "  of DGEMM: " + "  ".join(f"{t}T {100 * f:.0f}%" for t, f in zip(threads, share))
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
