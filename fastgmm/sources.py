"""Data sources: the one interface through which the EM driver sees data.

:func:`fastgmm.em.fit` knows nothing of where the rows live. It asks a
:class:`DataSource` for its shape, dtype and total weight, for one fit pass at
given parameters, for a row by index (the re-seed point), for the data's
moments, and for the in-memory rows to initialise on. Three kinds of data
implement it:

* :class:`ArrayData`: an in-memory array or memmap (the passes run in parallel
  over fixed row chunks);
* :class:`StreamData` with a block reducer: the windows of a file larger than
  memory (:mod:`fastgmm.outofcore`) or the blocks of a dask array
  (:mod:`fastgmm.distributed`).

Statistics of disjoint row blocks add (:meth:`fastgmm.stats.SufficientStats.merge`),
and moments come from two one-component passes
(:func:`fastgmm.stats.moments_from_passes`), for every source.
"""

from __future__ import annotations

from time import perf_counter
from typing import Callable, Protocol

import numpy as np

from .params import Factors
from .stats import SufficientStats, em_stats, moments_from_passes, one_component_stats

__all__ = ["DataSource", "ArrayData", "StreamData", "BlockPass", "INIT_SAMPLE_SIZE", "init_sample_rows", "is_source"]

#: rows a streamed source gathers into memory for the initialiser (at least 50 per component)
INIT_SAMPLE_SIZE = 100_000


class DataSource(Protocol):
    """What the EM driver needs of the data (validated: finite, float32/float64)."""

    n: int  #: rows
    n_features: int
    dtype: np.dtype  #: float32 or float64: the kernels' dtype
    total_weight: float  #: sum of the sample weights (``n`` without weights)
    eps: float  #: the dtype's machine epsilon

    def check(self) -> None:
        """Validate the values (finite; weights non-negative with a positive
        sum): the estimator calls it once, after its parameters passed."""

    def stats(self, factors: Factors, entropy: bool = False) -> SufficientStats:
        """One fit pass over all rows: E-step at ``factors``, log-likelihood,
        least likely point, the M-step's statistics (and with ``entropy`` the
        responsibilities' weighted entropy: :func:`fastgmm.stats.em_stats`)."""

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` in the source's dtype."""

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and covariance (float64)."""

    def init_data(self, rng: np.random.RandomState, n_components: int) -> "ArrayData":
        """In-memory rows for the initialiser (all rows, or a sample)."""


def is_source(obj) -> bool:
    """True when ``obj``'s class has the :class:`DataSource` methods. (Not
    ``isinstance(obj, DataSource)``: that reads every attribute, and so would
    compute a source's moments and run its checks.)"""
    cls = type(obj)
    return all(hasattr(cls, name) for name in ("check", "stats", "row", "moments", "init_data"))


class ArrayData:
    """An in-memory (or memory-mapped) C-contiguous float32/float64 ``X`` with
    optional float64 sample weights ``sw``."""

    def __init__(self, X: np.ndarray, sw: np.ndarray | None = None):
        self.X = X
        self.sw = sw
        self.n, self.n_features = X.shape
        self.dtype = X.dtype
        self.total_weight = float(self.n if sw is None else sw.sum())
        self.eps = float(np.finfo(X.dtype).eps)
        self._moments = None

    def check(self) -> None:
        """Nothing to do: the array was validated when the source was made."""

    def stats(self, factors: Factors, entropy: bool = False) -> SufficientStats:
        return em_stats(self.X, self.sw, factors, entropy=entropy)

    def row(self, i: int) -> np.ndarray:
        return self.X[int(i)]

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        if self._moments is None:
            self._moments = moments_from_passes(
                lambda center: one_component_stats(self.X, self.sw, center), self.X[0].astype(np.float64)
            )
        return self._moments

    def init_data(self, rng: np.random.RandomState, n_components: int = 1) -> "ArrayData":
        return self


def init_sample_rows(n: int, n_components: int, size: int | None = None) -> int:
    """Rows a streamed source initialises on: ``size`` (default
    :data:`INIT_SAMPLE_SIZE`), at least 50 per component, at most all."""
    size = INIT_SAMPLE_SIZE if size is None else int(size)
    return min(n, max(size, 50 * n_components))


#: ``kernel(X_block, sw_block, parallel) -> SufficientStats`` of one block
BlockKernel = Callable[[np.ndarray, "np.ndarray | None", bool], SufficientStats]
#: ``reduce(kernel) -> SufficientStats``: ``kernel`` over every block, merged in row order
BlockPass = Callable[[BlockKernel], SufficientStats]


def block_stats(kernel: BlockKernel, X: np.ndarray, sw, offset: int, parallel: bool) -> SufficientStats:
    """``kernel`` on one block, its least likely point made global (index
    shifted by ``offset``, the row kept so the driver never fetches it again)."""
    st = kernel(X, sw, parallel)
    if st.worst_index >= 0:
        st.worst_row = np.array(X[st.worst_index])
        st.worst_index += offset
    return st


class StreamData:
    """Data seen through passes over blocks: file windows or dask blocks.

    Parameters
    ----------
    n, n_features, dtype, total_weight
        Shape, kernel dtype (float32/float64) and sum of the sample weights
        (None: what ``check_fn`` returns).
    reduce
        ``reduce(kernel)``: ``kernel(X_block, sw_block, parallel)`` applied to
        every block (through :func:`block_stats`), the results merged in row order.
    row_fn
        ``row_fn(i) -> row i``.
    sample_fn
        ``sample_fn(idx) -> (X_sample, sw_sample or None)`` for sorted row
        indices, or all rows in order when ``idx`` is None.
    check_fn
        Optional ``check_fn()``: the validation pass over the values that
        :meth:`check` runs (``ValueError`` for NaN, infinity or bad weights);
        it returns the total weight.
    init_sample_size
        Rows the initialiser runs on (default :data:`INIT_SAMPLE_SIZE`).
    progress
        Optional ``progress(info)`` after every pass, with a dict: ``pass``
        (count, from 1), ``stage`` ('em' or 'moments'), ``rows``, ``seconds``
        and ``mean_log_likelihood`` (for 'em' passes the iteration's lower bound).
    """

    def __init__(
        self,
        n: int,
        n_features: int,
        dtype,
        total_weight: float | None,
        reduce: BlockPass,
        row_fn: Callable[[int], np.ndarray],
        sample_fn: Callable[[np.ndarray | None], tuple],
        *,
        check_fn: Callable[[], float] | None = None,
        init_sample_size: int | None = None,
        progress: Callable[[dict], None] | None = None,
    ):
        self.n = int(n)
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self._total = None if total_weight is None else float(total_weight)
        self.eps = float(np.finfo(self.dtype).eps)
        self.init_sample_size = init_sample_size
        self.n_passes = 0
        self._reduce = reduce
        self._row = row_fn
        self._sample = sample_fn
        self._progress = progress
        self._check = check_fn
        self._moments = None
        self._init_data = None
        self._worst: tuple[int, np.ndarray] | None = None

    @property
    def total_weight(self) -> float:
        if self._total is None:
            self.check()
        return self._total

    def check(self) -> None:
        if self._check is not None:
            total = self._check()
            self._check = None
            if self._total is None:
                self._total = float(total)

    def _pass(self, kernel: BlockKernel, stage: str) -> SufficientStats:
        t0 = perf_counter()
        st = self._reduce(kernel)
        self.n_passes += 1
        if st.worst_row is not None and st.worst_index >= 0:
            self._worst = (int(st.worst_index), st.worst_row)
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

    def stats(self, factors: Factors, entropy: bool = False) -> SufficientStats:
        return self._pass(lambda X, sw, par: em_stats(X, sw, factors, parallel=par, entropy=entropy), "em")

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` (the least likely point of the last pass is kept)."""
        if self._worst is not None and self._worst[0] == i:
            return self._worst[1].copy()
        return np.asarray(self._row(int(i)), self.dtype)

    @property
    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Two centred passes, computed once (only a re-seed needs them)."""
        if self._moments is None:
            self._moments = moments_from_passes(
                lambda c: self._pass(lambda X, sw, par: one_component_stats(X, sw, c, parallel=par), "moments"),
                self.row(0).astype(np.float64),
            )
        return self._moments

    def init_data(self, rng: np.random.RandomState, n_components: int = 1) -> ArrayData:
        """In-memory :class:`ArrayData` for the initialiser, drawn once: all rows
        in order when there are at most ``init_sample_size`` (then no random
        number is drawn, so the fit equals the in-memory one); otherwise a
        uniform sample of distinct rows, in order, with their weights."""
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
            self._init_data = ArrayData(Xs, sws)
        return self._init_data
