"""Exact EM over data larger than memory: a ``.npy`` file (or any 2-D array)
streamed one window of rows at a time.

EM's sufficient statistics add over disjoint row blocks, so one EM iteration
is one streaming pass: each window goes through the same kernels as an
in-memory fit, the windows' statistics are merged, and the M-step runs on the
small sums. Memory stays at one window, the initialiser's sample and O(C d^2).

:func:`memmap_source` builds the :class:`fastgmm.sources.StreamData` that the
estimator fits (``GaussianMixture().fit(memmap_source(path))``), and
:func:`fit_memmap` is that in one call. The initialiser runs on a sample of rows
(all rows, in order, when there are at most ``init_sample_size``: the fit then
equals the in-memory one). In-memory fits of ``np.memmap`` /
``np.load(..., mmap_mode='r')`` arrays do not copy X either; this module adds
what a file larger than memory needs: the sample, a file mapped one window at a
time (so it works under an address-space limit too), and a progress callback
per pass.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from . import _config
from ._validation import check_fit_shape, check_sample_weight
from .sources import INIT_SAMPLE_SIZE, StreamData, block_stats

__all__ = ["memmap_source", "fit_memmap", "online_pass", "row_align", "INIT_SAMPLE_SIZE", "WINDOW_BYTES"]

#: bytes of X per window that :func:`memmap_source` maps at a time (default)
WINDOW_BYTES = 64 << 20


def row_align() -> int:
    """Row granularity that block and window boundaries are rounded to.

    The kernels add float32 partial sums over fixed groups of rows that start
    at multiples of this size in the in-memory pass; blocks that start at such
    multiples group rows the same way, so float32 fits match the in-memory fit
    to float64 round-off rather than to float32 round-off.
    """
    return int(_config.chunk_rows(1))


class _Windows:
    """Row windows of an ``.npy`` file (mapped one at a time) or of an array."""

    def __init__(self, source):
        self.path = None
        if isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            with open(self.path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read_header = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }.get(version)
                if read_header is not None:
                    shape, fortran, dtype = read_header(fh)
                    self.offset = fh.tell()
            if read_header is None:
                # version 3 (np.save writes it only for utf-8 field names): NumPy
                # has no public reader for its header, np.load's mapping tells the
                # same (mapping, unlike the readers above, the whole file once)
                m = np.load(self.path, mmap_mode="r")
                shape, dtype, self.offset = m.shape, m.dtype, m.offset
                fortran = m.flags.f_contiguous and not m.flags.c_contiguous
                del m
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


def memmap_source(
    source,
    sample_weight=None,
    *,
    chunk_rows: int | None = None,
    init_sample_size: int | None = None,
    progress: Callable[[dict], None] | None = None,
    estimator_name: str = "GaussianMixture",
) -> StreamData:
    """The rows of a file (or array) as a :class:`fastgmm.sources.StreamData`,
    read one window at a time.

    Parameters
    ----------
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
    progress : callable, optional
        Called after every pass over the data with a dict (``pass``, ``stage``
        'em' or 'moments', ``rows``, ``seconds``, ``mean_log_likelihood``).

    Only the header is read here; the values are checked (one streaming pass)
    when an estimator fits the source, after its parameters.
    """
    win = _Windows(source)
    n, d = win.n, win.d
    check_fit_shape(n, d, 1, estimator_name)
    sw = check_sample_weight(sample_weight, n)
    rows = _window_rows(d, win.dtype.itemsize, chunk_rows)
    spans = [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]

    def check_fn():
        # a window's sum is finite unless it holds NaN or inf, or overflows,
        # which the element-wise check then settles
        for lo, hi in spans:
            X = win(lo, hi)
            if not np.isfinite(X.sum(dtype=np.float64)) and not np.isfinite(X).all():
                raise ValueError("Input X contains NaN or infinity.")
        return n if sw is None else float(sw.sum())

    def reduce(kernel):
        st = None
        for lo, hi in spans:
            s = block_stats(kernel, win(lo, hi), None if sw is None else sw[lo:hi], lo, True)
            st = s if st is None else st.merge(s)
        return st

    def sample_fn(idx):
        if idx is None:
            return np.concatenate([win(lo, hi) for lo, hi in spans]), sw
        parts = []
        for lo, hi in spans:
            a, b = np.searchsorted(idx, [lo, hi])
            if b > a:
                parts.append(win(lo, hi)[idx[a:b] - lo])
        return np.concatenate(parts), None if sw is None else sw[idx]

    return StreamData(
        n, d, win.dtype, n if sw is None else float(sw.sum()),
        reduce, lambda i: win(i, i + 1)[0], sample_fn,
        check_fn=check_fn, init_sample_size=init_sample_size, progress=progress,
    )


def fit_memmap(
    estimator,
    source,
    sample_weight=None,
    *,
    chunk_rows: int | None = None,
    init_sample_size: int | None = None,
    progress: Callable[[dict], None] | None = None,
):
    """Fit ``estimator`` by exact EM over data larger than memory:
    ``estimator.fit(memmap_source(source, ...))``.

    Streams fixed row windows of ``source`` through the kernels, one pass per
    EM iteration: the result is the in-memory fit's (from the same
    initialisation, to float64 round-off), while memory stays at one window,
    the initialiser's sample and O(C d^2). The parameters are those of
    :func:`memmap_source`; ``init_sample_size`` is not used when
    ``weights_init``, ``means_init`` and ``precisions_init`` are all given.

    Returns
    -------
    estimator
    """
    src = memmap_source(
        source, sample_weight, chunk_rows=chunk_rows, init_sample_size=init_sample_size,
        progress=progress, estimator_name=type(estimator).__name__,
    )
    return estimator.fit(src)


def online_pass(
    estimator,
    source,
    sample_weight=None,
    *,
    batch_size: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
):
    """One stepwise-EM pass: ``estimator.partial_fit`` on consecutive row
    batches of ``source``, in order.

    Unlike :func:`fit_memmap` (exact EM, one pass per iteration), this reads
    the data once; memory stays at one batch and O(C d^2). The first batch
    initialises an unfitted estimator (so it needs at least ``n_components``
    rows); a fitted one continues from its model. Shuffled rows suit the
    stepwise updates: sorted or clustered files bias the early steps.

    Parameters
    ----------
    estimator : GaussianMixture
    source : str or os.PathLike or ndarray or dask array
        A ``.npy`` path (mapped one window at a time), any 2-D array
        (``np.memmap`` included) or a ``dask.array.Array`` (each batch computed
        in turn).
    sample_weight : array-like of shape (n_samples,), optional
    batch_size : int, default=10000
        Rows per ``partial_fit`` call.
    progress : callable, optional
        ``progress(rows_done, n_rows)`` after every batch (progress bars).

    Returns
    -------
    estimator
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if type(source).__module__.startswith("dask"):
        n = int(source.shape[0])
        rows = lambda lo, hi: np.asarray(source[lo:hi].compute())  # noqa: E731
    else:
        win = _Windows(source)
        n, rows = win.n, win
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sw is not None and sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    for lo in range(0, n, int(batch_size)):
        hi = min(n, lo + int(batch_size))
        estimator.partial_fit(rows(lo, hi), sample_weight=None if sw is None else sw[lo:hi])
        if progress is not None:
            progress(hi, n)
    return estimator
