"""Dask arrays: fit on a cluster (or dask's threads), predict lazily.

``GaussianMixture.fit(X)`` with a ``dask.array.Array`` X lands here. X is
rechunked to whole rows (float32 blocks also to multiples of
:func:`fastgmm.outofcore.row_align` rows); each EM iteration is one dask graph:

* per block, the serial statistics kernel
  (``fastgmm.stats.run_pass(..., parallel=False)``: no thread pool, no Numba
  parallelism inside dask tasks; the kernel releases the GIL) returns one packed
  float64 vector: the worst point (log-likelihood, global index, its row), the
  log-likelihood sum, and Nk, the first and second moments;
* a tree sum (fan-in :data:`SPLIT_EVERY`) of the vectors;
* the M-step and the collapse checks on the client, with the EM loop of
  :mod:`fastgmm.em` (through :class:`fastgmm.outofcore.StreamData`).

The graph is computed the usual dask way: the active ``distributed.Client``
if there is one, dask's default (threaded) scheduler otherwise, or whatever
``dask.config.set(scheduler=...)`` says. The initialiser runs in memory on a
sample of rows gathered to the client (all rows, when there are at most
``fastgmm.outofcore.INIT_SAMPLE_SIZE``: the fit is then the in-memory fit).

``predict``, ``predict_proba`` and ``score_samples`` return lazy dask arrays
(``map_blocks`` over the same kernel); ``score``, ``bic`` and ``aic`` compute.

dask is imported only when a dask array arrives: :func:`is_dask` looks at the
type's module name.
"""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np

from .outofcore import StreamData, fit_estimator, row_align, set_n_features
from .stats import SufficientStats, run_pass

__all__ = ["is_dask", "fit_estimator_dask", "predict", "predict_proba", "score_samples", "score"]

#: blocks (or partial sums) added per task of the tree reduction
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


def _block_stats(X, sw, factors, offset, kw, check_finite=False):
    """One block's statistics as a packed float64 vector:
    ``[worst_ll, worst_index (global), d, worst row (d), ll, ecl, entropy, nk, s1, s2]``."""
    X = _kernel_block(X, check_finite)
    if sw is not None:
        sw = np.ascontiguousarray(sw, dtype=np.float64)
    st = run_pass(X, sw, factors, parallel=False, **kw)
    d = X.shape[1]
    if st.worst_index >= 0:
        head = [st.worst_ll, st.worst_index + offset, d]
        row = X[st.worst_index]
    else:
        head = [np.inf, -1, d]
        row = np.zeros(d)
    return np.concatenate(
        [head, row, [st.ll, st.ecl, st.entropy], np.ravel(st.nk), np.ravel(st.s1), np.ravel(st.s2)]
    ).astype(np.float64, copy=False)


def _combine(*parts):
    """Sum of packed vectors (in order); the worst point is the least likely,
    the earliest on ties, as in the in-memory pass."""
    out = parts[0].copy()
    d = int(out[2])
    t = 3 + d
    for p in parts[1:]:
        out[t:] += p[t:]
        if p[0] < out[0] or (p[0] == out[0] and 0 <= p[1] < out[1]):
            out[:t] = p[:t]
    return out


def _block_labels(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty(X.shape[0], np.int64)
    run_pass(X, None, factors, labels_out=out, want_stats=False, parallel=False)
    return out


def _block_proba(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty((X.shape[0], factors.params.means.shape[0]), X.dtype)
    run_pass(X, None, factors, resp_out=out, want_stats=False, parallel=False)
    return out


def _block_score_samples(X, factors):
    X = _kernel_block(X, check_finite=True)
    out = np.empty(X.shape[0])
    run_pass(X, None, factors, ll_out=out, want_stats=False, parallel=False)
    return out.astype(X.dtype, copy=False)


class _DaskPass:
    """``pass_fn`` of a :class:`fastgmm.outofcore.StreamData` over dask blocks."""

    def __init__(self, X, sw, check_finite: bool = False):
        self.check_finite = check_finite
        self.blocks = X.to_delayed().ravel().tolist()
        self.sw_blocks = sw.to_delayed().ravel().tolist() if sw is not None else [None] * len(self.blocks)
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64).tolist()
        self.dtype = X.dtype
        self.d = X.shape[1]

    def __call__(self, factors, **kw):
        from dask import delayed

        # fresh keys every pass: identical parameters in consecutive passes must
        # not reuse a key that the scheduler may still be releasing
        token = uuid.uuid4().hex
        f = delayed(factors, name=f"fastgmm-factors-{token}", traverse=False)
        parts = [
            delayed(_block_stats, pure=False)(b, s, f, off, kw, self.check_finite)
            for b, s, off in zip(self.blocks, self.sw_blocks, self.offsets)
        ]
        while len(parts) > 1:
            parts = [
                delayed(_combine, pure=False)(*parts[i : i + SPLIT_EVERY])
                for i in range(0, len(parts), SPLIT_EVERY)
            ]
        packed = parts[0].compute()
        return _unpack(packed, factors, self.dtype, self.d, kw)


def _unpack(packed: np.ndarray, factors, dtype, d: int, kw) -> tuple[SufficientStats, np.ndarray | None]:
    # the template (shapes, center) is what run_pass returns for zero rows
    tmpl = run_pass(np.zeros((0, d), dtype), None, factors, parallel=False, **kw)
    t = 3 + d
    pos = t + 3
    fields = {}
    for name in ("nk", "s1", "s2"):
        a = np.asarray(getattr(tmpl, name))
        fields[name] = packed[pos : pos + a.size].reshape(a.shape).copy()
        pos += a.size
    worst_index = int(packed[1])
    st = dataclasses.replace(
        tmpl, ll=float(packed[t]), ecl=float(packed[t + 1]), entropy=float(packed[t + 2]),
        worst_ll=float(packed[0]), worst_index=worst_index, **fields,
    )
    row = packed[3:t].astype(dtype) if worst_index >= 0 else None
    return st, row


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


def _check_fit_data(est, X, sample_weight):
    """Validated (X, sw, total_weight): dask arrays with aligned whole-row blocks."""
    X = _as_dask_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead (shape={X.shape}).")
    X = _whole_rows(_float(X))
    n, d = X.shape
    if n < 2:
        raise ValueError(
            f"Found array with {n} sample(s) (shape={X.shape}) while a minimum of 2 is "
            f"required by {type(est).__name__}."
        )
    if d < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if n < est.n_components:
        raise ValueError(
            "Expected n_samples >= n_components but got "
            f"n_components = {est.n_components}, n_samples = {n}"
        )
    est._check_parameters(d)  # fail before a pass over the data
    sw = _weights(sample_weight, X)
    # one pass: finite X, and the weights' checks and sum
    finite, total = _checked(X, sw, True)
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    return X, sw, total


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


def check_predict_array(est, X):
    """A fitted estimator's X for prediction: float dask array of whole rows."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    X = _as_dask_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead (shape={X.shape}).")
    if X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return _whole_rows(_float(X), align=False)  # per-row results: any blocks


# ---------------------------------------------------------------- entries
def _stream_data(X, sw, total, init_sample_size=None) -> StreamData:
    import dask

    n, d = X.shape

    def row_fn(i):
        return np.asarray(X[i].compute())

    def sample_fn(idx):
        if idx is None:
            return dask.compute(X, sw) if sw is not None else (X.compute(), None)
        if sw is not None:
            return dask.compute(X[idx], sw[idx])
        return X[idx].compute(), None

    return StreamData(
        n, d, X.dtype, total, _DaskPass(X, sw), row_fn, sample_fn, init_sample_size=init_sample_size
    )


def fit_estimator_dask(est, X, sample_weight=None, *, init_sample_size=None):
    """``GaussianMixture._fit`` for a dask array X; returns the validated X."""
    X, sw, total = _check_fit_data(est, X, sample_weight)
    data = _stream_data(X, sw, total, init_sample_size)
    set_n_features(est, X.shape[1])
    fit_estimator(est, data)
    return X


def predict(est, X):
    """Lazy labels (int64 dask array, one chunk per row block)."""
    X = check_predict_array(est, X)
    return X.map_blocks(
        _block_labels, est._factors(), drop_axis=1, dtype=np.int64, meta=np.empty((0,), np.int64)
    )


def predict_proba(est, X):
    """Lazy responsibilities (dask array (n, n_components), X's dtype)."""
    X = check_predict_array(est, X)
    C = est.n_components
    return X.map_blocks(
        _block_proba, est._factors(), chunks=(X.chunks[0], (C,)), dtype=X.dtype,
        meta=np.empty((0, 0), X.dtype),
    )


def score_samples(est, X):
    """Lazy per-row log-likelihoods (dask array, X's dtype)."""
    X = check_predict_array(est, X)
    return X.map_blocks(
        _block_score_samples, est._factors(), drop_axis=1, dtype=X.dtype, meta=np.empty((0,), X.dtype)
    )


def score(est, X, sample_weight=None) -> float:
    """Weighted mean log-likelihood (computed)."""
    X = check_predict_array(est, X)
    sw = _weights(sample_weight, X)
    _, total = _checked(X, sw, False)
    st, _ = _DaskPass(X, sw, check_finite=True)(est._factors(), want_stats=False)
    return float(st.ll / total)
