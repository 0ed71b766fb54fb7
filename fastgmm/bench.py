"""``fastgmm bench``: fastgmm and scikit-learn side by side, same process, same init.

For each shape it warms both libraries up, then times EM iterations from the
same parameters (fastgmm: factorize + fused pass + M-step; scikit-learn:
``_e_step`` + ``_m_step``; with ``--model bayesian`` the variational
iteration of ``BayesianGaussianMixture`` from the same random start, its bound
included), and reports the median ms per iteration, the ratio,
GFLOP/s (``2 N C d (d+1)`` flops per full-covariance iteration), the DGEMM rate
of this machine measured in the same run, the peak resident memory each
library adds, and the difference of their log-likelihoods (or bounds) after
that iteration (which must agree: the runner fails loudly otherwise).

For a fair comparison run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
unset in that command (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE fastgmm bench``):
they can force an old, slow OpenBLAS kernel on numpy. The runner says which
kernel numpy's BLAS uses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_SHAPES = [
    (1_000_000, 2, 3, "full"),
    (1_000_000, 8, 8, "full"),
    (200_000, 32, 16, "full"),
    (100_000, 64, 10, "full"),
    (1_000_000, 16, 8, "diag"),
    (1_000_000, 16, 8, "tied"),
    (1_000_000, 16, 8, "spherical"),
]
QUICK_SHAPES = [
    (100_000, 2, 3, "full"),
    (100_000, 8, 8, "full"),
    (20_000, 32, 16, "full"),
    (100_000, 16, 8, "diag"),
]


@dataclass
class Result:
    n: int
    d: int
    c: int
    covariance_type: str
    dtype: str
    threads: int
    fastgmm_ms: float
    sklearn_ms: float
    ratio: float
    gflops: float
    dgemm_gflops: float
    fastgmm_peak_mb: float
    sklearn_peak_mb: float
    loglik_rel_diff: float


def machine_info(threads: list[int] | None = None) -> dict:
    """CPU, cores, library versions, BLAS kernel (threadpoolctl) and warnings."""
    import numba
    import sklearn

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "fastgmm_parallelism": f"Numba parallel=True runner over fixed row chunks ({numba.config.THREADING_LAYER} layer requested)",
        "threads": threads,
        "blas": [],
        "warnings": [],
    }
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                info["blas"].append(
                    {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                )
    except ImportError:
        info["warnings"].append("threadpoolctl not installed: BLAS kernel unknown")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            info["warnings"].append(
                f"{var}={os.environ[var]} is set: it may force an old OpenBLAS kernel on numpy "
                f"(architecture above); unset it in this command for a fair comparison"
            )
    return info


def _peak_rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rss_mb(field: str) -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _peak_added_mb(fn) -> float:
    """Peak resident memory (MB) that ``fn()`` adds above the current RSS."""
    if not _peak_rss_reset():
        fn()
        return float("nan")
    base = _rss_mb("VmRSS")
    fn()
    return max(0.0, _rss_mb("VmHWM") - base)


def dgemm_gflops(threads: int, n: int = 1500, repeat: int = 5) -> float:
    """Measured DGEMM rate of numpy's BLAS on ``threads`` threads."""
    rng = np.random.RandomState(0)
    a = rng.rand(n, n)
    b = rng.rand(n, n)
    ctx = _blas_limit(threads)
    with ctx:
        a @ b
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
    return 2.0 * n**3 / np.median(times) / 1e9


def _blas_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        from contextlib import nullcontext

        return nullcontext()


def make_data(n: int, d: int, c: int, dtype, seed: int = 0):
    """Seeded blobs and a shared initial model (means on data points, the data's
    covariance, equal weights)."""
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-10, 10, size=(c, d))
    labels = rng.randint(c, size=n)
    X = (centers[labels] + rng.standard_normal((n, d))).astype(dtype)
    means = X[rng.choice(n, c, replace=False)].astype(np.float64)
    cov = np.cov(X[: min(n, 50_000)].T.astype(np.float64)).reshape(d, d) + 1e-6 * np.eye(d)
    return X, np.full(c, 1.0 / c), means, cov


def _init_covariances(cov, c, covariance_type):
    """The shared initial covariance in ``covariance_type``'s shape."""
    return {
        "full": lambda: np.repeat(cov[None], c, axis=0),
        "tied": cov.copy,
        "diag": lambda: np.repeat(np.diag(cov)[None], c, axis=0),
        "spherical": lambda: np.full(c, np.diag(cov).mean()),
    }[covariance_type]()


def _gmm_pair(X, w0, m0, cov0, covariance_type, reg):
    """``(fastgmm_iter, sklearn_iter)``: one EM iteration of each from the shared
    initial parameters, each returning the log-likelihood sum."""
    from sklearn.mixture import GaussianMixture as SkGMM
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    from .params import GMMParams, factorize
    from .stats import em_stats, m_step

    eps = float(np.finfo(X.dtype).eps)
    p0 = GMMParams(w0, m0, cov0, covariance_type)

    def fg_iter():
        st = em_stats(X, None, factorize(p0))
        m_step(st, covariance_type, reg, eps)
        return st.ll

    sk = SkGMM(len(w0), covariance_type=covariance_type, reg_covar=reg)

    def sk_iter():
        sk.weights_ = w0.astype(X.dtype)
        sk.means_ = m0.astype(X.dtype)
        sk.covariances_ = cov0.astype(X.dtype)
        sk.precisions_cholesky_ = _compute_precision_cholesky(sk.covariances_, covariance_type)
        ll, log_resp = sk._e_step(X)
        sk._m_step(X, log_resp)
        return ll * X.shape[0]

    return fg_iter, sk_iter


def _bayesian_pair(X, c, covariance_type, reg):
    """``(fastgmm_iter, sklearn_iter)`` of the variational mixture: one
    iteration (E-step, M-step, bound) of each from the same 'random'
    initialisation (random_state 0), each returning the bound."""
    from sklearn.mixture import BayesianGaussianMixture as SkBGMM

    from . import variational
    from .sources import ArrayData
    from .stats import gaussian_parameters

    data = ArrayData(X)
    priors = variational.default_priors("dirichlet_process", covariance_type, c, data.moments, data.n, X.dtype)
    state0 = variational.initial_state(data, c, covariance_type, "random", reg, priors, np.random.RandomState(0))

    def fg_iter():
        st = data.stats(state0.factors, entropy=True)
        nk, xk, sk_ = gaussian_parameters(st, covariance_type, reg, data.eps)
        return variational.lower_bound(variational.update(nk, xk, sk_, priors, covariance_type), st.entropy, priors)

    sk = SkBGMM(n_components=c, covariance_type=covariance_type, reg_covar=reg, init_params="random")
    sk._check_parameters(X)
    sk._initialize_parameters(X, np.random.RandomState(0))
    sk0 = sk._get_parameters()

    def sk_iter():
        sk._set_parameters(sk0)
        ll, log_resp = sk._e_step(X)
        sk._m_step(X, log_resp)
        return float(np.ravel(sk._compute_lower_bound(log_resp, ll))[0])

    return fg_iter, sk_iter


def bench_shape(n, d, c, covariance_type, dtype, threads, n_iter=5, model="gmm") -> Result:
    """Time one shape: one iteration of each library from the same start, ``n_iter``
    times; raises RuntimeError when the two disagree on that iteration's
    log-likelihood (``model='gmm'``) or variational bound (``'bayesian'``)."""
    from ._parallel import num_threads

    X, w0, m0, cov = make_data(n, d, c, dtype)
    reg = 1e-6
    with num_threads(threads), _blas_limit(threads):
        if model == "bayesian":
            fg_iter, sk_iter = _bayesian_pair(X, c, covariance_type, reg)
        else:
            fg_iter, sk_iter = _gmm_pair(X, w0, m0, _init_covariances(cov, c, covariance_type), covariance_type, reg)
        ll_fg, ll_sk = fg_iter(), sk_iter()  # also the warm-up
        rel = abs(ll_fg - ll_sk) / abs(ll_sk)
        tol = 1e-8 if dtype == np.float64 else 1e-3
        if not rel < tol:
            raise RuntimeError(
                f"fastgmm and scikit-learn disagree at {(n, d, c, covariance_type)}: "
                f"{ll_fg!r} vs {ll_sk!r} (relative {rel:.2e} > {tol:g})"
            )
        t_fg, t_sk = [], []
        # one library's iterations back to back, then the other's: OpenBLAS's
        # threads keep spinning for a while after scikit-learn's calls, and
        # interleaving would make them compete with fastgmm's pool
        time.sleep(0.3)  # let BLAS threads from the check go idle
        for _ in range(n_iter):
            t = time.perf_counter()
            fg_iter()
            t_fg.append(time.perf_counter() - t)
        for _ in range(n_iter):
            t = time.perf_counter()
            sk_iter()
            t_sk.append(time.perf_counter() - t)
        peak_fg = _peak_added_mb(fg_iter)
        peak_sk = _peak_added_mb(sk_iter)
    fg_ms = 1e3 * float(np.median(t_fg))
    sk_ms = 1e3 * float(np.median(t_sk))
    flops = {
        "full": 2.0 * n * c * d * (d + 1),
        "tied": 2.0 * n * (d * (d + 1) + c * d),
        "diag": 2.0 * n * c * 3 * d,
        "spherical": 2.0 * n * c * 3 * d,
    }[covariance_type]
    return Result(
        n, d, c, covariance_type, np.dtype(dtype).name, threads, fg_ms, sk_ms, sk_ms / fg_ms,
        flops / (fg_ms / 1e3) / 1e9, float("nan"), peak_fg, peak_sk, float(rel),
    )


def parse_shapes(text: str) -> list[tuple[int, int, int, str]]:
    """``"1e6,8,8;2e5,32,16,diag"`` -> [(1000000, 8, 8, 'full'), (200000, 32, 16, 'diag')]."""
    shapes = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        fields = [f.strip() for f in part.split(",")]
        if len(fields) not in (3, 4):
            raise ValueError(f"--shapes: each shape is N,d,C[,covariance], got {part!r}")
        try:
            n, d, c = int(float(fields[0])), int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(f"--shapes: N, d and C must be numbers, got {part!r}") from None
        ct = fields[3] if len(fields) == 4 else "full"
        if ct not in ("full", "tied", "diag", "spherical"):
            raise ValueError(f"--shapes: unknown covariance type {ct!r}")
        if n < 1 or d < 1 or c < 1 or c > n:
            raise ValueError(f"--shapes: need N >= C >= 1 and d >= 1, got {part!r}")
        shapes.append((n, d, c, ct))
    if not shapes:
        raise ValueError("--shapes: no shape given")
    return shapes


def to_markdown(results: list[Result], info: dict) -> str:
    lines = [
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores), "
        f"numba {info['numba']}, numpy {info['numpy']}, scikit-learn {info['scikit-learn']}, "
        f"BLAS {', '.join(b['internal_api'] + ' ' + str(b['version']) + ' ' + str(b['architecture']) for b in info['blas']) or 'unknown'}.",
        "",
        "| N | d | C | covariance | dtype | threads | fastgmm ms/iter | sklearn ms/iter | speed-up | GFLOP/s | DGEMM GFLOP/s | peak MB fastgmm | peak MB sklearn | loglik rel. diff |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.n:,} | {r.d} | {r.c} | {r.covariance_type} | {r.dtype} | {r.threads} | "
            f"{r.fastgmm_ms:.1f} | {r.sklearn_ms:.1f} | {r.ratio:.1f}x | {r.gflops:.1f} | "
            f"{r.dgemm_gflops:.1f} | {r.fastgmm_peak_mb:.1f} | {r.sklearn_peak_mb:.1f} | {r.loglik_rel_diff:.1e} |"
        )
    for wmsg in info.get("warnings", []):
        lines.append("")
        lines.append(f"Warning: {wmsg}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``fastgmm bench``'s options on ``parser``."""
    parser.add_argument("--quick", action="store_true", help="small shapes, about 20 seconds")
    parser.add_argument(
        "--shapes", metavar="N,d,C[,cov];...", help="shapes to run, e.g. '1e6,8,8;2e5,32,16,diag'"
    )
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--model", choices=["gmm", "bayesian"], default="gmm",
        help="GaussianMixture's EM iteration (default) or BayesianGaussianMixture's variational one",
    )
    parser.add_argument("--threads", default=None, help="comma-separated thread counts, e.g. 1,4,16 (default: all cores)")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations per shape (median is reported)")
    parser.add_argument("--json", metavar="FILE", help="write results and machine description as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by parsed ``args``; returns the exit status."""
    from ._parallel import _default_threads

    shapes = parse_shapes(args.shapes) if args.shapes else (QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    if args.threads:
        try:
            threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
        except ValueError:
            raise ValueError(f"--threads must be comma-separated integers, got {args.threads!r}") from None
        if not threads or min(threads) < 1:
            raise ValueError(f"--threads must be positive integers, got {args.threads!r}")
    else:
        threads = [_default_threads()]
    n_iter = args.iters or (3 if args.quick else 5)
    if n_iter < 1:
        raise ValueError(f"--iters must be >= 1, got {n_iter}")
    dtype = np.float64 if args.dtype == "float64" else np.float32
    info = machine_info(threads)
    for wmsg in info["warnings"]:
        print(f"warning: {wmsg}", file=sys.stderr)
    dgemm = {t: dgemm_gflops(t) for t in threads}
    jobs = [(s, t) for s in shapes for t in threads]
    try:
        from tqdm import tqdm

        bar = tqdm(jobs, desc="fastgmm bench", unit="shape", disable=not sys.stderr.isatty(), file=sys.stderr)
    except ImportError:
        bar = jobs
    results = []
    for (n, d, c, ct), t in bar:
        r = bench_shape(n, d, c, ct, dtype, t, n_iter=n_iter, model=args.model)
        r.dgemm_gflops = dgemm[t]
        results.append(r)
        if not args.markdown:
            print(
                f"N={n:>9,} d={d:>3} C={c:>3} {ct:<9} threads={t:<2} fastgmm {r.fastgmm_ms:9.1f} ms  "
                f"sklearn {r.sklearn_ms:9.1f} ms  x{r.ratio:6.1f}  {r.gflops:6.1f} GFLOP/s "
                f"(DGEMM {r.dgemm_gflops:.1f})  peak MB {r.fastgmm_peak_mb:.0f} vs {r.sklearn_peak_mb:.0f}  "
                f"dLL {r.loglik_rel_diff:.1e}",
                flush=True,
            )
    if args.markdown:
        print(to_markdown(results, info))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "results": [asdict(r) for r in results]}, fh, indent=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastgmm bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
