"""Exact EM over data that is not one in-memory array: files larger than memory
(:func:`fit_memmap`) and dask arrays (:mod:`fastgmm.distributed`).

EM's sufficient statistics add over disjoint row blocks, so one EM iteration is
one streaming pass: each block goes through the same serial kernels
(:func:`fastgmm.stats.run_pass`), the per-block statistics are summed, and the
M-step runs on the small sums. Memory stays at one block plus O(C d^2).

Both sources are wrapped in a :class:`StreamData`. To the EM helpers of
:mod:`fastgmm.em` (``_check``, ``_reseed``, ``initialize``) it looks like
:class:`fastgmm.em.Data`, but "X in memory" is replaced by three functions: a
statistics pass over all rows, access to single rows (the re-seed point), and a
sample of rows gathered into memory for the initialiser (k-means & co. run on
that sample; when the data has at most ``init_sample_size`` rows the sample is
all rows in order and the initialisation equals the in-memory one).

The EM loop is :mod:`fastgmm.em`'s own (:func:`fastgmm.em.em_run`,
:func:`fastgmm.em.fit`): it calls ``data.stats(f)`` for the pass and
``data.init_data(rng)`` for the initialiser's data, which :class:`StreamData`
provides as :class:`fastgmm.em.Data` does.

In-memory fits of ``np.memmap`` / ``np.load(..., mmap_mode='r')`` arrays do not
copy X either (``GaussianMixture.fit`` validates without copying a C-contiguous
float32/float64 memmap); :func:`fit_memmap` adds what a file larger than memory
needs: the initialiser runs on a sample instead of all rows (k-means keeps
O(n) labels and distances and makes many passes), the file is mapped one
window at a time (so it works under an address-space limit too), and a progress
callback reports each pass.
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import Callable

import numpy as np

from . import _config
from .em import Data
from .params import GMMParams, factorize
from .stats import SufficientStats, m_step, run_pass

__all__ = ["StreamData", "fit_memmap", "INIT_SAMPLE_SIZE", "WINDOW_BYTES"]

#: rows gathered into memory for the initialiser (at least 50 per component)
INIT_SAMPLE_SIZE = 100_000
#: bytes of X per window that :func:`fit_memmap` maps at a time (default)
WINDOW_BYTES = 64 << 20

#: ``pass_fn(factors, **run_pass_kwargs) -> (SufficientStats, worst_row or None)``
PassFn = Callable[..., "tuple[SufficientStats, np.ndarray | None]"]


def row_align() -> int:
    """Row granularity that block and window boundaries are rounded to.

    The kernels add float32 partial sums over fixed groups of rows that start
    at multiples of this size in the in-memory pass; blocks that start at such
    multiples group rows the same way, so float32 fits match the in-memory fit
    to float64 round-off rather than to float32 round-off.
    """
    return int(_config.chunk_rows(1))


def init_sample_rows(n: int, n_components: int, size: int | None = None) -> int:
    size = INIT_SAMPLE_SIZE if size is None else int(size)
    return min(n, max(size, 50 * n_components))


class _Rows:
    """``data.X[i]`` for :func:`fastgmm.em._reseed`: one row, fetched on demand."""

    def __init__(self, data: "StreamData"):
        self._data = data

    def __getitem__(self, i):
        return self._data.row(int(i))


class StreamData:
    """Data seen only through passes: duck-types :class:`fastgmm.em.Data` for
    the EM helpers.

    Parameters
    ----------
    n, n_features, dtype, total_weight
        Shape, kernel dtype (float32/float64) and sum of the sample weights.
    pass_fn
        ``pass_fn(factors, **kw) -> (stats, worst_row)``: one pass over all rows
        with :func:`fastgmm.stats.run_pass` keyword arguments; ``worst_row`` is
        the row at ``stats.worst_index`` (or None).
    row_fn
        ``row_fn(i) -> row i`` (X's dtype).
    sample_fn
        ``sample_fn(idx) -> (X_sample, sw_sample or None)`` for sorted row
        indices, or all rows in order when ``idx`` is None.
    progress
        Optional ``progress(info)`` called after every pass with a dict: ``pass``
        (count, from 1), ``stage`` ('em' or 'moments'), ``rows``, ``seconds``
        and ``mean_log_likelihood`` (for 'em' passes the iteration's lower bound).
    """

    def __init__(
        self,
        n: int,
        n_features: int,
        dtype,
        total_weight: float,
        pass_fn: PassFn,
        row_fn: Callable[[int], np.ndarray],
        sample_fn: Callable[[np.ndarray | None], tuple],
        *,
        init_sample_size: int | None = None,
        progress: Callable[[dict], None] | None = None,
    ):
        self.n = int(n)
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self.total_weight = float(total_weight)
        self.eps = float(np.finfo(self.dtype).eps)
        self.sw = None  # the weights live with the source
        self.X = _Rows(self)
        self.init_sample_size = init_sample_size
        self.n_passes = 0
        self._pass = pass_fn
        self._row = row_fn
        self._sample = sample_fn
        self._progress = progress
        self._moments = None
        self._init_data = None
        self._last_row: tuple[int, np.ndarray] | None = None

    # -- what em.py's loop would call ----------------------------------------
    def stats(self, factors, *, stage: str = "em", **kw) -> SufficientStats:
        """One pass over all rows (:func:`fastgmm.stats.run_pass` keywords)."""
        t0 = perf_counter()
        st, row = self._pass(factors, **kw)
        self.n_passes += 1
        if row is not None and st.worst_index >= 0:
            self._last_row = (int(st.worst_index), np.asarray(row, self.dtype))
        if self._progress is not None:
            self._progress(
                {
                    "pass": self.n_passes,
                    "stage": stage,
                    "rows": self.n,
                    "seconds": perf_counter() - t0,
                    "mean_log_likelihood": st.ll / self.total_weight,
                }
            )
        return st

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` of X (the worst point of the last pass is kept)."""
        if self._last_row is not None and self._last_row[0] == i:
            return self._last_row[1].copy()
        return np.asarray(self._row(i), self.dtype)

    def init_data(self, rng: np.random.RandomState, n_components: int = 1) -> Data:
        """In-memory :class:`fastgmm.em.Data` for the initialiser, drawn once.

        All rows in order when there are at most ``init_sample_size`` (then no
        random number is drawn, so the fit equals the in-memory one); otherwise
        a uniform sample of distinct rows, in order, with their weights.
        """
        if self._init_data is None:
            m = init_sample_rows(self.n, n_components, self.init_sample_size)
            idx = None
            if m < self.n:
                idx = np.unique(rng.randint(0, self.n, size=m))
            Xs, sws = self._sample(idx)
            Xs = np.ascontiguousarray(Xs, dtype=self.dtype)
            if sws is not None:
                sws = np.ascontiguousarray(sws, dtype=np.float64)
                if not sws.sum() > 0:  # every sampled row has zero weight
                    sws = None
            self._init_data = Data(Xs, sws)
        return self._init_data

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and covariance of X (float64): two centred passes,
        computed once (only a re-seed needs them)."""
        if self._moments is None:
            d = self.n_features
            f = factorize(GMMParams(np.ones(1), np.zeros((1, d)), np.eye(d)[None], "full"))
            center = self.row(0).astype(np.float64)
            for _ in range(2):
                st = self.stats(f, center=center, stage="moments")
                # one component, eps = 0: the weighted mean and covariance exactly
                p = m_step(st, "full", 0.0, 0.0)
                center = p.means[0]
            self._moments = (p.means[0], p.covariances[0])
        return self._moments


# --------------------------------------------------------------------- driver
def fit_estimator(est, data: StreamData):
    """Fit the :class:`fastgmm.GaussianMixture` ``est`` on streamed ``data``
    (the estimator's own EM and bookkeeping, :meth:`GaussianMixture._fit_data`).
    Passes that run on this machine use ``est.n_threads`` threads."""
    if data.n < est.n_components:
        raise ValueError(
            "Expected n_samples >= n_components but got "
            f"n_components = {est.n_components}, n_samples = {data.n}"
        )
    est._fit_data(data)
    return est


def set_n_features(est, n_features: int) -> None:
    """What ``validate_data(reset=True)`` records for data without column names."""
    est.n_features_in_ = int(n_features)
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


# ------------------------------------------------------------------- memmaps
class _Windows:
    """Row windows of an ``.npy`` file (mapped one at a time) or of an array."""

    def __init__(self, source):
        self.path = None
        if isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            with open(self.path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:  # pragma: no cover - version 3 (utf-8 field names)
                    shape, fortran, dtype = np.lib.format._read_array_header(fh, version)
                self.offset = fh.tell()
            if fortran and len(shape) == 2 and shape[1] > 1:
                raise ValueError(
                    f"{self.path} is stored in Fortran order; fit_memmap streams rows and "
                    "needs a C-order file (np.save(path, np.ascontiguousarray(X)))"
                )
            self.array = None
        else:
            arr = source if isinstance(source, np.ndarray) else np.asarray(source)
            shape, dtype = arr.shape, arr.dtype
            self.array = arr
        if len(shape) != 2:
            raise ValueError(f"Expected a 2-dimensional array, got shape {tuple(shape)}")
        dtype = np.dtype(dtype)
        if dtype.kind == "c" or dtype.kind not in "biuf":
            raise ValueError(f"X must hold real numbers, got dtype {dtype}")
        self.file_dtype = dtype
        self.dtype = dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)
        self.n, self.d = int(shape[0]), int(shape[1])

    def __call__(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``[lo, hi)`` as a C-contiguous kernel array (copies only to cast)."""
        if self.array is not None:
            win = self.array[lo:hi]
        else:
            rowbytes = self.d * self.file_dtype.itemsize
            win = np.memmap(
                self.path, dtype=self.file_dtype, mode="r",
                offset=self.offset + lo * rowbytes, shape=(hi - lo, self.d),
            )
        return np.ascontiguousarray(win, dtype=self.dtype)


def _window_rows(d: int, itemsize: int, chunk_rows: int | None) -> int:
    align = row_align()
    if chunk_rows is None:
        chunk_rows = WINDOW_BYTES // max(1, d * itemsize)
    return max(align, (int(chunk_rows) // align) * align)


def fit_memmap(
    estimator,
    source,
    sample_weight=None,
    *,
    chunk_rows: int | None = None,
    init_sample_size: int | None = None,
    progress: Callable[[dict], None] | None = None,
):
    """Fit ``estimator`` by exact EM over data larger than memory.

    Streams fixed row windows of ``source`` through the kernels, one pass per
    EM iteration: the result is the in-memory fit's (from the same
    initialisation, to float64 round-off), while memory stays at one window,
    the initialiser's sample and O(C d^2).

    Parameters
    ----------
    estimator : fastgmm.GaussianMixture
        Its parameters say what to fit; it is fitted in place and returned.
    source : str or os.PathLike or ndarray
        A path to a C-order ``.npy`` file (mapped one window at a time, so the
        whole file is never in the address space), or an array: an
        ``np.memmap``, ``np.load(path, mmap_mode='r')``, or any 2-D array.
        float32/float64 are used as they are; other numbers become float64
        one window at a time.
    sample_weight : array-like of shape (n_samples,), optional
        May itself be a memmap (float64 is not copied).
    chunk_rows : int, optional
        Rows per window (default: about ``WINDOW_BYTES`` = 64 MiB of X), rounded
        down to a multiple of :func:`row_align`.
    init_sample_size : int, optional
        Rows gathered into memory for the initialiser (default
        ``INIT_SAMPLE_SIZE``); all rows, in order, when the data has no more.
        Not used when ``weights_init``, ``means_init`` and ``precisions_init`` are all given.
    progress : callable, optional
        Called after every pass over the data with a dict (``pass``, ``stage``
        'em' or 'moments', ``rows``, ``seconds``, ``mean_log_likelihood``).

    Returns
    -------
    estimator
    """
    from ._validation import check_sample_weight

    win = _Windows(source)
    n, d = win.n, win.d
    if n < 2:
        raise ValueError(
            f"Found array with {n} sample(s) (shape=({n}, {d})) while a minimum of 2 is "
            f"required by {type(estimator).__name__}."
        )
    if d < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is required.")
    sw = check_sample_weight(sample_weight, n)
    estimator._check_parameters(d)  # fail before a pass over the file
    rows = _window_rows(d, win.dtype.itemsize, chunk_rows)
    spans = [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]

    # finite check: one streaming pass (a window's sum is finite unless it holds
    # NaN or inf, or overflows, which the element-wise check then settles)
    for lo, hi in spans:
        X = win(lo, hi)
        if not np.isfinite(X.sum(dtype=np.float64)) and not np.isfinite(X).all():
            raise ValueError("Input X contains NaN or infinity.")
        del X

    def pass_fn(factors, **kw):
        st = row = None
        for lo, hi in spans:
            X = win(lo, hi)
            s = run_pass(X, None if sw is None else sw[lo:hi], factors, **kw)
            if s.worst_index >= 0 and (st is None or s.worst_ll < st.worst_ll):
                row = X[s.worst_index].copy()
            st = s if st is None else st.merge(s, offset=lo)
            del X
        return st, row

    def sample_fn(idx):
        if idx is None:
            return np.concatenate([win(lo, hi) for lo, hi in spans]), sw
        parts = []
        for lo, hi in spans:
            a, b = np.searchsorted(idx, [lo, hi])
            if b > a:
                parts.append(win(lo, hi)[idx[a:b] - lo])
        return np.concatenate(parts), None if sw is None else sw[idx]

    data = StreamData(
        n, d, win.dtype, n if sw is None else float(sw.sum()),
        pass_fn, lambda i: win(i, i + 1)[0], sample_fn,
        init_sample_size=init_sample_size, progress=progress,
    )
    set_n_features(estimator, d)
    return fit_estimator(estimator, data)
