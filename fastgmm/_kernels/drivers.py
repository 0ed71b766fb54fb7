"""One short serial driver per use, each a pipeline of the stages over the
blocks of rows ``[lo, hi)``, writing chunk ``c`` of the accumulators.

Every driver has the same signature ``(X, sw, model, io, c, lo, hi, block,
acc)``: :func:`fastgmm._parallel.run_chunks` runs it over fixed chunks under a
``parallel=True`` runner (in-process) or one chunk after another (a dask task
on its block). ``sw`` holds the sample weights, or 0 rows for unit weights.

The drivers are written once, against the names ``log_prob``,
``accumulate`` and ``block_entropy``; :func:`for_model` compiles one copy per
model type (and per entropy stage) with those names bound to that type's
stages, which Numba then inlines (an ``overload``
that dispatched on the type per block cost a call with the work arrays'
reference counts per block: 4-8% of a pass at d = 8-16).
"""

import types as pytypes

import numpy as np
from numba import njit

from .._config import JIT, STAGE, built_once
from . import accumulate as _acc
from . import logprob as _lp
from .accumulate import accumulate, load_given
from .logprob import log_prob
from .models import ECL, ENTROPY, LL, WORST, WORST_INDEX, FullModel
from .normalise import _component_max, _expected_lp, _normalise, _responsibilities
from .work import _load, _work


@njit(**STAGE)
def _no_entropy(w, nb, C):
    """The EM pass's entropy stage: none (the EM bound needs none)."""
    return 0.0


@njit(**STAGE)
def _entropy(w, nb, C):
    """``sum_b w_b H(r_b)`` after :func:`_normalise`, with ``H(r) = -sum_k r log r
    = log p(x_b) - sum_k r lp_k`` over the components with r > 0: the entropy
    term of the variational bound, summed in the pass (``r = e / sum e``)."""
    ent = 0.0
    for b in range(nb):
        s = 0.0
        for k in range(C):
            r = w.e[k, b] * w.tx[b]
            if r > 0.0:
                s += r * w.lp[k, b]
        ent += w.w[b] * (w.logs[b] - s)
    return ent


block_entropy = _no_entropy  # what :func:`for_model` binds unless asked for the entropy


def em_chunk(X, sw, model, loglik, c, lo, hi, block, acc):
    """The fit pass: E-step, log-likelihood, the least likely point, the
    M-step's statistics and the ``block_entropy`` stage's sum; per-point
    log-likelihoods into ``loglik`` (N,) float64 when it has rows.

    Accumulators whose ``s2`` has no components' rows skip the statistics:
    ``score`` and ``score_samples`` run this pass so, one compiled driver fewer
    (a separate log-likelihood driver cost 1 s of a cold first ``score``)."""
    C = model.const.shape[0]
    w = _work(X, C, block)
    want_ll = loglik.shape[0] > 0
    want_stats = acc.s2.shape[1] > 0
    ll = 0.0
    ent = 0.0
    worst = np.inf
    worsti = lo
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load(X, sw, b0, nb, w)
        log_prob(model, w, nb)
        src, _ = _component_max(w, nb, C, False)
        wll, worst, wi = _normalise(w, nb, C, src, worst)
        ll += wll
        if wi >= 0:
            worsti = b0 + wi
        ent += block_entropy(w, nb, C)
        if want_ll:
            for b in range(nb):
                loglik[b0 + b] = w.logs[b]
        if want_stats:
            accumulate(model, w, X, b0, nb, w.e, w.fw, acc.nk[c], acc.s1[c], acc.s2[c])
    acc.sums[c, LL] = ll
    acc.sums[c, WORST] = worst
    acc.sums[c, WORST_INDEX] = worsti
    acc.sums[c, ENTROPY] = ent


def score_chunk(X, sw, model, out, c, lo, hi, block, acc):
    """Scoring: the weighted log-likelihood sum, and what ``out`` (a
    :class:`~fastgmm._kernels.models.ScoreOut`) asks for: per-point
    log-likelihoods, labels, responsibilities, the entropy sum."""
    C = model.const.shape[0]
    w = _work(X, C, block)
    want_lab = out.labels.shape[0] > 0
    want_resp = out.resp.shape[0] > 0
    want_ll = out.loglik.shape[0] > 0
    ll = 0.0
    ent = 0.0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load(X, sw, b0, nb, w)
        log_prob(model, w, nb)
        src, asrc = _component_max(w, nb, C, want_lab)
        wll, _, _ = _normalise(w, nb, C, src, -np.inf)
        ll += wll
        if want_resp or out.entropy:
            _responsibilities(w, nb, C)
        if out.entropy:
            _expected_lp(w, nb, C)
            for b in range(nb):
                ent += w.w[b] * (w.logs[b] - w.rlp[b])
        if want_ll:
            for b in range(nb):
                out.loglik[b0 + b] = w.logs[b]
        if want_lab:
            for b in range(nb):
                out.labels[b0 + b] = asrc[b]
        if want_resp:
            for b in range(nb):
                for k in range(C):
                    out.resp[b0 + b, k] = w.r[k, b]
    acc.sums[c, LL] = ll
    acc.sums[c, ENTROPY] = ent


def labels_chunk(X, sw, model, labels, c, lo, hi, block, acc):
    """The most probable component of each point into ``labels`` (N,) int64
    (``predict``): no exp or log, only the arg-max of the log-probabilities."""
    C = model.const.shape[0]
    w = _work(X, C, block)
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load(X, sw, b0, nb, w)
        log_prob(model, w, nb)
        _, asrc = _component_max(w, nb, C, True)
        for b in range(nb):
            labels[b0 + b] = asrc[b]


def assign_chunk(X, sw, model, given, c, lo, hi, block, acc):
    """The M-step's statistics from given assignments (no E-step): ``given`` is
    what :func:`~fastgmm._kernels.accumulate.load_given` takes."""
    C = model.const.shape[0]
    w = _work(X, C, block)
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load(X, sw, b0, nb, w)
        load_given(given, w, b0, nb, C)
        accumulate(model, w, X, b0, nb, w.r, w.w, acc.nk[c], acc.s1[c], acc.s2[c])


def bound_chunk(X, sw, model, resp, c, lo, hi, block, acc):
    """``sum_b w_b sum_k r log(w_k N(x_b | k))`` for given responsibilities
    (the classic bound's first term)."""
    C = model.const.shape[0]
    w = _work(X, C, block)
    ecl = 0.0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load(X, sw, b0, nb, w)
        log_prob(model, w, nb)
        load_given(resp, w, b0, nb, C)
        _expected_lp(w, nb, C)
        for b in range(nb):
            ecl += w.w[b] * w.rlp[b]
    acc.sums[c, ECL] = ecl


_compiled: dict = {}


def for_model(driver, model, entropy: bool = False):
    """``driver`` (one of the functions above) compiled for ``model``'s type:
    a copy of its code whose ``log_prob`` and ``accumulate`` are that type's
    stages (for 'full', the ones the model's dimension needs:
    :func:`fastgmm._kernels.logprob.stage_for`, and
    :func:`fastgmm._kernels.accumulate.stage_for` for the drivers that
    accumulate) and whose ``block_entropy`` sums the responsibilities' entropy
    (``entropy``: the variational fit pass) or nothing (each copy its own name,
    so Numba caches each on its own)."""
    cls = type(model)
    acc = _acc.stage_for(model) if "accumulate" in driver.__code__.co_names else _acc.STAGES[cls]
    lp = _lp.stage_for(model)

    def build():
        g = dict(
            driver.__globals__, log_prob=lp, accumulate=acc,
            block_entropy=_entropy if entropy else _no_entropy,
        )
        suffix = (lp.__name__[len("_lp_full"):] + acc.__name__[len("_acc_full"):]) if cls is FullModel else ""
        name = f"{driver.__name__}_{cls.__name__}{suffix}" + ("_entropy" if entropy else "")
        copy = pytypes.FunctionType(driver.__code__, g, name, driver.__defaults__, driver.__closure__)
        copy.__qualname__ = name
        copy.__module__ = driver.__module__
        copy.__doc__ = driver.__doc__
        return njit(**JIT)(copy)

    return built_once(_compiled, (driver, cls, lp, acc, entropy), build)
