"""The ``fastgmm`` command line.

::

    fastgmm demo [--plot FILE]
    fastgmm fit DATA -k K [--covariance TYPE] [--n-init N] [--seed S]
                [--save MODEL.npz] [--plot FILE] [--labels OUT.csv|OUT.npy]
    fastgmm select DATA [-k 1..10] [--covariance all] [--criterion bic|aic|icl]
                [--save BEST.npz] [--table OUT.csv] [--plot FILE]
    fastgmm predict MODEL.npz DATA [--proba] -o OUT.csv|OUT.npy
    fastgmm bench [...]              (options of fastgmm.bench)

DATA is ``.npy`` (memory-mapped, so big files stream), ``.csv`` (a header row
is detected) or ``.parquet`` (needs pyarrow). Every subcommand has ``--help``
with an example. Errors print one line to stderr and exit with status 2
(usage) or 1 (failure), never a traceback (``FASTGMM_DEBUG=1`` re-raises).
Progress bars (tqdm) show on a terminal only.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np

EXIT_FAILURE = 1
EXIT_USAGE = 2

#: rows per block when predicting, so big inputs and outputs stream
PREDICT_CHUNK = 1 << 18

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class CLIError(Exception):
    """An error reported to the user as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------ data files
def _csv_layout(path: str) -> tuple[str | None, int, list[str] | None]:
    """Delimiter, lines to skip (comments, blanks, header) and header names."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for i, line in enumerate(fh):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            delim = next((c for c in (",", "\t", ";") if c in text), None)
            fields = [f.strip().strip('"').strip("'") for f in (text.split(delim) if delim else text.split())]
            try:
                [float(f) for f in fields]
            except ValueError:
                return delim, i + 1, fields  # a header row
            return delim, i, None
    raise CLIError(f"{path}: no data rows")


def load_data(path: str, missing: bool = False) -> np.ndarray:
    """Read a data file into a 2-D array (not yet validated).

    Parameters
    ----------
    path : str
        ``.npy`` (opened with ``mmap_mode='r'``), ``.csv`` / ``.tsv`` / ``.txt``
        (comma, tab, semicolon or whitespace separated; a header row is
        detected and skipped) or ``.parquet`` (needs pyarrow; numeric columns).
    missing : bool, default=False
        Read empty CSV fields (and ``nan``) as missing values (NaN).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        One feature when the file holds a 1-D array.
    """
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            X = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise CLIError(f"{path}: not a readable .npy array ({exc})") from None
        if not isinstance(X, np.ndarray) or X.dtype.kind not in "biuf":
            raise CLIError(f"{path}: expected a numeric array, got dtype {getattr(X, 'dtype', type(X))}")
    elif ext in (".csv", ".tsv", ".txt"):
        delim, skip, _ = _csv_layout(path)
        try:
            if missing:  # empty fields become NaN
                X = np.genfromtxt(path, delimiter=delim, skip_header=skip, dtype=np.float64, comments="#",
                                  encoding="utf-8-sig", invalid_raise=True, ndmin=2)
            else:
                X = np.loadtxt(path, delimiter=delim, skiprows=skip, ndmin=2, dtype=np.float64,
                               comments="#", quotechar='"', encoding="utf-8-sig")
        except ValueError as exc:
            raise CLIError(f"{path}: {exc}") from None
    elif ext in (".parquet", ".pq"):
        X = _load_parquet(path)
    else:
        raise CLIError(f"{path}: unsupported data format {ext or '(no extension)'!r}; use .npy, .csv or .parquet")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise CLIError(f"{path}: expected a 2-D array (samples x features), got shape {X.shape}")
    return X


def _load_parquet(path: str) -> np.ndarray:
    try:
        import pyarrow.parquet as pq
        import pyarrow.types as pat
    except ImportError:
        raise CLIError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow); or use .npy/.csv") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's own error types
        raise CLIError(f"{path}: not a readable parquet file ({exc})") from None
    cols = []
    for name, col in zip(table.column_names, table.columns):
        if not (pat.is_integer(col.type) or pat.is_floating(col.type) or pat.is_boolean(col.type)):
            raise CLIError(f"{path}: column {name!r} is not numeric ({col.type})")
        if col.null_count:
            raise CLIError(f"{path}: column {name!r} has {col.null_count} missing value(s)")
        cols.append(col.to_numpy())
    if not cols:
        raise CLIError(f"{path}: no columns")
    return np.column_stack(cols)


def _validated(path: str, missing: bool = False) -> np.ndarray:
    """Load and validate once: 2-D, finite (NaN allowed with ``missing``),
    C-contiguous float32/float64."""
    from ._validation import check_X

    X = load_data(path, missing)
    try:
        if missing:
            from sklearn.utils import check_array

            from .missing import check_rows_observed

            X = check_array(X, dtype=[np.float64, np.float32], order="C", ensure_all_finite="allow-nan")
            check_rows_observed(np.isnan(X))
            return X
        return check_X(X, min_samples=1)
    except ValueError as exc:
        raise CLIError(f"{path}: {exc}") from None


def _output_kind(path: str) -> str:
    if path == "-":
        return "csv"
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npy", ".csv"):
        raise CLIError(f"{path}: output must end in .npy or .csv, got {ext or '(no extension)'!r}")
    return ext[1:]


class _Writer:
    """Write an (n,) or (n, m) array block by block to .npy, .csv or stdout."""

    def __init__(self, path: str, shape: tuple, dtype, columns: list[str], fmt: str):
        self.kind = _output_kind(path)
        self.path, self.fmt, self.pos = path, fmt, 0
        if self.kind == "npy":
            self.out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        else:
            self.fh = sys.stdout if path == "-" else open(path, "w", newline="")
            self.fh.write(",".join(columns) + "\n")

    def write(self, block: np.ndarray) -> None:
        if self.kind == "npy":
            self.out[self.pos : self.pos + len(block)] = block
        else:
            np.savetxt(self.fh, block.reshape(len(block), -1), fmt=self.fmt, delimiter=",")
        self.pos += len(block)

    def close(self) -> None:
        if self.kind == "npy":
            self.out.flush()
            del self.out
        elif self.fh is not sys.stdout:
            self.fh.close()


def _pyplot():
    """pyplot on the Agg backend plus fastgmm.plotting, or a one-line error."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from . import plotting
    except ImportError as exc:
        raise CLIError(f"--plot needs matplotlib: pip install 'fastgmm[plot]' ({exc})") from None
    return plt, plotting


def _save_fit_plot(gm, X, path: str) -> None:
    plt, plotting = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.5, 4.8))
    plotting.plot_clusters(gm, X, ax=a)
    plotting.plot_lower_bound(gm, ax=b)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt_array(a) -> str:
    return np.array2string(np.asarray(a, np.float64), precision=4, suppress_small=True, max_line_width=100)


# -------------------------------------------------------------------- commands
def _demo_data(seed: int = 0):
    """2-D, 3 well-separated clusters, fixed seed: 3,000 points."""
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 6.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]], [[1.5, 0.0], [0.0, 0.4]]])
    counts = [1500, 900, 600]
    X = np.vstack([rng.multivariate_normal(m, c, n) for m, c, n in zip(means, covs, counts)])
    return X[rng.permutation(len(X))]


def cmd_demo(args) -> int:
    from . import GaussianMixture

    X = _demo_data()
    t0 = time.perf_counter()
    gm = GaussianMixture(3, random_state=0).fit(X)
    elapsed = time.perf_counter() - t0
    order = np.argsort(gm.means_[:, 0])
    print(f"fastgmm demo: {X.shape[0]} points in 2-D, 3 components (full covariance)")
    print("weights:", np.array2string(gm.weights_[order], precision=3))
    print("means:")
    for k in order:
        print("  ", np.array2string(gm.means_[k], precision=3))
    print(f"log-likelihood per point: {gm.lower_bound_:.4f} (total {gm.score(X) * X.shape[0]:.2f})")
    print(f"iterations: {gm.n_iter_} (converged: {gm.converged_})")
    print(f"time: {elapsed:.3f} s (fit, initialisation included)")
    if args.plot:
        _save_fit_plot(gm, X, args.plot)
        print(f"plot saved to {args.plot}")
    return 0


def _estimator_params(args) -> dict:
    params = {"max_iter": args.max_iter, "tol": args.tol, "reg_covar": args.reg_covar, "n_threads": args.threads}
    if getattr(args, "missing", "raise") != "raise":
        params["missing"] = args.missing
    if args.init is not None:
        params["init_params"] = args.init
    return params


def _iteration_bar(total: int, desc: str):
    """A tqdm bar over EM iterations on a terminal (None when piped or without tqdm)."""
    if not _tty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return None
    return tqdm(total=total, desc=desc, unit="iter", leave=False, file=sys.stderr, dynamic_ncols=True)


def cmd_fit(args) -> int:
    from . import GaussianMixture
    from .selection import criteria, fit_validated

    if args.labels:
        _output_kind(args.labels)  # fail before the fit, not after
    if args.plot:
        _pyplot()
    marginalize = args.missing == "marginalize"
    X = _validated(args.data, marginalize)
    n, d = X.shape
    n_nan = int(np.isnan(X).sum()) if marginalize else 0
    print(f"{args.data}: {n:,} points, {d} feature(s), {X.dtype}"
          + (f", {n_nan:,} missing value(s) marginalised" if n_nan else ""))
    gm = GaussianMixture(args.k, covariance_type=args.covariance, n_init=args.n_init,
                         random_state=args.seed, **_estimator_params(args))
    t0 = time.perf_counter()
    if args.online:
        _online_fit(gm, X, args.batch_size, args.k)
    else:
        bar = _iteration_bar(args.n_init * args.max_iter, f"fit k={args.k}")
        callback = None
        if bar is not None:
            def callback(run, it, lb):
                bar.update(1)
                bar.set_postfix(run=run, lower_bound=f"{lb:.5f}")
        try:
            fit_validated(gm, X, None, callback)
        finally:
            if bar is not None:
                bar.close()
    elapsed = time.perf_counter() - t0
    labels = np.empty(n, np.int64) if args.labels else None
    c = criteria(gm, X, None, labels_out=labels)
    if args.online:
        print(f"{args.k} component(s), {args.covariance} covariance: one online pass in {gm.n_steps_} "
              f"batches of {args.batch_size:,} rows (seed {args.seed}, {elapsed:.3f} s)")
    else:
        state = "converged" if gm.converged_ else "did NOT converge"
        print(f"{args.k} component(s), {args.covariance} covariance: {state} after {gm.n_iter_} iterations "
              f"(n_init {args.n_init}, seed {args.seed}, {elapsed:.3f} s)")
    print(f"log-likelihood: {c['log_likelihood']:.4f} total, {c['log_likelihood'] / n:.6f} per point")
    print(f"BIC {c['bic']:.4f}   AIC {c['aic']:.4f}   ICL {c['icl']:.4f}")
    order = np.argsort(-np.asarray(gm.weights_))
    print("weights:", _fmt_array(gm.weights_[order]))
    if d <= 10 and args.k <= 20:
        print("means:")
        for k in order:
            print("  ", _fmt_array(gm.means_[k]))
    if args.save:
        gm.save(args.save)
        print(f"model saved to {args.save}")
    if args.labels:
        w = _Writer(args.labels, (n,), np.int64, ["label"], "%d")
        w.write(labels)
        w.close()
        print(f"labels saved to {args.labels}")
    if args.plot:
        _save_fit_plot(gm, X, args.plot)
        print(f"plot saved to {args.plot}")
    return 0


def _online_fit(gm, X, batch_size: int, k: int) -> None:
    """One stepwise-EM pass over X in batches, with a row progress bar on a terminal."""
    from .outofcore import online_pass

    if X.shape[0] < k:
        raise CLIError(f"--online: the first batch initialises the model and needs at least {k} rows")
    bar = None
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm

            bar = tqdm(total=X.shape[0], desc=f"online k={k}", unit="row", unit_scale=True, file=sys.stderr)
        except ImportError:
            pass
    done = [0]

    def progress(rows, total):
        if bar is not None:
            bar.update(rows - done[0])
            done[0] = rows

    try:
        online_pass(gm, X, batch_size=batch_size, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def _parse_components(text: str) -> list[int]:
    """'1..10', '3', '2,4,8' or '1..3,6' -> sorted unique ints >= 1."""
    out: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if ".." in part:
                lo, hi = (int(v) for v in part.split("..", 1))
                if lo > hi:
                    raise ValueError
                out.update(range(lo, hi + 1))
            elif part:
                out.add(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 1..10, 3 or 2,4,8; got {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"numbers of components must be >= 1; got {text!r}")
    return sorted(out)


def _parse_covariances(text: str) -> tuple[str, ...]:
    if text == "all":
        return COVARIANCE_TYPES
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in types if t not in COVARIANCE_TYPES]
    if bad or not types:
        raise argparse.ArgumentTypeError(f"expected 'all' or some of {','.join(COVARIANCE_TYPES)}; got {text!r}")
    return types


def _write_table(result, path: str) -> None:
    t = result.table
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(t.dtype.names) + ["best"])
        for row in t:
            best = (row["covariance_type"], row["n_components"]) == (
                result.best_covariance_type, result.best_n_components)
            w.writerow([v.item() if hasattr(v, "item") else v for v in row.tolist()] + [best])


def cmd_select(args) -> int:
    from .selection import select_model

    if args.table and os.path.splitext(args.table)[1].lower() != ".csv":
        raise CLIError(f"{args.table}: --table writes CSV; give a name ending in .csv")
    if args.plot:
        _pyplot()
    X = _validated(args.data)
    n, d = X.shape
    print(f"{args.data}: {n:,} points, {d} feature(s), {X.dtype}")
    t0 = time.perf_counter()
    result = select_model(
        X, n_components=args.k, covariance_types=args.covariance, criterion=args.criterion,
        n_init=args.n_init, random_state=args.seed, progress=_tty(),
        starts="best" if args.init is None else "estimator", **_estimator_params(args),
    )
    elapsed = time.perf_counter() - t0
    print(result.format_table())
    print(f"best by {args.criterion.upper()}: {result.best_n_components} component(s), "
          f"{result.best_covariance_type} covariance ({args.criterion.upper()} {result.best_score:.4f}); "
          f"{len(result.table)} models in {elapsed:.2f} s")
    if args.save:
        result.best_model.save(args.save)
        print(f"best model saved to {args.save}")
    if args.table:
        _write_table(result, args.table)
        print(f"table saved to {args.table}")
    if args.plot:
        plt, plotting = _pyplot()
        ax = plotting.plot_criterion(result)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=110)
        plt.close(ax.figure)
        print(f"plot saved to {args.plot}")
    return 0


def cmd_predict(args) -> int:
    from .mixture import GaussianMixture
    from .selection import progress_bar

    kind = _output_kind(args.output)
    gm = GaussianMixture.load(args.model)
    X = load_data(args.data)
    n = X.shape[0]
    if X.ndim == 2 and X.shape[1] != gm.n_features_in_:
        raise CLIError(f"{args.data} has {X.shape[1]} feature(s), but the model expects {gm.n_features_in_}")
    C = gm.n_components
    if args.proba:
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        w = _Writer(args.output, (n, C), dtype, [f"p{k}" for k in range(C)], "%.8g")
    else:
        w = _Writer(args.output, (n,), np.int64, ["label"], "%d")
    try:
        starts = range(0, n, PREDICT_CHUNK)
        bar = progress_bar(starts, total=len(starts), desc="predict", enabled=_tty() and len(starts) > 1)
        for lo in bar:
            block = X[lo : lo + PREDICT_CHUNK]
            w.write(gm.predict_proba(block) if args.proba else gm.predict(block))
    except BaseException:
        w.close()
        if args.output != "-" and os.path.exists(args.output):
            os.unlink(args.output)  # no partial output
        raise
    w.close()
    if kind == "npy" or args.output != "-":
        what = "probabilities" if args.proba else "labels"
        print(f"{what} of {n:,} points ({C} components) saved to {args.output}", file=sys.stderr)
    return 0


def cmd_bench(args, extra: list[str]) -> int:
    """Run ``fastgmm.bench`` (imported only now) with the remaining arguments."""
    try:
        from . import bench
    except ModuleNotFoundError as exc:
        if exc.name in ("fastgmm.bench", f"{__package__}.bench"):
            raise CLIError("the benchmark runner (fastgmm.bench) is not part of this installation") from None
        raise CLIError(f"fastgmm bench needs {exc.name}: pip install 'fastgmm[bench]'") from None
    parser = _Parser(
        prog="fastgmm bench",
        description=(
            "Time fastgmm against its peers per EM iteration, from the same start "
            "(each peer in a process of its own)."
        ),
        epilog="Example: fastgmm bench --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_arguments(parser)
    return int(bench.run(parser.parse_args(extra)) or 0)


# ---------------------------------------------------------------------- parser
def _add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-init", type=_positive_int, default=1, metavar="N",
                   help="initialisations per model, best kept (default 1)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--max-iter", type=int, default=100, metavar="N",
                   help="EM iterations per initialisation (default 100)")
    p.add_argument("--tol", type=float, default=1e-3,
                   help="convergence threshold on the mean log-likelihood (default 1e-3)")
    p.add_argument("--reg-covar", type=float, default=1e-6, metavar="R",
                   help="added to covariance diagonals (default 1e-6)")
    p.add_argument("--init", default=None, choices=("kmeans", "k-means++", "random", "random_from_data", "hc"),
                   help="initialisation (fit: default kmeans; select: default the best of the hc, "
                        "random_from_data, k-means++ and kmeans starts per model)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="kernel threads (default: all cores)")


DATA_HELP = "data file: .npy (memory-mapped), .csv (header detected) or .parquet (needs pyarrow)"


def build_parser() -> argparse.ArgumentParser:
    """The ``fastgmm`` argument parser with every subcommand."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="fastgmm",
        description="Gaussian mixture models fitted by EM, fast.",
        epilog="Examples:\n  fastgmm demo --plot demo.png\n  fastgmm fit data.csv -k 3 --save model.npz\n"
               "  fastgmm select data.npy -k 1..10 --plot bic.png\n"
               "  fastgmm predict model.npz data.csv -o labels.csv\n"
               "Run 'fastgmm COMMAND --help' for the options of a command.",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "demo", help="fit a generated 2-D, 3-cluster mixture and print the result", formatter_class=fmt,
        description="Fit a generated 2-D mixture of 3 clusters (fixed seed, no download).",
        epilog="Example:\n  fastgmm demo --plot demo.png",
    )
    p.add_argument("--plot", metavar="FILE.png", help="save a picture of the fit (needs matplotlib)")
    p.set_defaults(func=cmd_demo, parser=p)

    p = sub.add_parser(
        "fit", help="fit one mixture to a data file", formatter_class=fmt,
        description="Fit a Gaussian mixture to DATA; print the weights, means, log-likelihood, BIC, AIC and ICL.",
        epilog="Example:\n  fastgmm fit data.csv -k 3 --covariance full --n-init 3 --seed 0 \\\n"
               "      --save model.npz --labels labels.csv --plot fit.png",
    )
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("-k", "--n-components", dest="k", type=_positive_int, required=True, metavar="K",
                   help="number of components")
    p.add_argument("--covariance", default="full", choices=COVARIANCE_TYPES, help="covariance type (default full)")
    _add_fit_options(p)
    p.add_argument("--save", metavar="MODEL.npz", help="write the fitted model (read it with 'fastgmm predict')")
    p.add_argument("--labels", metavar="OUT", help="write the most probable component of each row (.csv or .npy)")
    p.add_argument("--plot", metavar="FILE.png", help="save the clusters and the lower bound per iteration")
    p.add_argument("--missing", choices=("raise", "marginalize"), default="raise",
                   help="NaN and empty CSV fields: an error (default) or missing values that exact EM "
                        "marginalises")
    p.add_argument("--online", action="store_true",
                   help="one stepwise-EM pass in row batches (partial_fit) instead of EM to convergence")
    p.add_argument("--batch-size", type=_positive_int, default=10_000, metavar="N",
                   help="rows per batch with --online (default 10000)")
    p.set_defaults(func=cmd_fit, parser=p)

    p = sub.add_parser(
        "select", help="fit a grid of models and pick one by BIC, AIC or ICL", formatter_class=fmt,
        description="Fit every (covariance type, number of components) model on DATA and print a table "
                    "of BIC, AIC and ICL (lower is better); the best model by --criterion is marked.",
        epilog="Example:\n  fastgmm select data.npy -k 1..10 --covariance all --criterion bic \\\n"
               "      --save best.npz --table table.csv --plot bic.png",
    )
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("-k", "--n-components", dest="k", type=_parse_components, default=list(range(1, 11)),
                   metavar="RANGE", help="numbers of components: 1..10 (default), 3, 2,4,8 or 1..3,6")
    p.add_argument("--covariance", type=_parse_covariances, default=COVARIANCE_TYPES, metavar="TYPES",
                   help="'all' (default) or a comma list of full,tied,diag,spherical")
    p.add_argument("--criterion", default="bic", choices=("bic", "aic", "icl"), help="what to minimise (default bic)")
    _add_fit_options(p)
    p.add_argument("--save", metavar="BEST.npz", help="write the best model")
    p.add_argument("--table", metavar="OUT.csv", help="write the table of criteria as CSV")
    p.add_argument("--plot", metavar="FILE.png", help="save the criterion against the number of components")
    p.set_defaults(func=cmd_select, parser=p)

    p = sub.add_parser(
        "predict", help="label data (or give probabilities) with a saved model", formatter_class=fmt,
        description="Most probable component of each row of DATA (or, with --proba, the probability of "
                    "each component) under a model saved by 'fastgmm fit --save'. Works block by block, "
                    "so .npy input and output stream.",
        epilog="Example:\n  fastgmm predict model.npz data.npy --proba -o proba.npy",
    )
    p.add_argument("model", metavar="MODEL.npz", help="a model written by 'fastgmm fit --save' or GaussianMixture.save")
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("--proba", action="store_true", help="write probabilities (n x k) instead of labels")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output .csv or .npy ('-' for CSV on stdout)")
    p.set_defaults(func=cmd_predict, parser=p)

    p = sub.add_parser(
        "bench", help="time fastgmm against scikit-learn (options: fastgmm bench --help)",
        description="Time fastgmm against scikit-learn.", add_help=False,
    )
    p.set_defaults(func=cmd_bench, wants_extra=True)
    return parser


def _one_line_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastgmm {command}: warning: {message}", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the ``fastgmm`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 on failure, 2 on a usage error (argparse exits directly).
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "wants_extra", False):
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    debug = os.environ.get("FASTGMM_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning(args.command)
        try:
            if getattr(args, "wants_extra", False):
                return cmd_bench(args, extra)
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            if debug:
                raise
            msg = " ".join(str(exc).split()) or type(exc).__name__
            if not isinstance(exc, (CLIError, ValueError, OSError, MemoryError)):
                msg = f"{type(exc).__name__}: {msg} (set FASTGMM_DEBUG=1 for a traceback)"
            print(f"fastgmm {args.command}: error: {msg}", file=sys.stderr)
            return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
