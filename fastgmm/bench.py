"""``fastgmm bench``: fastgmm against its peers, per EM iteration, same start.

For each shape the runner times EM iterations from the same parameters:
fastgmm (factorize + fused pass + M-step) in this process, and each peer in
a process of its own, so that one library's thread pool never competes with
another's:

- ``sklearn``: scikit-learn's ``_e_step`` + ``_m_step``; with ``--model
  bayesian`` the variational iteration of ``BayesianGaussianMixture`` from
  the same random start, its bound included.
- ``onedal``: Intel oneDAL's ``em_gmm`` (``daal4py``, from the optional
  ``pip install scikit-learn-intelex``) with one iteration, for the full and
  diagonal covariances it supports.

It reports the median ms per iteration, each peer's ratio, GFLOP/s
(``2 N C d (d+1)`` flops per full-covariance iteration), the DGEMM rate of
this machine measured just before each shape, the peak resident memory each library
adds, and the relative difference of each peer's log-likelihood (or bound)
after that iteration from fastgmm's (which must agree: the runner fails
loudly otherwise).

For a fair comparison run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
unset in that command (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE fastgmm bench``):
they can force an old, slow OpenBLAS kernel on numpy. The runner says which
kernel numpy's BLAS uses.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

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


PEERS = ("sklearn", "onedal")
_PEER_TYPES = {"sklearn": ("full", "tied", "diag", "spherical"), "onedal": ("full", "diag")}


@dataclass
class PeerTiming:
    """One peer at one shape: median ms per iteration, its ratio to fastgmm's
    (``ms / fastgmm_ms``), the peak memory it added and the relative difference
    of its log-likelihood (or bound) from fastgmm's. NaN where it was not run."""

    ms: float = float("nan")
    ratio: float = float("nan")
    peak_mb: float = float("nan")
    loglik_rel_diff: float = float("nan")


@dataclass
class Result:
    n: int
    d: int
    c: int
    covariance_type: str
    dtype: str
    threads: int
    fastgmm_ms: float
    gflops: float
    dgemm_gflops: float
    fastgmm_peak_mb: float
    peers: dict[str, PeerTiming] = field(default_factory=dict)

    def _peer(self, name: str) -> PeerTiming:
        return self.peers.get(name, PeerTiming())


def machine_info(threads: list[int] | None = None, peers: tuple[str, ...] = ()) -> dict:
    """CPU, cores, library versions (the peers' too), the CPU LLVM compiles
    for, BLAS kernel (threadpoolctl) and warnings."""
    import llvmlite.binding as llvm
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
        "scikit-learn-intelex": _version("scikit-learn-intelex") if "onedal" in peers else None,
        "daal": _version("daal") if "onedal" in peers else None,
        "llvm_host_cpu": llvm.get_host_cpu_name(),
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


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _threading_layer() -> str:
    """The layer Numba's parallel kernels ran on in this process."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        return "not started"


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


def _fastgmm_iter(X, w0, m0, cov0, covariance_type, reg):
    """One fastgmm EM iteration from the shared start; returns the log-likelihood sum."""
    from .params import GMMParams, factorize
    from .stats import em_stats, m_step

    eps = float(np.finfo(X.dtype).eps)
    p0 = GMMParams(w0, m0, cov0, covariance_type)

    def it():
        st = em_stats(X, None, factorize(p0))
        m_step(st, covariance_type, reg, eps)
        return st.ll

    return it


def _sklearn_iter(X, w0, m0, cov0, covariance_type, reg):
    """One scikit-learn EM iteration (``_e_step`` + ``_m_step``) from the shared start."""
    from sklearn.mixture import GaussianMixture as SkGMM
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    sk = SkGMM(len(w0), covariance_type=covariance_type, reg_covar=reg)

    def it():
        sk.weights_ = w0.astype(X.dtype)
        sk.means_ = m0.astype(X.dtype)
        sk.covariances_ = cov0.astype(X.dtype)
        sk.precisions_cholesky_ = _compute_precision_cholesky(sk.covariances_, covariance_type)
        ll, log_resp = sk._e_step(X)
        sk._m_step(X, log_resp)
        return ll * X.shape[0]

    return it


def _onedal_iter(X, w0, m0, cov0, covariance_type, reg):
    """One iteration of oneDAL's ``em_gmm`` from the shared start; its goal
    function is the log-likelihood sum at the start, as fastgmm's pass gives."""
    import daal4py as d4p

    c = len(w0)
    full = covariance_type == "full"
    fp = "double" if X.dtype == np.float64 else "float"
    alg = d4p.em_gmm(
        nComponents=c, maxIterations=1, accuracyThreshold=0.0, fptype=fp,
        covarianceStorage="full" if full else "diagonal",
    )
    weights = np.ascontiguousarray(w0[None, :], dtype=X.dtype)
    means = np.ascontiguousarray(m0, dtype=X.dtype)
    covs = [np.ascontiguousarray(cov0[k] if full else cov0[k][None, :], dtype=X.dtype) for k in range(c)]

    def it():
        return float(alg.compute(X, weights, means, covs).goalFunction[0, 0])

    return it


def _bayesian_fastgmm_iter(X, c, covariance_type, reg):
    """One fastgmm variational iteration (E-step, M-step, bound) from the
    'random' initialisation with random_state 0; returns the bound."""
    from . import variational
    from .sources import ArrayData
    from .stats import gaussian_parameters

    data = ArrayData(X)
    priors = variational.default_priors("dirichlet_process", covariance_type, c, data.moments, data.n, X.dtype)
    state0 = variational.initial_state(data, c, covariance_type, "random", reg, priors, np.random.RandomState(0))

    def it():
        st = data.stats(state0.factors, entropy=True)
        nk, xk, sk_ = gaussian_parameters(st, covariance_type, reg, data.eps)
        return variational.lower_bound(variational.update(nk, xk, sk_, priors, covariance_type), st.entropy, priors)

    return it


def _bayesian_sklearn_iter(X, c, covariance_type, reg):
    """scikit-learn's variational iteration from the same start as
    :func:`_bayesian_fastgmm_iter`; returns the bound."""
    from sklearn.mixture import BayesianGaussianMixture as SkBGMM

    sk = SkBGMM(n_components=c, covariance_type=covariance_type, reg_covar=reg, init_params="random")
    sk._check_parameters(X)
    sk._initialize_parameters(X, np.random.RandomState(0))
    sk0 = sk._get_parameters()

    def it():
        sk._set_parameters(sk0)
        ll, log_resp = sk._e_step(X)
        sk._m_step(X, log_resp)
        return float(np.ravel(sk._compute_lower_bound(log_resp, ll))[0])

    return it


_GMM_ITERS = {"fastgmm": _fastgmm_iter, "sklearn": _sklearn_iter, "onedal": _onedal_iter}
_BAYES_ITERS = {"fastgmm": _bayesian_fastgmm_iter, "sklearn": _bayesian_sklearn_iter}
_REG = 1e-6
#: seconds of untimed iterations before the timed ones
WARMUP_S = 0.2


def _thread_limit(library: str, threads: int):
    """A context limiting ``library``'s threads (fastgmm's kernels and BLAS, or oneDAL's)."""
    from contextlib import ExitStack

    stack = ExitStack()
    if library == "fastgmm":
        from ._parallel import num_threads

        stack.enter_context(num_threads(threads))
    elif library == "onedal":
        import daal4py as d4p

        d4p.daalinit(threads)
    stack.enter_context(_blas_limit(threads))
    return stack


def time_library(library, n, d, c, covariance_type, dtype, threads, n_iter=5, model="gmm") -> dict:
    """Time ``library`` ('fastgmm' or a name in :data:`PEERS`) at one shape in
    this process: warm-up iterations for :data:`WARMUP_S` seconds, then ``n_iter`` timed ones, then one
    measuring peak memory. Returns ``{"ms", "ll", "peak_mb"}`` (median ms,
    log-likelihood or bound of the iteration)."""
    with _thread_limit(library, threads):
        X, w0, m0, cov = make_data(n, d, c, dtype)  # BLAS inside the limit: no idle pool spinning on spare cores
        if model == "bayesian":
            it = _BAYES_ITERS[library](X, c, covariance_type, _REG)
        else:
            it = _GMM_ITERS[library](X, w0, m0, _init_covariances(cov, c, covariance_type), covariance_type, _REG)
        ll = it()  # also the warm-up
        t_end = time.perf_counter() + WARMUP_S
        while time.perf_counter() < t_end:  # past the clocks' ramp and any other pool's spin-wait
            it()
        times = []
        for _ in range(n_iter):
            t = time.perf_counter()
            it()
            times.append(time.perf_counter() - t)
        peak = _peak_added_mb(it)
    return {"ms": 1e3 * float(np.median(times)), "ll": float(ll), "peak_mb": peak}


def _time_in_subprocess(peer, n, d, c, covariance_type, dtype, threads, n_iter, model) -> dict:
    """:func:`time_library` for ``peer`` in a fresh Python process (its own thread pools)."""
    cmd = [
        sys.executable, "-m", "fastgmm.bench", "--worker", peer,
        "--shapes", f"{n},{d},{c},{covariance_type}", "--dtype", np.dtype(dtype).name,
        "--threads", str(threads), "--iters", str(n_iter), "--model", model,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-1:]) or f"exit status {proc.returncode}"
        raise RuntimeError(f"the {peer} peer failed at {(n, d, c, covariance_type)}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peer_supports(peer: str, covariance_type: str, model: str = "gmm") -> bool:
    """Whether ``peer`` has an iteration for this covariance type and model."""
    if model == "bayesian":
        return peer == "sklearn"
    return covariance_type in _PEER_TYPES[peer]


def bench_shape(n, d, c, covariance_type, dtype, threads, n_iter=5, model="gmm", peers=("sklearn",)) -> Result:
    """Time one shape: fastgmm here, each of ``peers`` in its own process, each
    for ``n_iter`` iterations from the same start. Raises RuntimeError when a
    peer's log-likelihood (``model='gmm'``) or variational bound
    (``'bayesian'``) after that iteration disagrees with fastgmm's."""
    fg = time_library("fastgmm", n, d, c, covariance_type, dtype, threads, n_iter, model)
    tol = 1e-8 if np.dtype(dtype) == np.float64 else 1e-3
    timings = {}
    for peer in peers:
        if not peer_supports(peer, covariance_type, model):
            timings[peer] = PeerTiming()
            continue
        time.sleep(0.3)  # let the threads of the last process go idle
        r = _time_in_subprocess(peer, n, d, c, covariance_type, dtype, threads, n_iter, model)
        rel = abs(fg["ll"] - r["ll"]) / abs(r["ll"])
        if not rel < tol:
            raise RuntimeError(
                f"fastgmm and {peer} disagree at {(n, d, c, covariance_type)}: "
                f"{fg['ll']!r} vs {r['ll']!r} (relative {rel:.2e} > {tol:g})"
            )
        timings[peer] = PeerTiming(r["ms"], r["ms"] / fg["ms"], r["peak_mb"], float(rel))
    flops = {
        "full": 2.0 * n * c * d * (d + 1),
        "tied": 2.0 * n * (d * (d + 1) + c * d),
        "diag": 2.0 * n * c * 3 * d,
        "spherical": 2.0 * n * c * 3 * d,
    }[covariance_type]
    return Result(
        n, d, c, covariance_type, np.dtype(dtype).name, threads, fg["ms"],
        flops / (fg["ms"] / 1e3) / 1e9, float("nan"), fg["peak_mb"], timings,
    )


def parse_peers(text: str, model: str = "gmm") -> tuple[str, ...]:
    """``"sklearn,onedal"`` -> ('sklearn', 'onedal'); checks each can run here."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    for p in names:
        if p not in PEERS:
            raise ValueError(f"--peers: unknown peer {p!r}; choose from {', '.join(PEERS)}")
    if model == "bayesian" and "onedal" in names:
        raise ValueError("--peers: onedal has no variational Bayesian mixture; use --peers sklearn")
    if "onedal" in names and importlib.util.find_spec("daal4py") is None:
        raise ValueError("--peers: onedal needs daal4py: pip install scikit-learn-intelex")
    return names


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


def _peer_names(results: list[Result]) -> list[str]:
    return list(dict.fromkeys(p for r in results for p in r.peers))


def _fmt(x: float, spec: str, suffix: str = "") -> str:
    return "n/a" if x != x else f"{x:{spec}}{suffix}"


def to_markdown(results: list[Result], info: dict) -> str:
    """The results as a Markdown table under one line naming the machine."""
    peers = _peer_names(results)
    libs = ("numba", "numpy", "scikit-learn", "scikit-learn-intelex", "daal")
    versions = ", ".join(f"{k} {info[k]}" for k in libs if info.get(k))
    blas = ", ".join(
        b["internal_api"] + " " + str(b["version"]) + " " + str(b["architecture"]) for b in info["blas"]
    ) or "unknown"
    head = ["N", "d", "C", "covariance", "dtype", "threads", "fastgmm ms/iter"]
    head += [h for p in peers for h in (f"{p} ms/iter", f"vs {p}")]
    head += ["GFLOP/s", "DGEMM GFLOP/s", "peak MB fastgmm"] + [f"peak MB {p}" for p in peers]
    head += [f"loglik rel. diff {p}" for p in peers]
    lines = [
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores), {versions}, BLAS {blas}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if h in ("covariance", "dtype") else "---:" for h in head) + "|",
    ]
    for r in results:
        t = [r._peer(p) for p in peers]
        row = [f"{r.n:,}", str(r.d), str(r.c), r.covariance_type, r.dtype, str(r.threads), f"{r.fastgmm_ms:.1f}"]
        row += [s for pt in t for s in (_fmt(pt.ms, ".1f"), _fmt(pt.ratio, ".1f", "x"))]
        row += [f"{r.gflops:.1f}", f"{r.dgemm_gflops:.1f}", f"{r.fastgmm_peak_mb:.1f}"]
        row += [_fmt(pt.peak_mb, ".1f") for pt in t] + [_fmt(pt.loglik_rel_diff, ".1e") for pt in t]
        lines.append("| " + " | ".join(row) + " |")
    for wmsg in info.get("warnings", []):
        lines.append("")
        lines.append(f"Warning: {wmsg}")
    return "\n".join(lines)


def _line(r: Result) -> str:
    """One result as a line of plain text."""
    s = (
        f"N={r.n:>9,} d={r.d:>3} C={r.c:>3} {r.covariance_type:<9} threads={r.threads:<2} "
        f"fastgmm {r.fastgmm_ms:9.1f} ms"
    )
    for p, pt in r.peers.items():
        s += f"  {p} {_fmt(pt.ms, '9.1f')} ms x{_fmt(pt.ratio, '6.1f')}"
    s += f"  {r.gflops:6.1f} GFLOP/s (DGEMM {r.dgemm_gflops:.1f})  peak MB {r.fastgmm_peak_mb:.0f}"
    for p, pt in r.peers.items():
        s += f"  {p} {_fmt(pt.peak_mb, '.0f')} MB dLL {_fmt(pt.loglik_rel_diff, '.1e')}"
    return s


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
    parser.add_argument(
        "--peers", default="sklearn", metavar="NAME,...",
        help=f"libraries to time against, each in its own process: {', '.join(PEERS)} (default: sklearn; "
        "onedal needs pip install scikit-learn-intelex)",
    )
    parser.add_argument("--threads", default=None, help="comma-separated thread counts, e.g. 1,4,16 (default: all cores)")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations per shape (median is reported)")
    parser.add_argument("--json", metavar="FILE", help="write results and machine description as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--worker", choices=("fastgmm",) + PEERS, help=argparse.SUPPRESS)


def _parse_threads(text: str | None) -> list[int]:
    from ._parallel import _default_threads

    if not text:
        return [_default_threads()]
    try:
        threads = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--threads must be comma-separated integers, got {text!r}") from None
    if not threads or min(threads) < 1:
        raise ValueError(f"--threads must be positive integers, got {text!r}")
    return threads


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by parsed ``args``; returns the exit status."""
    shapes = parse_shapes(args.shapes) if args.shapes else (QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    threads = _parse_threads(args.threads)
    n_iter = args.iters or (3 if args.quick else 5)
    if n_iter < 1:
        raise ValueError(f"--iters must be >= 1, got {n_iter}")
    dtype = np.float64 if args.dtype == "float64" else np.float32
    if args.worker:  # one library, one shape, in this process: JSON on stdout
        (n, d, c, ct), t = shapes[0], threads[0]
        print(json.dumps(time_library(args.worker, n, d, c, ct, dtype, t, n_iter, args.model)))
        return 0
    peers = parse_peers(args.peers, args.model)
    info = machine_info(threads, peers)
    for wmsg in info["warnings"]:
        print(f"warning: {wmsg}", file=sys.stderr)
    jobs = [(s, t) for s in shapes for t in threads]
    try:
        from tqdm import tqdm

        bar = tqdm(jobs, desc="fastgmm bench", unit="shape", disable=not sys.stderr.isatty(), file=sys.stderr)
    except ImportError:
        bar = jobs
    results = []
    for (n, d, c, ct), t in bar:
        # next to fastgmm's timing, which comes first: on a shared host the rate drifts within a run
        dgemm = dgemm_gflops(t)
        r = bench_shape(n, d, c, ct, dtype, t, n_iter=n_iter, model=args.model, peers=peers)
        r.dgemm_gflops = dgemm
        results.append(r)
        if not args.markdown:
            print(_line(r), flush=True)
    info["fastgmm_threading_layer"] = _threading_layer()
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
