"""Regenerate the README's pictures under docs/ (deterministic, no download).

Run from the project root::

    python docs/make_figures.py

It writes docs/clusters.png (2-D fit, ellipses at 1 and 2 standard deviations),
docs/clusters_projected.png (the 4-D iris data on its first two principal axes),
docs/lower_bound.png (the lower bound per EM iteration) and docs/selection_bic.png
(BIC against the number of components, one line per covariance type).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

from fastgmm import GaussianMixture, select_model  # noqa: E402
from fastgmm.cli import _demo_data  # noqa: E402  (the data of `fastgmm demo`)
from fastgmm.plotting import plot_clusters, plot_criterion, plot_lower_bound  # noqa: E402

DOCS = Path(__file__).resolve().parent


def save(ax, name: str) -> None:
    fig = ax.figure
    fig.tight_layout()
    path = DOCS / name
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path.relative_to(DOCS.parent)}")


def main() -> int:
    X = _demo_data()  # 3,000 points in 2-D, 3 clusters
    gm = GaussianMixture(3, random_state=0).fit(X)
    save(plot_clusters(gm, X), "clusters.png")

    iris = load_iris()
    gm4 = GaussianMixture(3, random_state=0).fit(iris.data)
    save(plot_clusters(gm4, iris.data), "clusters_projected.png")

    slow = GaussianMixture(3, init_params="random", tol=1e-5, random_state=0).fit(X)
    save(plot_lower_bound(slow), "lower_bound.png")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few large models re-seed collapsed components
        result = select_model(X, n_components=range(1, 9), random_state=0)
    save(plot_criterion(result), "selection_bic.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
