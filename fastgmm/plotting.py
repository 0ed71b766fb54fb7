"""Matplotlib figures (the ``plot`` extra). Functions return the Axes and never
call ``plt.show()``."""

from __future__ import annotations

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("fastgmm.plotting needs matplotlib: pip install 'fastgmm[plot]'") from exc


def _full_covariances(gm) -> np.ndarray:
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


def plot_clusters(gm, X, ax=None, n_std=(1.0, 2.0)):
    """Points coloured by their most probable component, with covariance
    ellipses at ``n_std`` standard deviations.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    X = np.asarray(X, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    labels = gm.predict(X)
    cmap = plt.get_cmap("tab10")
    ax.scatter(X[:, 0], X[:, 1], c=[cmap(k % 10) for k in labels], s=4, alpha=0.5, linewidths=0)
    for k, (m, c) in enumerate(zip(np.asarray(gm.means_, np.float64), _full_covariances(gm))):
        vals, vecs = np.linalg.eigh(c[:2, :2])
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        for s in n_std:
            w, h = 2 * s * np.sqrt(np.maximum(vals[::-1], 0))
            ax.add_patch(Ellipse(m[:2], w, h, angle=angle, fill=False, color=cmap(k % 10), lw=1.5))
    ax.set_title(f"{gm.n_components} components ({gm.covariance_type})")
    return ax
