"""Hierarchical initialisation (``init_params="hc"``), in the manner of mclust.

mclust starts EM from a partition found by model-based hierarchical
agglomeration on data transformed by their singular value decomposition. This
module does the same with Ward's criterion (the classification likelihood of
spherical equal-volume clusters, mclust's 'EII') on the transformed data:

1. at most :data:`HC_MAX_ROWS` rows (a seeded sample above that: the
   agglomeration is O(m^2 d) in time) are standardised and transformed by their
   SVD as mclust's default ``hcUse = "SVD"`` does (:func:`_whiten`);
2. the rows are agglomerated by the nearest-neighbour chain
   (:func:`fastgmm._kernels.hc._ward_tree`), once: :class:`HCTree` serves every k;
3. the tree is cut at k clusters; rows outside the sample go to the nearest
   cluster mean in the data's Mahalanobis metric (one 'tied' scoring pass);
4. the M-step from those labels gives the initial parameters.

Only Ward's criterion is implemented so far: mclust's default agglomerates by
the unconstrained 'VVV' criterion (issue #15 asks for it where it is cheaper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels.hc import _ward_tree

__all__ = ["HC_MAX_ROWS", "HCTree", "hc_tree"]

#: most rows agglomerated (a seeded sample above it)
HC_MAX_ROWS = 2000


@dataclass
class HCTree:
    """A Ward agglomeration of ``rows`` (indices into the data, sorted).

    ``merges`` (m - 1, 2) joins cluster ids (< m: rows; merge t creates m + t),
    ``heights`` (m - 1,) the merge costs made monotone up the tree.
    """

    rows: np.ndarray
    merges: np.ndarray
    heights: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.rows.shape[0]

    def labels(self, n_clusters: int) -> np.ndarray:
        """Cluster of each agglomerated row when the tree is cut at ``n_clusters``
        (0 .. n_clusters - 1, numbered by first appearance)."""
        m = self.n_rows
        k = int(n_clusters)
        if not 1 <= k <= m:
            raise ValueError(f"n_clusters must be in [1, {m}], got {k}")
        order = np.lexsort((np.arange(m - 1), self.heights))
        applied = np.zeros(m - 1, bool)
        applied[order[: m - k]] = True  # the cheapest merges: closed under children
        parent = np.arange(2 * m - 1)
        for t in np.flatnonzero(applied):
            a, b = self.merges[t]
            parent[a] = parent[b] = m + t
        root = np.empty(m, np.int64)
        for i in range(m):
            r = i
            while parent[r] != r:
                r = parent[r]
            root[i] = r
        _, first, inverse = np.unique(root, return_index=True, return_inverse=True)
        rank = np.empty(len(first), np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        return rank[inverse].astype(np.int32)


def _whiten(X: np.ndarray) -> np.ndarray:
    """mclust's default transformation for the agglomeration ('SVD', scaled SVD):
    columns centred and scaled to unit variance, then ``X V D^(-1/2)`` from the
    SVD ``X = U D V^T`` (constant columns and null directions dropped)."""
    Xc = np.asarray(X, np.float64)
    Xc = Xc - Xc.mean(axis=0)
    sd = Xc.std(axis=0)
    Xc = Xc[:, sd > 0] / sd[sd > 0]
    if Xc.shape[1] == 0:
        return np.zeros((X.shape[0], 1))
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > s[0] * 1e-10
    return np.ascontiguousarray(Xc @ vt[keep].T / np.sqrt(s[keep]))


def hc_tree(
    X: np.ndarray, sw: np.ndarray | None, rng: np.random.RandomState, max_rows: int | None = None
) -> HCTree:
    """The Ward tree of ``X`` (all rows up to ``max_rows``, default
    :data:`HC_MAX_ROWS`; a uniform sample of distinct rows, drawn from ``rng``,
    above), on the transformed rows (:func:`_whiten`), weighted by ``sw``."""
    n = X.shape[0]
    m = min(n, HC_MAX_ROWS if max_rows is None else int(max_rows))
    rows = np.arange(n) if m == n else np.sort(rng.choice(n, size=m, replace=False))
    Z = _whiten(X[rows])
    w = np.ones(m) if sw is None else np.ascontiguousarray(sw[rows], np.float64)
    w = np.where(w > 0, w, 1e-12)  # a zero-weight row still joins some cluster
    merges, cost = _ward_tree(Z, w)
    heights = cost.copy()
    for t in range(m - 1):  # monotone: no merge below its children's
        for c in merges[t]:
            if c >= m:
                heights[t] = max(heights[t], heights[c - m])
    return HCTree(rows, merges, heights)
