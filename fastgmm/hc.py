"""Hierarchical initialisation (``init_params="hc"``), in the manner of mclust.

mclust starts EM from a partition found by model-based hierarchical
agglomeration on data transformed by their singular value decomposition. This
module does the same:

1. at most :func:`row_cap` rows (a seeded sample above that) are standardised
   and transformed by their SVD as mclust's default ``hcUse = "SVD"`` does
   (:func:`_whiten`);
2. the rows are agglomerated once (:class:`HCTree` serves every k) by mclust's
   default criterion, the unconstrained Gaussian one ('VVV', Fraley 1998:
   :func:`fastgmm._kernels.hc._vvv_tree`, O(m^2) memory, O(m^2 p^3) time at
   worst), or by Ward's ('EII': :func:`fastgmm._kernels.hc._ward_tree`, the
   nearest-neighbour chain, O(m^2 p) time, O(m p) memory);
3. the tree is cut at k clusters; rows outside the sample go to the nearest
   cluster mean in the data's Mahalanobis metric (one 'tied' scoring pass);
4. the M-step from those labels gives the initial parameters.

On the data sets scikit-learn ships, the 'VVV' tree's partitions equal
mclust's ``hclass(hc(X))`` (tests/test_mclust.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels.hc import _vvv_tree, _ward_tree

__all__ = ["CRITERIA", "HC_MAX_ROWS", "HCTree", "hc_tree", "row_cap"]

#: most rows agglomerated (a seeded sample above it)
HC_MAX_ROWS = 2000
#: the agglomeration criteria: mclust's names for them
CRITERIA = ("vvv", "ward")


def row_cap(n_features: int, criterion: str = "vvv") -> int:
    """Rows agglomerated at most for ``n_features`` columns: :data:`HC_MAX_ROWS`,
    fewer for 'vvv' above 30 columns so that its O(m^2 p^3) stays near its cost
    at 2,000 x 30 (about 2 s here; 2,000 x 64 took 38 s)."""
    if criterion == "ward" or n_features <= 30:
        return HC_MAX_ROWS
    return max(100, int(HC_MAX_ROWS * (30 / n_features) ** 1.5))


@dataclass
class HCTree:
    """An agglomeration of ``rows`` (indices into the data, sorted).

    ``merges`` (m - 1, 2) joins cluster ids (< m: rows; merge t creates m + t);
    the tree is cut by applying the merges in the order of ``heights`` (m - 1,)
    (Ward: the merge costs made monotone up the tree; 'vvv': the step of each
    merge, since the greedy criterion's costs need not be monotone).
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
    X: np.ndarray, sw: np.ndarray | None, rng: np.random.RandomState, max_rows: int | None = None,
    criterion: str = "vvv",
) -> HCTree:
    """The agglomeration of ``X`` by ``criterion`` (one of :data:`CRITERIA`) on
    the transformed rows (:func:`_whiten`), weighted by ``sw``: all rows up to
    ``max_rows`` (default :func:`row_cap` of the data's width), above that a
    uniform sample of distinct rows drawn from ``rng``."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    n = X.shape[0]
    cap = row_cap(X.shape[1], criterion) if max_rows is None else int(max_rows)
    m = min(n, cap)
    rows = np.arange(n) if m == n else np.sort(rng.choice(n, size=m, replace=False))
    Z = _whiten(X[rows])
    w = np.ones(m) if sw is None else np.ascontiguousarray(sw[rows], np.float64)
    w = np.where(w > 0, w, 1e-12)  # a zero-weight row still joins some cluster
    if criterion == "vvv":
        merges, _ = _vvv_tree(Z, w)
        return HCTree(rows, merges, np.arange(max(m - 1, 0), dtype=np.float64))
    merges, cost = _ward_tree(Z, w)
    heights = cost.copy()
    for t in range(m - 1):  # monotone: no merge below its children's
        for c in merges[t]:
            if c >= m:
                heights[t] = max(heights[t], heights[c - m])
    return HCTree(rows, merges, heights)
