"""The ``fastgmm`` command line.

Subcommands are registered in :func:`build_parser`; each has ``--help`` with an
example. Errors print one line to stderr and exit with status 2 (usage) or 1
(failure), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

EXIT_FAILURE = 1


class CLIError(Exception):
    """An error reported to the user as one line."""


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
        try:
            import matplotlib

            matplotlib.use("Agg")
            from .plotting import plot_clusters
        except ImportError as exc:  # matplotlib missing
            raise CLIError(
                "--plot needs matplotlib: pip install 'fastgmm[plot]'"
                f" ({exc})"
            ) from None
        fig = plot_clusters(gm, X).figure
        fig.savefig(args.plot, dpi=110)
        print(f"plot saved to {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastgmm",
        description="Gaussian mixture models fitted by EM, fast.",
        epilog="Example: fastgmm demo --plot demo.png",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser(
        "demo",
        help="fit a generated 2-D, 3-cluster mixture and print the result",
        description="Fit a generated 2-D mixture of 3 clusters (fixed seed, no download).",
        epilog="Example: fastgmm demo --plot demo.png",
    )
    p.add_argument("--plot", metavar="FILE.png", help="save a picture of the fit (needs matplotlib)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"fastgmm {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, OSError) as exc:
        print(f"fastgmm {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
