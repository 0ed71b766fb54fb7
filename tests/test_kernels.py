"""The fused pass, the factorisation and the M-step against naive references.

Every kernel path (E-step outputs, statistics + M-step, M-step from given
responsibilities or labels, the expected complete log-likelihood) is checked
for float64 and float32 input, for every covariance type, and for several
``(d, C)`` including ``d = 1`` and ``C = 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal

import fastgmm
from fastgmm import _config
from fastgmm._kernels.linalg import _cholesky_inv
from fastgmm._kernels.mathfn import _exp_block, _log_block
from fastgmm._kernels.tiles import _accumulate as _tiles_accumulate
from fastgmm._kernels.tiles import _dots as _tiles_dots
from fastgmm._kernels.tiles import _second_moments as _tiles_second_moments
from fastgmm.em import fit as em_fit
from fastgmm.params import GMMParams, factorize
from fastgmm.sources import ArrayData as Data
from fastgmm.stats import assign_stats, em_stats, expected_complete_loglik, m_step, score

import naive

#: one tolerance per dtype: relative, and absolute on the data's scale
TOL = {np.float64: 1e-10, np.float32: 1e-4}
#: relative tolerance for integer sample weights against repeated rows
WEIGHT_RTOL = 1e-12

DTYPES = [np.float64, np.float32]
COV_TYPES = ["full", "tied", "diag", "spherical"]
# (d, C): d = 1, C = 1, C not a multiple of 4, d = 1..4 (the register path), d = 5..8
# (the d <= 8 register sweeps, each branch of their third sweep), d = 16 (fewer rows per
# block) and d = 11 (the general path; rows loaded by 8 x 8 transposed tiles with a
# ragged edge of columns)
SHAPES = [(1, 1), (1, 3), (2, 3), (3, 1), (4, 5), (5, 4), (6, 2), (2, 6), (7, 3), (8, 5), (16, 2), (11, 3)]
N = 777  # not a multiple of the 128-row block


def make_case(seed, d, C, ct, n=N, dtype=np.float64):
    """Data drawn from random parameters, and those parameters (float64)."""
    rng = np.random.RandomState(seed)
    w, m, c = naive.random_params(rng, C, d, ct)
    X = naive.sample_mixture(rng, n, w, m, c, ct).astype(dtype)
    return np.ascontiguousarray(X), GMMParams(w, m, c, ct)


def assert_close(actual, desired, dtype, scale=1.0, err_msg=""):
    tol = TOL[dtype]
    assert_allclose(actual, desired, rtol=tol, atol=tol * scale, err_msg=err_msg)


def fast_e_step(X, params):
    N_, C = X.shape[0], params.n_components
    resp = np.full((N_, C), np.nan, X.dtype)
    ll = np.full(N_, np.nan)
    lab = np.full(N_, -7, np.int64)
    f = factorize(params)
    score(X, f, resp=resp, loglik=ll, labels=lab)
    return resp, ll, lab, em_stats(X, None, f)


def eps_of(dtype):
    return float(np.finfo(dtype).eps)


# --------------------------------------------------------------------- E-step
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("d,C", SHAPES)
def test_e_step_outputs_match_naive(dtype, ct, d, C):
    X, p = make_case(1000 * d + C, d, C, ct, dtype=dtype)
    resp, ll, lab, st = fast_e_step(X, p)
    ref_resp, ref_ll, ref_lab = naive.e_step(X.astype(np.float64), p.weights, p.means, p.covariances, ct)

    assert resp.dtype == dtype and ll.dtype == np.float64 and lab.dtype == np.int64
    assert_close(resp, ref_resp, dtype, err_msg="responsibilities")
    assert_allclose(resp.sum(axis=1), 1.0, rtol=0, atol=10 * eps_of(dtype) * C)
    assert_close(ll, ref_ll, dtype, scale=np.abs(ref_ll).mean(), err_msg="log-likelihood")
    # labels: the kernel's argmax of log-probabilities; only near-ties may differ in float32
    lp = naive.weighted_log_prob(X.astype(np.float64), p.weights, p.means, p.covariances, ct)
    if C > 1:
        top2 = np.sort(lp, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e3 * TOL[dtype]
    else:
        clear = np.ones(len(X), bool)
    assert clear.mean() > 0.95
    assert_array_equal(lab[clear], ref_lab[clear])
    # the pass's summed log-likelihood and least likely point
    assert_close(st.ll, ref_ll.sum(), dtype, scale=np.abs(ref_ll).sum())
    assert st.worst_index == int(np.argmin(ll))
    assert st.worst_ll == pytest.approx(ll.min(), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_each_output_alone_equals_fused(dtype, ct):
    """Asking for one output at a time gives exactly what the fused pass gives."""
    X, p = make_case(7, 3, 4, ct, dtype=dtype)
    resp, ll, lab, _ = fast_e_step(X, p)
    f = factorize(p)
    r1 = np.empty_like(resp)
    score(X, f, resp=r1)
    l1 = np.empty_like(ll)
    score(X, f, loglik=l1)
    b1 = np.empty_like(lab)
    score(X, f, labels=b1)
    assert_array_equal(r1, resp)
    assert_array_equal(l1, ll)
    assert_array_equal(b1, lab)


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_tiny_inputs(n, ct):
    X, p = make_case(13, 3, 2, ct, n=n)
    resp, ll, lab, st = fast_e_step(X, p)
    ref_resp, ref_ll, ref_lab = naive.e_step(X, p.weights, p.means, p.covariances, ct)
    assert_allclose(resp, ref_resp, rtol=1e-10, atol=1e-12)
    assert_allclose(ll, ref_ll, rtol=1e-10)
    st = em_stats(X, None, factorize(p))
    assert_allclose(st.nk, ref_resp.sum(axis=0), rtol=1e-10, atol=1e-12)


def test_e_step_far_points_log_sum_exp():
    """Points thousands of standard deviations away: a density ratio of exp(-1e6)
    underflows without the max-subtracted log-sum-exp."""
    rng = np.random.RandomState(3)
    p = GMMParams(np.array([0.3, 0.7]), np.array([[0.0, 0.0], [1.0, 0.0]]), np.stack([np.eye(2)] * 2), "full")
    X = np.ascontiguousarray(rng.standard_normal((50, 2)) + np.array([2000.0, -1500.0]))
    resp, ll, lab, _ = fast_e_step(X, p)
    ref_resp, ref_ll, ref_lab = naive.e_step(X, p.weights, p.means, p.covariances)
    assert np.all(np.isfinite(ll)) and np.all(ll < -1e6)
    assert_allclose(resp, ref_resp, rtol=1e-10, atol=1e-12)
    assert_allclose(ll, ref_ll, rtol=1e-12)
    assert_array_equal(lab, ref_lab)
    assert_array_equal(lab, 1)  # component 1 is nearer to every point


@pytest.mark.parametrize("ct", COV_TYPES)
def test_zero_weight_component_gets_no_responsibility(ct):
    X, p = make_case(11, 2, 3, ct)
    p.weights = np.array([0.4, 0.6, 0.0])
    resp, ll, lab, _ = fast_e_step(X, p)
    ref_resp, ref_ll, _ = naive.e_step(X, p.weights, p.means, p.covariances, ct)
    assert np.all(resp[:, 2] == 0.0)
    assert np.all(lab != 2)
    assert_allclose(resp, ref_resp, rtol=1e-10, atol=1e-10)
    assert_allclose(ll, ref_ll, rtol=1e-10)


# ------------------------------------------------------------ stats + M-step
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("d,C", SHAPES)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_stats_and_m_step_match_naive(dtype, ct, d, C, reg_covar):
    X, p = make_case(77 * d + C, d, C, ct, dtype=dtype)
    st = em_stats(X, None, factorize(p))
    new = m_step(st, ct, reg_covar, eps_of(dtype))
    X64 = X.astype(np.float64)
    ref_resp, ref_ll, _ = naive.e_step(X64, p.weights, p.means, p.covariances, ct)
    w, m, c = naive.m_step(X64, ref_resp, ct, reg_covar, eps=eps_of(dtype))

    scale = np.abs(X64).max()
    assert new.covariance_type == ct
    assert new.weights.shape == (C,) and new.means.shape == (C, d) and new.covariances.shape == np.shape(c)
    assert_close(st.nk, ref_resp.sum(axis=0), dtype, scale=len(X), err_msg="nk")
    assert_close(st.ll, ref_ll.sum(), dtype, scale=np.abs(ref_ll).sum(), err_msg="ll")
    assert_close(new.weights, w, dtype, err_msg="weights")
    assert new.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert_close(new.means, m, dtype, scale=scale, err_msg="means")
    assert_close(new.covariances, c, dtype, scale=np.abs(c).max(), err_msg="covariances")
    if ct in ("full", "tied"):
        cov = new.covariances
        assert_allclose(cov, np.swapaxes(cov, -1, -2), rtol=1e-13, atol=1e-13 * np.abs(cov).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_m_step_from_given_responsibilities(dtype, ct):
    """The pass with ``resp_in`` (M-step from arbitrary responsibilities), and the
    expected complete log-likelihood it returns with ``want_ecl``."""
    d, C = 3, 4
    X, p = make_case(5, d, C, ct, n=600, dtype=dtype)
    rng = np.random.RandomState(8)
    resp = rng.dirichlet(np.full(C, 0.5), size=len(X))
    resp[:20, 0] = 0.0  # exact zeros: 0 * log-prob contributes nothing
    resp /= resp.sum(axis=1, keepdims=True)
    resp_x = np.ascontiguousarray(resp, dtype=dtype)
    X64 = X.astype(np.float64)
    mean = X64.mean(axis=0)
    st = assign_stats(X, None, ct, C, mean, resp_x)
    new = m_step(st, ct, 1e-6, eps_of(dtype))
    w, m, c = naive.m_step(X64, resp_x.astype(np.float64), ct, 1e-6, eps=eps_of(dtype))
    assert_close(new.weights, w, dtype)
    assert_close(new.means, m, dtype, scale=np.abs(X64).max())
    assert_close(new.covariances, c, dtype, scale=np.abs(c).max())
    lp = naive.weighted_log_prob(X64, p.weights, p.means, p.covariances, ct)
    r64 = resp_x.astype(np.float64)
    ecl = float(np.sum(np.where(r64 > 0, r64 * lp, 0.0)))
    got = expected_complete_loglik(X, factorize(p), resp_x)
    assert_close(got, ecl, dtype, scale=np.abs(r64 * lp).sum())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_m_step_from_labels(dtype, ct):
    """Hard labels; -1 marks rows that belong to no component."""
    d, C = 2, 3
    X, p = make_case(9, d, C, ct, n=500, dtype=dtype)
    rng = np.random.RandomState(4)
    labels = rng.randint(-1, C, size=len(X)).astype(np.int64)
    resp = np.zeros((len(X), C))
    for k in range(C):
        resp[labels == k, k] = 1.0
    X64 = X.astype(np.float64)
    mean = X64.mean(axis=0)
    st = assign_stats(X, None, ct, C, mean, labels)
    assert_array_equal(st.nk, np.bincount(labels[labels >= 0], minlength=C))
    new = m_step(st, ct, 0.0, eps_of(dtype))
    if ct == "tied":
        # the pooled second moment of 'tied' runs over every row (weights only)
        keep = labels >= 0
        w, m, c = naive.m_step(X64[keep], resp[keep], ct, 0.0, eps=eps_of(dtype))
        all_rows = np.sum((X64 - mean)[:, :, None] * (X64 - mean)[:, None, :], axis=0)
        kept = np.sum((X64[keep] - mean)[:, :, None] * (X64[keep] - mean)[:, None, :], axis=0)
        c = c + (all_rows - kept) / st.nk.sum()
    else:
        w, m, c = naive.m_step(X64, resp, ct, 0.0, eps=eps_of(dtype))
    assert_close(new.weights, w, dtype)
    assert_close(new.means, m, dtype, scale=np.abs(X64).max())
    assert_close(new.covariances, c, dtype, scale=np.abs(c).max())


@pytest.mark.parametrize("ct", COV_TYPES)
def test_pass_over_row_range_merges(ct):
    """Statistics of [0, a) merged with [a, N) equal those of the whole pass."""
    X, p = make_case(21, 3, 3, ct, n=1000)
    f = factorize(p)
    whole = em_stats(X, None, f)
    a = 389
    left = em_stats(X, None, f, stop=a)
    right = em_stats(X, None, f, start=a)
    both = left.merge(right)
    assert_allclose(both.nk, whole.nk, rtol=1e-12)
    assert_allclose(both.s1, whole.s1, rtol=1e-10, atol=1e-10)
    assert_allclose(both.s2, whole.s2, rtol=1e-12, atol=1e-10)
    assert both.ll == pytest.approx(whole.ll, rel=1e-12)
    assert both.worst_ll == whole.worst_ll and both.worst_index == whole.worst_index


@pytest.mark.parametrize("ct", ["full", "tied"])
def test_m_step_covariances_exactly_symmetric(ct):
    asym = []
    for seed in range(5):
        X, p = make_case(seed, 3, 4, ct, n=500)
        cov = m_step(em_stats(X, None, factorize(p)), ct, 1e-6, eps_of(np.float64)).covariances
        asym.append(not np.array_equal(cov, np.swapaxes(cov, -1, -2)))
    assert not any(asym), f"asymmetric in {sum(asym)} of 5 cases"


# ----------------------------------------------------------------- factorize
@pytest.mark.parametrize("ct", COV_TYPES)
def test_factorize_matches_numpy(ct):
    d, C = 4, 3
    _, p = make_case(31, d, C, ct, n=10)
    f = factorize(p)
    assert f.bad.size == 0
    full = naive.full_covariances(p.covariances, ct, C, d)
    for k in range(C):
        _, logdet = np.linalg.slogdet(full[k])
        assert f.half_logdet[k] == pytest.approx(-0.5 * logdet, rel=1e-12)
    if ct == "full":
        prec = f.prec_chol @ np.swapaxes(f.prec_chol, 1, 2)
        assert_allclose(prec, np.linalg.inv(full), rtol=1e-10, atol=1e-12)
    elif ct == "tied":
        assert_allclose(f.prec_chol @ f.prec_chol.T, np.linalg.inv(p.covariances), rtol=1e-10, atol=1e-12)
    else:  # diag (C, d) and spherical (C,)
        assert_allclose(f.prec_chol**2, 1.0 / p.covariances, rtol=1e-14)


@pytest.mark.parametrize(
    "ct,cov,bad",
    [
        ("full", np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]], np.eye(2)]), [1]),
        ("full", np.array([np.zeros((2, 2)), np.eye(2), np.full((2, 2), np.nan)]), [0, 2]),
        ("tied", np.array([[1.0, 1.0], [1.0, 1.0]]), [0, 1, 2]),
        ("diag", np.array([[1.0, 1.0], [1.0, 0.0], [-1.0, 2.0]]), [1, 2]),
        ("spherical", np.array([1.0, np.inf, 0.0]), [1, 2]),
    ],
)
def test_factorize_reports_bad_components(ct, cov, bad):
    p = GMMParams(np.full(3, 1 / 3), np.zeros((3, 2)), cov, ct)
    f = factorize(p)
    assert_array_equal(f.bad, bad)
    assert np.all(np.isfinite(f.prec_chol)) and np.all(np.isfinite(f.half_logdet))


# ---------------------------------------------------------------- Cholesky
@pytest.mark.parametrize("d", [1, 2, 5, 8])
def test_cholesky_inv_matches_numpy(d):
    rng = np.random.RandomState(d)
    A = rng.standard_normal((3, d, d))
    cov = np.ascontiguousarray(A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(d))
    linv = np.full_like(cov, np.nan)
    status = np.full(3, 99, np.int64)
    logdet = _cholesky_inv(cov, linv, status)
    assert_array_equal(status, 0)
    for k in range(3):
        L = np.linalg.cholesky(cov[k])
        assert_allclose(linv[k], np.linalg.inv(L), rtol=1e-10, atol=1e-12)
        assert_array_equal(np.triu(linv[k], 1), 0.0)  # lower triangular, exactly
        assert logdet[k] == pytest.approx(-np.log(np.diag(L)).sum(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "bad_matrix,col",
    [
        ([[1.0, 2.0], [2.0, 1.0]], 2),  # indefinite: second pivot negative
        ([[1.0, 1.0], [1.0, 1.0]], 2),  # singular: second pivot zero
        ([[-1.0, 0.0], [0.0, 1.0]], 1),  # negative first pivot
        ([[np.nan, np.nan], [np.nan, np.nan]], 1),  # NaN
        ([[1.0, 0.0], [0.0, np.nan]], 2),
        ([[np.inf, 0.0], [0.0, 1.0]], 1),
    ],
)
def test_cholesky_inv_status_for_bad_matrix(bad_matrix, col):
    good = np.array([[2.0, 0.5], [0.5, 1.0]])
    cov = np.ascontiguousarray(np.array([good, bad_matrix, good]))
    linv = np.full_like(cov, np.nan)
    status = np.zeros(3, np.int64)
    logdet = _cholesky_inv(cov, linv, status)
    assert status[1] == col
    assert status[0] == 0 and status[2] == 0
    assert np.all(np.isfinite(linv)) and np.all(np.isfinite(logdet))
    assert_array_equal(linv[1], np.eye(2))
    assert logdet[1] == 0.0
    # the good matrices after the bad one are not polluted by its partial factor
    L = np.linalg.cholesky(good)
    assert_allclose(linv[2], np.linalg.inv(L), rtol=1e-12)
    assert_array_equal(linv[0], linv[2])


# ------------------------------------------------------------- translation
@pytest.mark.parametrize("ct", COV_TYPES)
def test_offset_data_gives_same_step(ct):
    """One E+M step on data offset by 1e6 equals the step on centred data."""
    off = 1e6
    X, p = make_case(41, 3, 3, ct, n=1500)
    Xo = np.ascontiguousarray(X + off)
    po = GMMParams(p.weights, p.means + off, p.covariances, ct)
    a = m_step(em_stats(X, None, factorize(p)), ct, 1e-6, eps_of(np.float64))
    b = m_step(em_stats(Xo, None, factorize(po)), ct, 1e-6, eps_of(np.float64))
    assert_allclose(b.weights, a.weights, rtol=1e-6)
    assert_allclose(b.means - off, a.means, rtol=1e-6, atol=1e-6)
    assert_allclose(b.covariances, a.covariances, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_offset_data_gives_same_fit(ct):
    """A whole fit (k-means initialisation included) is translation invariant."""
    off = 1e6
    X, _ = make_case(43, 2, 3, ct, n=900)
    Xo = np.ascontiguousarray(X + off)
    a, _ = em_fit(Data(X), 3, ct, tol=1e-6, max_iter=300, random_state=np.random.RandomState(0))
    b, _ = em_fit(Data(Xo), 3, ct, tol=1e-6, max_iter=300, random_state=np.random.RandomState(0))
    assert_allclose(b.params.means - off, a.params.means, rtol=1e-6, atol=1e-6)
    assert_allclose(b.params.covariances, a.params.covariances, rtol=1e-6, atol=1e-9)
    assert_allclose(b.params.weights, a.params.weights, rtol=1e-6)
    assert b.lower_bound == pytest.approx(a.lower_bound, rel=1e-6)


# ------------------------------------------------------------- determinism
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_bit_identical_for_1_and_2_threads(dtype, ct):
    n = 2 * 2048 + 1234
    rows = _config.chunk_rows(n)
    assert -(-n // rows) >= 2, "the data must span several chunks"
    X, p = make_case(51, 3, 4, ct, n=n, dtype=dtype)
    f = factorize(p)

    def once(threads):
        resp = np.empty((n, 4), dtype)
        ll = np.empty(n)
        lab = np.empty(n, np.int64)
        with fastgmm.num_threads(threads):
            assert fastgmm.get_num_threads() == threads
            score(X, f, resp=resp, loglik=ll, labels=lab)
            st = em_stats(X, None, f)
            new = m_step(st, ct, 1e-6, eps_of(dtype))
        return resp, ll, lab, st, new

    one, two = once(1), once(2)
    for a, b in zip(one[:3], two[:3]):
        assert np.array_equal(a, b)
    s1, s2 = one[3], two[3]
    assert np.array_equal(s1.nk, s2.nk) and np.array_equal(s1.s1, s2.s1) and np.array_equal(s1.s2, s2.s2)
    assert s1.ll == s2.ll and s1.worst_index == s2.worst_index
    for name in ("weights", "means", "covariances"):
        assert np.array_equal(getattr(one[4], name), getattr(two[4], name)), name


def test_whole_fit_bit_identical_for_1_and_2_threads():
    n = 2 * 2048 + 500
    X, _ = make_case(52, 2, 3, "full", n=n)

    def once(threads):
        with fastgmm.num_threads(threads):
            res, _ = em_fit(Data(X), 3, "full", tol=1e-8, max_iter=50, random_state=np.random.RandomState(1))
        return res

    a, b = once(1), once(2)
    assert a.n_iter == b.n_iter
    assert a.lower_bounds == b.lower_bounds
    assert np.array_equal(a.params.means, b.params.means)
    assert np.array_equal(a.params.covariances, b.params.covariances)


def test_num_threads_is_restored_and_validated():
    before = fastgmm.get_num_threads()
    with fastgmm.num_threads(1):
        assert fastgmm.get_num_threads() == 1
        with fastgmm.num_threads(2):
            assert fastgmm.get_num_threads() == 2
        assert fastgmm.get_num_threads() == 1
    assert fastgmm.get_num_threads() == before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_threads"):
            with fastgmm.num_threads(bad):
                pass


# ----------------------------------------------------------- sample weights
@pytest.mark.parametrize("ct", COV_TYPES)
def test_integer_weights_equal_repeated_rows(ct):
    X, p = make_case(61, 3, 3, ct, n=400)
    rng = np.random.RandomState(2)
    sw_int = rng.randint(0, 4, size=len(X))
    Xr = np.ascontiguousarray(np.repeat(X, sw_int, axis=0))
    f = factorize(p)
    a = em_stats(X, sw_int.astype(np.float64), f)
    b = em_stats(Xr, None, f)
    assert_allclose(a.nk, b.nk, rtol=WEIGHT_RTOL)
    assert_allclose(a.s1, b.s1, rtol=WEIGHT_RTOL, atol=WEIGHT_RTOL * np.abs(b.s1).max())
    assert_allclose(a.s2, b.s2, rtol=WEIGHT_RTOL, atol=WEIGHT_RTOL * np.abs(b.s2).max())
    assert a.ll == pytest.approx(b.ll, rel=WEIGHT_RTOL)
    pa = m_step(a, ct, 1e-6, eps_of(np.float64))
    pb = m_step(b, ct, 1e-6, eps_of(np.float64))
    assert_allclose(pa.weights, pb.weights, rtol=WEIGHT_RTOL)
    assert_allclose(pa.means, pb.means, rtol=1e-10, atol=1e-12)
    assert_allclose(pa.covariances, pb.covariances, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_real_weights_match_naive(dtype, ct):
    X, p = make_case(62, 2, 3, ct, n=500, dtype=dtype)
    sw = np.random.RandomState(3).uniform(0.0, 3.0, size=len(X))
    st = em_stats(X, sw, factorize(p))
    new = m_step(st, ct, 1e-6, eps_of(dtype))
    X64 = X.astype(np.float64)
    resp, ll, _ = naive.e_step(X64, p.weights, p.means, p.covariances, ct)
    w, m, c = naive.m_step(X64, resp, ct, 1e-6, sample_weight=sw, eps=eps_of(dtype))
    assert_close(st.ll, np.sum(sw * ll), dtype, scale=np.abs(sw * ll).sum())
    assert_close(new.weights, w, dtype)
    assert_close(new.means, m, dtype, scale=np.abs(X64).max())
    assert_close(new.covariances, c, dtype, scale=np.abs(c).max())


def _weighted_per_block(resp, sw, d, itemsize):
    """Points with non-zero weight per (block, component), for the pass's blocks."""
    block = _config.block_rows(d, itemsize)
    nz = resp != 0
    if sw is not None:
        nz &= (sw != 0)[:, None]
    return np.array([nz[b : b + block].sum(axis=0) for b in range(0, len(resp), block)]), block


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "ct,d", [("full", 16), ("full", 32), ("full", 33), ("diag", 16), ("diag", 33), ("spherical", 33), ("tied", 33)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_responsibilities_match_naive(dtype, ct, d, weighted):
    """Separated components, so most responsibilities underflow to exactly 0
    and the statistics gather the few weighted points of each block; two heavy
    components overlap, so their blocks stay dense. Zero sample weights on a
    run of rows make some blocks sparse for every component."""
    C = 20
    rng = np.random.RandomState(d)
    w, m, c = naive.random_params(rng, C, d, ct, spread=40.0)
    w[:2] = 0.35
    w[2:] *= 0.3 / w[2:].sum()
    m[1] = m[0] + 0.5
    X = np.ascontiguousarray(naive.sample_mixture(rng, 3000, w, m, c, ct).astype(dtype))
    p = GMMParams(w, m, c, ct)
    sw = None
    if weighted:
        sw = rng.uniform(0.5, 2.0, size=len(X))
        sw[600:1500] = 0.0
    resp = np.empty((len(X), C), dtype)
    score(X, factorize(p), resp=resp)
    # both paths run: the gathered one (at most 1/32 of a block: diag's smallest
    # threshold, float32 on AVX-512) and the dense one (over half: full's)
    counts, block = _weighted_per_block(resp, sw, d, X.itemsize)
    assert np.any((counts > 0) & (counts <= block // 32))
    assert np.any(counts > block // 2)
    st = em_stats(X, sw, factorize(p))
    new = m_step(st, ct, 1e-6, eps_of(dtype))
    X64 = X.astype(np.float64)
    ref_resp, ref_ll, _ = naive.e_step(X64, p.weights, p.means, p.covariances, ct)
    rw, rm, rc = naive.m_step(X64, ref_resp, ct, 1e-6, sample_weight=sw, eps=eps_of(dtype))
    assert_close(new.weights, rw, dtype)
    assert_close(new.means, rm, dtype, scale=np.abs(X64).max())
    assert_close(new.covariances, rc, dtype, scale=np.abs(rc).max())


# ------------------------------------------------------- heterogeneous scales
@pytest.mark.parametrize("offset", [0.0, 1e3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
@pytest.mark.parametrize("d", [2, 8, 12, 32])
def test_tight_component_next_to_wide_one(dtype, ct, offset, d):
    """A component with sd 1e-3 at distance 10 from one with sd 1, near the
    origin or 1e3 away from it: each component's covariance is accurate
    relative to its own scale, and so is the per-point log-likelihood
    (full: d = 2 and 8 by register sweeps; d = 12 by products along points
    on AVX-512, by outer-product tiles on AVX2 in float64; d = 32 by tiles)."""
    rng = np.random.RandomState(0)
    means = np.zeros((2, d))
    means[1, 0] = 10.0
    means += offset
    var = np.array([1e-6, 1.0])
    cov = {
        "full": np.stack([v * np.eye(d) for v in var]),
        "diag": np.repeat(var[:, None], d, axis=1),
        "spherical": var,
    }[ct]
    p = GMMParams(np.array([0.5, 0.5]), means, cov, ct)
    X = np.ascontiguousarray(naive.sample_mixture(rng, 500, p.weights, means, cov, ct).astype(dtype))
    X64 = X.astype(np.float64)
    ll = np.empty(len(X))
    st = em_stats(X, None, factorize(p))
    score(X, factorize(p), loglik=ll)
    new = m_step(st, ct, 0.0, eps_of(dtype))
    resp, ref_ll, _ = naive.e_step(X64, p.weights, means, cov, ct)
    _, m, c = naive.m_step(X64, resp, ct, 0.0, eps=eps_of(dtype))
    assert_allclose(ll, ref_ll, rtol=TOL[dtype], atol=TOL[dtype] * d)
    assert_allclose(new.means, m, rtol=TOL[dtype], atol=TOL[dtype] * 10.0)
    assert_allclose(st.s1.sum(axis=1) / st.nk + st.shift.sum(axis=1), m.sum(axis=1), rtol=TOL[dtype])
    for k in range(2):
        assert_allclose(new.covariances[k], c[k], rtol=TOL[dtype], atol=TOL[dtype] * var[k], err_msg=f"component {k}")


# ------------------------------------------------------------ polynomial exp/log
# the kernels below are compiled-code only (no Python wrapper): called through these


@njit
def _exp_block_py(t, m, out, acc, n):
    _exp_block(t, m, out, acc, n)


@njit
def _log_block_py(s, out, n):
    _log_block(s, out, n)


@njit
def _dots_py(phi, c, d, nb, a, d4, out, tri, ss):
    _tiles_dots(phi, c, d, nb, a, d4, out, tri, ss)


@njit
def _accumulate_py(phi, d, nb, rw, d4, t, tri, zero):
    _tiles_accumulate(phi, d, nb, rw, d4, t, tri, zero)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_and_log_polynomials_match_numpy(dtype):
    """The kernels' own exp (for t <= 0) and log (for s in [1, C]) against
    NumPy's, in float64 and float32; exp underflows to exactly 0."""
    exp, log = _exp_block_py, _log_block_py  # the dtype picks _exp64 / _exp32 (and log)
    ulp = np.finfo(dtype).eps
    rng = np.random.RandomState(0)
    t = np.concatenate([-rng.exponential(20.0, 3000), [0.0, -1e-30, -0.5, -700.0, -1e4, -np.inf]]).astype(dtype)
    out = np.empty_like(t)
    # the fused subtraction (exp(t - m)) and running sum (acc += out)
    m = np.full(len(t), 2.0, dtype)
    acc = np.full(len(t), 0.5, dtype)
    exp(t + m, m, out, acc, len(t))
    shifted = out.copy()
    assert np.array_equal(acc, (0.5 + shifted).astype(dtype))
    zero = np.zeros(len(t), dtype)
    exp(t, zero, out, acc, len(t))
    assert_allclose(shifted, out, rtol=8 * ulp, atol=0)
    ref = np.exp(t.astype(np.float64))
    tiny = np.finfo(dtype).tiny
    normal = ref > 1e3 * tiny
    # relative error within (4 + |t|) ulp: reassociation under fastmath may fold
    # the two-constant ln 2 reduction, an error that grows with |t| (at most
    # 8e-14 near the underflow in float64, far below what a responsibility of
    # that size could show)
    err = np.abs(out[normal] - ref[normal]) / ref[normal]
    assert np.all(err <= (4 + np.abs(t[normal].astype(np.float64))) * ulp), err.max()
    assert np.all(out[ref < tiny * 1e-3] == 0.0)
    assert out[-1] == 0.0  # exp(-inf)
    s = np.concatenate([1.0 + 63.0 * rng.rand(3000), [1.0, 2.0, np.sqrt(2.0), 64.0]]).astype(dtype)
    out = np.empty_like(s)
    log(s, out, len(s))
    assert_allclose(out, np.log(s.astype(np.float64)), rtol=0, atol=4 * ulp * np.log(64.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [5, 8, 13, 32, 64])
@pytest.mark.parametrize("nb", [1, 7, 16, 37, 128])
@pytest.mark.parametrize("tri", [True, False])
def test_dots_register_tiles_match_numpy(dtype, d, nb, tri):
    # _dots runs register tiles of TILE_BYTES of points, so a block whose
    # length is not a multiple of the tile reads and writes the rows' padding
    from fastgmm._kernels.tiles import TILE_BYTES

    _dots = _dots_py

    rng = np.random.RandomState(d * 1000 + nb)
    d4 = -(-d // 4) * 4
    ld = 128 + TILE_BYTES // np.dtype(dtype).itemsize  # the kernel's padded rows
    phi = np.zeros((d, ld), dtype)
    phi[:, :nb] = rng.standard_normal((d, nb))
    c = rng.standard_normal(d).astype(dtype)  # the centre the tiles subtract
    a = np.zeros((d4, d), dtype)
    a[:d] = np.tril(rng.standard_normal((d, d))) if tri else rng.standard_normal((d, d))
    out = np.full((d4, ld), np.nan, dtype)
    ss = np.full(ld, np.nan, dtype)
    _dots(phi, c, d, nb, a, d4, out, tri, ss)
    centred = phi[:, :nb].astype(np.float64) - c.astype(np.float64)[:, None]
    ref = a.astype(np.float64) @ centred
    tol = TOL[dtype] * np.abs(a).sum(axis=1, keepdims=True) * np.abs(centred).max()
    assert np.all(np.abs(out[:, :nb] - ref) <= tol)
    assert_allclose(ss[:nb], (ref**2).sum(axis=0), rtol=100 * TOL[dtype])
    # no squares wanted: ss has no rows, and the same products come out
    out2 = np.full((d4, ld), np.nan, dtype)
    _dots(phi, c, d, nb, a, d4, out2, tri, ss[:0].copy())
    assert_array_equal(out2[:, :nb], out[:, :nb])


@njit
def _second_moments_py(p, s, rd, d, nb, t):
    _tiles_second_moments(p, s, rd, d, nb, t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [5, 8, 13, 16, 17, 24, 33, 64])
@pytest.mark.parametrize("nb", [1, 7, 37, 128])
def test_second_moments_tiles_match_numpy(dtype, d, nb):
    # outer-product tiles: the lower triangle of RD (P - s), rows of T past d
    # untouched; junk past nb (points) and past d (features) never counts
    from fastgmm._kernels.tiles import OUTER_ROWS, VECTOR_BYTES

    rng = np.random.RandomState(d * 1000 + nb)
    v = VECTOR_BYTES // np.dtype(dtype).itemsize
    ldp = v if d <= v else -(-d // (2 * v)) * 2 * v
    d4, dr = -(-d // 4) * 4, -(-d // OUTER_ROWS) * OUTER_ROWS
    p = np.full((128, ldp), 7.0, dtype)
    p[:nb, :d] = rng.standard_normal((nb, d)) + 3.0
    s = np.full(ldp, 9.0, dtype)
    s[:d] = rng.standard_normal(d)
    rd = np.full((dr, 128 + 16), 5.0, dtype)
    rd[:, :nb] = 0.0
    rd[:d, :nb] = rng.standard_normal((d, nb))
    t0 = rng.standard_normal((d4, d))
    t = t0.copy()
    _second_moments_py(p, s, rd, d, nb, t)
    diff = p[:nb, :d].astype(np.float64) - s[:d].astype(np.float64)
    ref = t0[:d] + rd[:d, :nb].astype(np.float64) @ diff
    lower = np.tril(np.ones((d, d), bool))
    scale = np.abs(rd[:d, :nb]).max() * np.abs(diff).max() * nb
    assert np.all(np.abs(t[:d][lower] - ref[lower]) <= TOL[dtype] * max(scale, 1.0))
    assert_array_equal(t[d:], t0[d:])  # rows past d: zero weights, never junk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [5, 8, 13, 16, 32, 64])
@pytest.mark.parametrize("nb", [1, 7, 37, 128])
@pytest.mark.parametrize("tri", [True, False])
def test_accumulate_tiles_match_numpy(dtype, d, nb, tri):
    # second moments by 4 x 2 reductions along points; junk past nb is never read
    from fastgmm._kernels.tiles import TILE_BYTES

    _accumulate = _accumulate_py

    rng = np.random.RandomState(d * 1000 + nb)
    d4 = -(-d // 4) * 4
    ld = 128 + TILE_BYTES // np.dtype(dtype).itemsize
    phi = np.full((d, ld), 7.0, dtype)  # junk past nb must not count
    phi[:, :nb] = rng.standard_normal((d, nb))
    rw = np.full((d4, ld), 5.0, dtype)
    rw[:, :nb] = 0.0
    rw[:d, :nb] = rng.standard_normal((d, nb))
    t0 = rng.standard_normal((d4, d))
    t = t0.copy()
    _accumulate(phi, d, nb, rw, d4, t, tri, dtype(0))
    ref = t0 + rw[:, :nb].astype(np.float64) @ phi[:, :nb].astype(np.float64).T
    if tri:  # row group k (4 rows) stops at column k + 3: the rest is untouched
        k = np.arange(d4)[:, None] // 4 * 4 + 3
        keep = np.arange(d)[None, :] <= k
        assert_array_equal(t[~keep], t0[~keep])
        t, ref = t[keep], ref[keep]
    scale = np.abs(rw).max() * np.abs(phi[:, :nb]).max() * nb
    assert np.all(np.abs(t - ref) <= TOL[dtype] * max(scale, 1.0))

