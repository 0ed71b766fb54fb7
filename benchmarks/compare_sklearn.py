"""One EM iteration of the fused engine against scikit-learn's ``_e_step`` +
``_m_step`` from the same parameters (scikit-learn in a process of its own, as
``fastgmm bench`` runs it); and the memory that
``E_step`` needs beyond X and gamma.

Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that command only
(fair to numpy), e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare_sklearn.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from fastgmm.bench import _peak_added_mb, bench_shape, machine_info, to_markdown


def e_step_extra_memory_mb(n=1_000_000, d=2, c=3) -> float:
    """Peak resident memory E_step adds beyond its output gamma (MB)."""
    from fastgmm import E_step

    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, d))
    pi = np.full(c, 1.0 / c)
    mu = rng.standard_normal((c, d))
    sigma = np.repeat(np.eye(d)[None], c, 0)
    E_step(X[:1000], pi, mu, sigma)  # warm
    gamma_mb = n * c * 8 / 2**20
    return _peak_added_mb(lambda: E_step(X, pi, mu, sigma)) - gamma_mb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="a tenth of the rows")
    args = ap.parse_args(argv)
    from fastgmm._parallel import _default_threads

    t = args.threads or _default_threads()
    scale = 10 if args.quick else 1
    info = machine_info([t])
    results = [
        bench_shape(1_000_000 // scale, 8, 8, "full", np.float64, t),
        bench_shape(200_000 // scale, 32, 16, "full", np.float64, t),
    ]
    print(to_markdown(results, info))
    print()
    print(f"E_step on N=1e6, d=2, C=3: {e_step_extra_memory_mb():.1f} MB beyond X and gamma")
    return 0


if __name__ == "__main__":
    sys.exit(main())
