"""Dask arrays: fit on a cluster (or dask's threads), predict lazily.

``GaussianMixture.fit(X)`` with a ``dask.array.Array`` X fits the
:class:`fastgmm.sources.StreamData` that :func:`dask_source` builds. X is
rechunked to whole rows (float32 blocks also to multiples of
:func:`fastgmm.outofcore.row_align` rows); each EM iteration is one dask graph:

* per block, the serial stage drivers (``parallel=False``: no Numba
  parallelism inside dask tasks; the kernels release the GIL) return the
  block's :class:`fastgmm.stats.SufficientStats` with its least likely row;
* a tree of :meth:`~fastgmm.stats.SufficientStats.merge` (fan-in :data:`SPLIT_EVERY`);
* the M-step and the collapse checks on the client, in :mod:`fastgmm.em`.

The graph is computed the usual dask way: the active ``distributed.Client``
if there is one, dask's default (threaded) scheduler otherwise, or whatever
``dask.config.set(scheduler=...)`` says. The initialiser runs in memory on a
sample of rows gathered to the client (all rows, when there are at most
``fastgmm.sources.INIT_SAMPLE_SIZE``: the fit is then the in-memory fit).

:func:`predict`, :func:`predict_proba` and :func:`score_samples` return lazy
dask arrays (``map_blocks`` over the same drivers); :func:`score` computes.

dask is imported only when a dask array arrives: :func:`is_dask` looks at the
type's module name.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import check_fit_shape
from .outofcore import row_align
from .sources import StreamData, block_stats
from .stats import score as score_pass

__all__ = ["is_dask", "dask_source", "check_predict_array", "predict", "predict_proba", "score_samples", "score"]

#: blocks (or partial sums) merged per task of the tree reduction
SPLIT_EVERY = 8

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_dask(X) -> bool:
    """True for dask collections; never imports dask."""
    return type(X).__module__.startswith("dask")


# ------------------------------------------------------------------ tasks
def _kernel_block(X, check_finite: bool = False) -> np.ndarray:
    X = np.ascontiguousarray(X)
    if check_finite and not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    return X


def _block_stats(kernel, X, sw, offset):
    X = _kernel_block(X)
    if sw is not None:
        sw = np.ascontiguousarray(sw, dtype=np.float64)
    return block_stats(kernel, X, sw, offset, False)


def _combine(*parts):
    return functools.reduce(lambda a, b: a.merge(b), parts)


def _block_labels(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty(X.shape[0], np.int64)
    score_pass(X, factors, labels=out, parallel=False)
    return out


def _block_proba(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty((X.shape[0], factors.params.means.shape[0]), X.dtype)
    score_pass(X, factors, resp=out, parallel=False)
    return out


def _block_score_samples(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty(X.shape[0])
    score_pass(X, factors, loglik=out, parallel=False)
    return out.astype(X.dtype, copy=False)


def _block_loglik(X, sw, factors):
    X = _kernel_block(X, check_finite=True)
    if sw is not None:
        sw = np.ascontiguousarray(sw, dtype=np.float64)
    return score_pass(X, factors, sw=sw, parallel=False)[0]


class _DaskReduce:
    """``reduce(kernel)`` of a :class:`fastgmm.sources.StreamData` over dask blocks."""

    def __init__(self, X, sw):
        self.blocks = X.to_delayed().ravel().tolist()
        self.sw_blocks = sw.to_delayed().ravel().tolist() if sw is not None else [None] * len(self.blocks)
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64).tolist()

    def __call__(self, kernel):
        from dask import delayed

        k = delayed(kernel, traverse=False)
        parts = [
            delayed(_block_stats, pure=False)(k, b, s, off)
            for b, s, off in zip(self.blocks, self.sw_blocks, self.offsets)
        ]
        while len(parts) > 1:
            parts = [delayed(_combine, pure=False)(*parts[i : i + SPLIT_EVERY]) for i in range(0, len(parts), SPLIT_EVERY)]
        return parts[0].compute()


# ------------------------------------------------------------- validation
def _as_dask_array(X, name: str = "X"):
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name}: fastgmm accepts dask arrays (dask.array.Array), got {type(X).__name__}; "
            "convert a dask DataFrame with .to_dask_array(lengths=True)"
        )
    return X


def _float(X):
    dt = X.dtype
    if dt.kind == "c" or dt.kind not in "biuf":
        raise ValueError(f"X must hold real numbers, got dtype {dt}")
    return X if dt in _FLOATS else X.astype(np.float64)


def _whole_rows(X, align: bool = True):
    """Rechunk to blocks of whole rows; float32 blocks also start at multiples
    of row_align(), so the kernels' float32 partial sums group rows as in the
    in-memory pass (float64 results do not depend on it: no rechunk, which
    would be redone every iteration)."""
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if X.dtype != np.float32 or not align:
        return X
    step = row_align()
    rows = X.chunks[0]
    if all(r % step == 0 for r in rows[:-1]):
        return X
    target = max(step, int(round(float(np.median(rows)) / step)) * step)
    return X.rechunk({0: target})


def _weights(sample_weight, X):
    """Sample weights as a float64 dask array with X's row chunks (None stays None)."""
    import dask.array as da

    n = X.shape[0]
    if sample_weight is None:
        return None
    if is_dask(sample_weight):
        sw = _as_dask_array(sample_weight, "sample_weight").astype(np.float64)
        if sw.ndim != 1 or sw.shape[0] != n:
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        if any(np.isnan(c) for c in sw.chunks[0]):
            sw = sw.compute_chunk_sizes()
        return sw.rechunk({0: X.chunks[0]})
    from ._validation import check_sample_weight

    sw = check_sample_weight(sample_weight, n)
    return da.from_array(sw, chunks=(X.chunks[0],))


def _checked(X, sw, check_X: bool):
    """``(X is finite, total weight)``, computed together; raises for bad weights."""
    import dask
    import dask.array as da

    checks = [da.isfinite(X).all() if check_X else True]
    if sw is not None:
        checks += [da.isfinite(sw).all(), (sw >= 0).all(), sw.sum()]
    res = dask.compute(*checks)
    total = float(X.shape[0])
    if sw is not None:
        finite, nonneg, total = bool(res[1]), bool(res[2]), float(res[3])
        if not finite:
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if not nonneg:
            raise ValueError("sample_weight must be non-negative; it has negative entries")
        if not total > 0:
            raise ValueError("sample_weight must have a positive sum; all weights are zero")
    return bool(res[0]), total


def check_predict_array(X, n_features: int, estimator_name: str):
    """X for prediction: a float dask array of whole rows with ``n_features`` columns."""
    X = _as_dask_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead (shape={X.shape}).")
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {estimator_name} is expecting {n_features} features as input."
        )
    return _whole_rows(_float(X), align=False)  # per-row results: any blocks


# ---------------------------------------------------------------- entries
def dask_source(X, sample_weight=None, *, init_sample_size=None, estimator_name: str = "GaussianMixture") -> StreamData:
    """A dask array (and weights) as a :class:`fastgmm.sources.StreamData`.

    Rechunks to whole rows; the values (finite X, non-negative weights with a
    positive sum) are checked in one dask pass when an estimator fits it.
    """
    import dask

    X = _as_dask_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead (shape={X.shape}).")
    X = _whole_rows(_float(X))
    n, d = X.shape
    check_fit_shape(n, d, 1, estimator_name)
    sw = _weights(sample_weight, X)
    def check_fn():
        # one dask pass checks the values and sums the weights together
        finite, total = _checked(X, sw, True)
        if not finite:
            raise ValueError("Input X contains NaN or infinity.")
        return total

    def row_fn(i):
        return np.asarray(X[i].compute())

    def sample_fn(idx):
        if idx is None:
            return dask.compute(X, sw) if sw is not None else (X.compute(), None)
        if sw is not None:
            return dask.compute(X[idx], sw[idx])
        return X[idx].compute(), None

    return StreamData(
        n, d, X.dtype, None, _DaskReduce(X, sw), row_fn, sample_fn,
        check_fn=check_fn, init_sample_size=init_sample_size,
    )


def predict(X, factors):
    """Lazy labels (int64 dask array, one chunk per row block) of ``X``
    (from :func:`check_predict_array`)."""
    return X.map_blocks(_block_labels, factors, drop_axis=1, dtype=np.int64, meta=np.empty((0,), np.int64))


def predict_proba(X, factors):
    """Lazy responsibilities (dask array (n, n_components), X's dtype)."""
    C = factors.params.n_components
    return X.map_blocks(
        _block_proba, factors, chunks=(X.chunks[0], (C,)), dtype=X.dtype, meta=np.empty((0, 0), X.dtype)
    )


def score_samples(X, factors):
    """Lazy per-row log-likelihoods (dask array, X's dtype)."""
    return X.map_blocks(_block_score_samples, factors, drop_axis=1, dtype=X.dtype, meta=np.empty((0,), X.dtype))


def score(X, factors, sample_weight=None) -> float:
    """Weighted mean log-likelihood (computed)."""
    import dask
    from dask import delayed

    sw = _weights(sample_weight, X)
    _, total = _checked(X, sw, False)
    sw_blocks = sw.to_delayed().ravel().tolist() if sw is not None else [None] * X.numblocks[0]
    parts = [delayed(_block_loglik)(b, s, factors) for b, s in zip(X.to_delayed().ravel().tolist(), sw_blocks)]
    return float(sum(dask.compute(*parts)) / total)
