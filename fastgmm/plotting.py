"""Matplotlib figures (the ``plot`` extra: ``pip install 'fastgmm[plot]'``).

Every function draws on the Axes it is given (or on a new figure's Axes),
returns that Axes and never calls ``plt.show()``; save with
``ax.figure.savefig(...)``.

- :func:`plot_clusters`: the points coloured by their most probable component,
  with covariance ellipses (in 2-D, or projected on the data's first two
  principal axes when there are more features; a histogram with the component
  densities for one feature);
- :func:`plot_lower_bound`: the lower bound per EM iteration;
- :func:`plot_criterion`: a model-selection criterion against the number of
  components, one line per covariance type, the best model marked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.patches import Ellipse
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("fastgmm.plotting needs matplotlib: pip install 'fastgmm[plot]'") from exc

from sklearn.utils.validation import check_is_fitted

__all__ = ["plot_clusters", "plot_criterion", "plot_lower_bound"]


def _full_covariances(gm) -> np.ndarray:
    """The model's covariances as (C, d, d) float64 whatever its covariance type."""
    C, d = gm.means_.shape
    cov = np.asarray(gm.covariances_, np.float64)
    ct = gm.covariance_type
    if ct == "full":
        return cov
    if ct == "tied":
        return np.repeat(cov[None], C, axis=0)
    if ct == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(d) for c in cov])


def _colors(n: int) -> np.ndarray:
    """``n`` distinct RGBA colours (tab10, tab20, then a sampled hue circle)."""
    if n <= 10:
        return np.asarray(plt.get_cmap("tab10").colors)[:n]
    if n <= 20:
        return np.asarray(plt.get_cmap("tab20").colors)[:n]
    return plt.get_cmap("hsv")(np.linspace(0.0, 1.0, n, endpoint=False))[:, :3]


def _new_axes(ax, figsize=(6.0, 5.0)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _principal_axes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, the first two principal axes (d, 2) and their variance shares."""
    center = X.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(X, rowvar=False))
    order = np.argsort(vals)[::-1][:2]
    P = vecs[:, order]
    # deterministic signs: the largest entry of each axis is positive
    P *= np.where(P[np.abs(P).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
    share = vals[order] / max(vals.sum(), np.finfo(float).tiny)
    return center, P, share


def _ellipse_patches(ax: Axes, means2: np.ndarray, covs2: np.ndarray, colors, n_std) -> None:
    for k, (m, c) in enumerate(zip(means2, covs2)):
        vals, vecs = np.linalg.eigh(c)  # ascending: vecs[:, 1] is the major axis
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        width, height = 2.0 * np.sqrt(np.maximum(vals[::-1], 0.0))
        for s in n_std:
            ax.add_patch(
                Ellipse(m, s * width, s * height, angle=angle, fill=False, color=colors[k],
                        lw=1.8 if s == n_std[0] else 1.1, ls="-" if s == n_std[0] else "--")
            )


def plot_clusters(
    gm,
    X,
    ax: Axes | None = None,
    n_std: Sequence[float] = (1.0, 2.0),
    max_points: int | None = 20_000,
    random_state: int = 0,
) -> Axes:
    """Points coloured by their most probable component, with covariance
    ellipses at ``n_std`` standard deviations.

    With more than two features, the points, means and covariances are
    projected on the first two principal axes ``P`` (d x 2) of the plotted
    points: a covariance ``S`` becomes ``P^T S P``. With one feature, a
    histogram of the data is drawn with each weighted component density and
    their sum (no ellipses).

    Parameters
    ----------
    gm : GaussianMixture
        A fitted model.
    X : array-like of shape (n_samples, n_features)
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    n_std : sequence of float, default=(1.0, 2.0)
        Ellipse radii in standard deviations (one ellipse per component and value).
    max_points : int or None, default=20000
        Draw at most this many points (a random subset, so big data stay
        quick); None draws all.
    random_state : int, default=0
        Seed of that subset.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_clusters(model, X)          # doctest: +SKIP
    >>> ax.figure.savefig("clusters.png")     # doctest: +SKIP
    """
    check_is_fitted(gm)
    if not hasattr(X, "shape") or getattr(X, "ndim", 2) != 2:
        X = np.asarray(X)
    n = X.shape[0]
    if max_points is not None and n > max_points:
        idx = np.sort(np.random.RandomState(random_state).choice(n, int(max_points), replace=False))
        X = X.iloc[idx] if hasattr(X, "iloc") else X[idx]
    labels = gm.predict(X)  # validates X against the model
    X = np.asarray(X, dtype=np.float64)
    C, d = gm.means_.shape
    colors = _colors(C)
    ax = _new_axes(ax)
    means = np.asarray(gm.means_, np.float64)
    covs = _full_covariances(gm)
    names = getattr(gm, "feature_names_in_", None)

    if d == 1:
        x = X[:, 0]
        ax.hist(x, bins=min(60, max(10, int(np.sqrt(len(x))))), density=True, color="0.8", label="data")
        grid = np.linspace(x.min(), x.max(), 400)
        sd = np.sqrt(covs[:, 0, 0])
        dens = np.asarray(gm.weights_, np.float64)[:, None] * np.exp(
            -0.5 * ((grid[None] - means[:, :1]) / sd[:, None]) ** 2
        ) / (sd[:, None] * np.sqrt(2 * np.pi))
        for k in range(C):
            ax.plot(grid, dens[k], color=colors[k], lw=2.0)
        ax.plot(grid, dens.sum(axis=0), color="k", lw=1.0, ls="--", label="mixture")
        ax.set_xlabel(str(names[0]) if names is not None else "x0")
        ax.set_ylabel("density")
        ax.set_title(f"{C} components ({gm.covariance_type})")
        return ax

    if d == 2:
        Y, means2, covs2 = X, means, covs
        xlabel, ylabel = (str(names[0]), str(names[1])) if names is not None else ("x0", "x1")
        title = f"{C} components ({gm.covariance_type})"
    else:
        center, P, share = _principal_axes(X)
        Y = (X - center) @ P
        means2 = (means - center) @ P
        covs2 = np.einsum("ia,kij,jb->kab", P, covs, P)  # P^T S_k P
        xlabel = f"PC1 ({100 * share[0]:.0f}% of variance)"
        ylabel = f"PC2 ({100 * share[1]:.0f}% of variance)"
        title = f"{C} components ({gm.covariance_type}), {d}-D data on its first two principal axes"
    size = 6.0 if len(Y) <= 2000 else 3.0
    ax.scatter(Y[:, 0], Y[:, 1], c=colors[labels], s=size, alpha=0.5, linewidths=0)
    _ellipse_patches(ax, means2, covs2, colors, tuple(n_std))
    ax.scatter(means2[:, 0], means2[:, 1], marker="x", c="k", s=40, linewidths=1.5, zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.autoscale_view()
    return ax


def plot_lower_bound(gm, ax: Axes | None = None) -> Axes:
    """The lower bound (mean log-likelihood) per EM iteration of the best run.

    Parameters
    ----------
    gm : GaussianMixture
        A fitted model (its ``lower_bounds_``).
    ax : matplotlib.axes.Axes, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    check_is_fitted(gm)
    bounds = np.asarray(getattr(gm, "lower_bounds_", []), np.float64)
    if bounds.size == 0:
        raise ValueError("the model records no lower bound per iteration (lower_bounds_ is empty)")
    ax = _new_axes(ax, figsize=(6.0, 4.0))
    ax.plot(np.arange(1, bounds.size + 1), bounds, marker="o", ms=3, lw=1.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("lower bound (mean log-likelihood)")
    state = "converged" if getattr(gm, "converged_", False) else "not converged"
    ax.set_title(f"EM, {gm.n_components} components ({gm.covariance_type}): {bounds.size} iterations, {state}",
                 fontsize="medium")
    ax.grid(alpha=0.3)
    return ax


def plot_criterion(result, criterion: str | None = None, ax: Axes | None = None) -> Axes:
    """A criterion against the number of components, one line per covariance
    type, the best model marked with a star.

    Parameters
    ----------
    result : SelectionResult
        What :func:`fastgmm.select_model` returned.
    criterion : {'bic', 'aic', 'icl'}, default=None
        None means the criterion the selection used.
    ax : matplotlib.axes.Axes, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    criterion = result.criterion if criterion is None else criterion
    scores = result.scores(criterion)
    ks = np.asarray(result.n_components)
    ax = _new_axes(ax, figsize=(6.0, 4.5))
    for ct, row in zip(result.covariance_types, scores):
        ax.plot(ks, row, marker="o", ms=4, lw=1.5, label=ct)
    if not np.all(np.isnan(scores)):
        i, j = np.unravel_index(np.nanargmin(scores), scores.shape)
        ax.scatter([ks[j]], [scores[i, j]], marker="*", s=260, c="gold", edgecolors="k", zorder=3,
                   label=f"best: {result.covariance_types[i]}, {ks[j]} components")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.set_title(f"Model selection by {criterion.upper()}", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax
