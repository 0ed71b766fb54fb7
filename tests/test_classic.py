"""The classic exercise's API: ``E_step``, ``M_step``, ``compute_vlb``, ``train_EM``.

Reference values come from ``../shared/data/README.md`` (computed independently
with SciPy); the rest is checked against :mod:`naive`.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgmm
from fastgmm import E_step, M_step, compute_vlb, train_EM

import naive

REL = 1e-10  # float64 agreement with the README's values and with naive.py
F32 = 1e-4  # float32 agreement (relative)

# from ../shared/data/README.md
GAMMA_9_1 = 0.5337178741081262
MU_1_1 = 2.899391882050383
SIGMA_1_1_1 = 5.977105216897526
PI_1 = 0.5507624459218776
VLB = -1213.9734643060183
LOCAL_OPT_LL = -1128.6186
GLOBAL_OPT_LL = -1063.81


@pytest.fixture(scope="module")
def X(samples):
    return samples["data"]


@pytest.fixture(scope="module")
def init(samples):
    return samples["pi0"], samples["mu0"], samples["sigma0"]


@pytest.fixture(scope="module")
def one_step(X, init):
    gamma = E_step(X, *init)
    pi, mu, sigma = M_step(X, gamma)
    return gamma, pi, mu, sigma


def random_model(seed, N=300, d=3, C=4):
    rng = np.random.RandomState(seed)
    w, m, c = naive.random_params(rng, C, d, "full")
    X = naive.sample_mixture(rng, N, w, m, c, "full")
    return X, w, m, c


# --------------------------------------------------------- reference values
def test_reference_values(X, init, one_step):
    gamma, pi, mu, sigma = one_step
    assert gamma[9, 1] == pytest.approx(GAMMA_9_1, rel=REL)
    assert mu[1, 1] == pytest.approx(MU_1_1, rel=REL)
    assert sigma[1, 1, 1] == pytest.approx(SIGMA_1_1_1, rel=REL)
    assert pi[1] == pytest.approx(PI_1, rel=REL)
    assert compute_vlb(X, pi, mu, sigma, gamma) == pytest.approx(VLB, rel=REL)


def test_shapes_and_dtypes(X, init, one_step):
    gamma, pi, mu, sigma = one_step
    assert gamma.shape == (280, 3) and gamma.dtype == np.float64
    assert pi.shape == (3,) and pi.dtype == np.float64
    assert mu.shape == (3, 2) and mu.dtype == np.float64
    assert sigma.shape == (3, 2, 2) and sigma.dtype == np.float64
    vlb = compute_vlb(X, pi, mu, sigma, gamma)
    assert isinstance(vlb, float)
    assert np.all(gamma >= 0) and np.all(gamma <= 1)
    assert_allclose(gamma.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert pi.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.array_equal(sigma, np.swapaxes(sigma, 1, 2))  # exactly symmetric
    for s in sigma:
        np.linalg.cholesky(s)  # positive definite


def test_inputs_are_not_modified(samples, init):
    X = samples["data"]  # read-only arrays: a write raises
    gamma = E_step(X, *init)
    pi, mu, sigma = M_step(X, gamma)
    compute_vlb(X, pi, mu, sigma, gamma)
    assert not X.flags.writeable


def test_array_likes_are_accepted(X, init):
    pi0, mu0, sigma0 = init
    g = E_step(X.tolist(), pi0.tolist(), mu0.tolist(), sigma0.tolist())
    assert_array_equal(g, E_step(X, pi0, mu0, sigma0))
    pi, mu, sigma = M_step(X.tolist(), g.tolist())
    assert_allclose(mu, M_step(X, g)[1], rtol=1e-14)


# ------------------------------------------------------------ against naive
def test_e_step_matches_naive_on_samples(X, init, one_step):
    gamma = one_step[0]
    ref, _, _ = naive.e_step(X, *init)
    assert_allclose(gamma, ref, rtol=REL, atol=1e-13)


@pytest.mark.parametrize("seed,d,C", [(0, 1, 1), (1, 1, 3), (2, 3, 4), (3, 5, 2)])
def test_classic_steps_match_naive(seed, d, C):
    X, w, m, c = random_model(seed, d=d, C=C)
    gamma = E_step(X, w, m, c)
    ref_g, ref_ll, _ = naive.e_step(X, w, m, c)
    assert_allclose(gamma, ref_g, rtol=REL, atol=1e-12)
    pi, mu, sigma = M_step(X, gamma)
    rpi, rmu, rsigma = naive.ml_m_step(X, gamma)
    assert_allclose(pi, rpi, rtol=REL)
    assert_allclose(mu, rmu, rtol=REL, atol=1e-12)
    assert_allclose(sigma, rsigma, rtol=REL, atol=1e-12)
    assert np.array_equal(sigma, np.swapaxes(sigma, 1, 2))
    assert compute_vlb(X, pi, mu, sigma, gamma) == pytest.approx(naive.vlb(X, pi, mu, sigma, gamma), rel=REL)
    # at the posterior of the same parameters the bound is the log-likelihood
    assert compute_vlb(X, w, m, c, gamma) == pytest.approx(ref_ll.sum(), rel=REL)


def test_vlb_zero_log_zero(X, init):
    """Hard assignments: 0 log 0 counts as 0, the bound stays finite."""
    gamma = E_step(X, *init)
    hard = np.zeros_like(gamma)
    hard[np.arange(len(X)), gamma.argmax(axis=1)] = 1.0
    v = compute_vlb(X, *init, hard)
    assert np.isfinite(v)
    assert v == pytest.approx(naive.vlb(X, *init, hard), rel=REL)
    # the posterior maximises the bound over q
    assert compute_vlb(X, *init, gamma) > v


def test_vlb_entropy_term_is_not_dropped(X, init):
    """Uniform gamma: the bound is E[log p] + N log C."""
    C = 3
    u = np.full((len(X), C), 1.0 / C)
    lp = naive.weighted_log_prob(X, *init)
    expected = float(np.sum(lp / C)) + len(X) * np.log(C)
    assert compute_vlb(X, *init, u) == pytest.approx(expected, rel=REL)


def test_zero_weight_component(X, init):
    """pi_k = 0: no responsibility for k, and 0 * log 0 terms vanish from the bound."""
    _, mu0, sigma0 = init
    pi = np.array([0.5, 0.5, 0.0])
    gamma = E_step(X, pi, mu0, sigma0)
    assert np.all(gamma[:, 2] == 0.0)
    v = compute_vlb(X, pi, mu0, sigma0, gamma)
    assert np.isfinite(v)
    assert v == pytest.approx(naive.vlb(X, pi, mu0, sigma0, gamma), rel=REL)
    assert v == pytest.approx(naive.log_likelihood(X, pi, mu0, sigma0), rel=REL)


def test_m_step_empty_component_is_zero(X, init):
    """Docstring: a component with zero total responsibility gets a zero mean and
    covariance (and weight 0); the others are the plain ML estimates."""
    gamma = np.array(E_step(X, *init))
    gamma[:, 2] = 0.0
    gamma /= gamma.sum(axis=1, keepdims=True)
    pi, mu, sigma = M_step(X, gamma)
    assert pi[2] == 0.0 and np.all(mu[2] == 0.0) and np.all(sigma[2] == 0.0)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))
    _, rmu, rsigma = naive.ml_m_step(X, gamma[:, :2])
    assert_allclose(mu[:2], rmu, rtol=REL)
    assert_allclose(sigma[:2], rsigma, rtol=REL)
    assert pi.sum() == pytest.approx(1.0, abs=1e-14)


def test_single_component(X):
    g = np.ones((len(X), 1))
    pi, mu, sigma = M_step(X, g)
    assert_allclose(pi, [1.0])
    assert_allclose(mu[0], X.mean(axis=0), rtol=1e-12)
    assert_allclose(sigma[0], np.cov(X.T, bias=True), rtol=1e-12)
    assert_allclose(E_step(X, pi, mu, sigma), 1.0)


def test_classic_em_loop_reaches_local_optimum(X, init):
    """Alternating the steps from pi0, mu0, sigma0: the bound never decreases and
    converges to the README's local optimum."""
    pi, mu, sigma = init
    prev = -np.inf
    for _ in range(500):
        gamma = E_step(X, pi, mu, sigma)
        v = compute_vlb(X, pi, mu, sigma, gamma)
        assert v >= prev - 1e-9 * abs(v)
        if v - prev < 1e-10:
            break
        prev = v
        pi, mu, sigma = M_step(X, gamma)
    assert v == pytest.approx(LOCAL_OPT_LL, abs=1e-3)


# ---------------------------------------------------------------- float32
def test_float32(X, init):
    X32 = X.astype(np.float32)
    g32 = E_step(X32, *init)
    assert g32.dtype == np.float32 and g32.shape == (280, 3)
    g64 = E_step(X, *init)
    assert_allclose(g32, g64, rtol=F32, atol=F32)
    pi, mu, sigma = M_step(X32, g32)
    rpi, rmu, rsigma = M_step(X, g64)
    assert_allclose(pi, rpi, rtol=F32)
    assert_allclose(mu, rmu, rtol=F32, atol=F32)
    assert_allclose(sigma, rsigma, rtol=F32, atol=F32)
    assert compute_vlb(X32, pi, mu, sigma, g32) == pytest.approx(
        compute_vlb(X, rpi, rmu, rsigma, g64), rel=F32
    )


# ------------------------------------------------------------------ memory
def test_nothing_of_size_n_by_n():
    N, d = 20000, 2
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N, d)) * 2.0 + 1.0
    pi = np.array([0.2, 0.3, 0.5])
    mu = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])
    sigma = np.stack([np.eye(2), [[2.0, 0.3], [0.3, 1.0]], 0.5 * np.eye(2)])
    gamma = E_step(X, pi, mu, sigma)  # compile/warm up outside the trace
    M_step(X, gamma)
    compute_vlb(X, pi, mu, sigma, gamma)
    budget = N * N * 8 // 1000  # 3.2 MB, a thousandth of an N x N float64 matrix
    for name, call in [
        ("E_step", lambda: E_step(X, pi, mu, sigma)),
        ("M_step", lambda: M_step(X, gamma)),
        ("compute_vlb", lambda: compute_vlb(X, pi, mu, sigma, gamma)),
    ]:
        tracemalloc.start()
        try:
            call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < budget, f"{name} peaked at {peak} bytes"


# ---------------------------------------------------------------- train_EM
def test_train_em_outputs(X):
    loss, pi, mu, sigma = train_EM(X, 3, random_state=0)
    assert isinstance(loss, float)
    assert pi.shape == (3,) and mu.shape == (3, 2) and sigma.shape == (3, 2, 2)
    assert pi.sum() == pytest.approx(1.0, abs=1e-12) and np.all(pi > 0)
    assert np.array_equal(sigma, np.swapaxes(sigma, 1, 2))  # exactly symmetric
    for s in sigma:
        np.linalg.cholesky(s)
    # the loss is the bound at the posterior of the returned parameters
    assert loss == pytest.approx(compute_vlb(X, pi, mu, sigma, E_step(X, pi, mu, sigma)), rel=REL)
    assert loss == pytest.approx(naive.log_likelihood(X, pi, mu, sigma), rel=REL)


def test_train_em_float32(X):
    X32 = X.astype(np.float32)
    loss, pi, mu, sigma = train_EM(X32, 3, random_state=0)
    assert loss == pytest.approx(GLOBAL_OPT_LL, abs=0.1)
    assert loss == pytest.approx(compute_vlb(X32, pi, mu, sigma, E_step(X32, pi, mu, sigma)), rel=F32)
    assert pi.shape == (3,) and mu.shape == (3, 2) and sigma.shape == (3, 2, 2)


def test_train_em_is_reproducible(X):
    a = train_EM(X, 3, restarts=3, random_state=7)
    b = train_EM(X, 3, restarts=3, random_state=np.random.RandomState(7))
    assert a[0] == b[0]
    for u, v in zip(a[1:], b[1:]):
        assert_array_equal(u, v)


def test_train_em_finds_global_optimum_for_most_seeds(X):
    losses = [train_EM(X, 3, random_state=seed)[0] for seed in range(20)]
    good = sum(loss >= -1064.5 for loss in losses)
    assert good >= 19, losses
    assert max(losses) <= GLOBAL_OPT_LL + 0.01  # no bound above the optimum


def test_train_em_tight_tolerance(X):
    loss, pi, mu, sigma = train_EM(X, 3, rtol=1e-10, max_iter=1000, random_state=0)
    assert loss == pytest.approx(-1063.811, abs=1e-3)


def test_train_em_more_restarts_never_worse(X):
    one = train_EM(X, 3, restarts=1, random_state=3)[0]
    many = train_EM(X, 3, restarts=5, random_state=3)[0]
    assert many >= one  # the first restart is the same run; the best is kept


def test_train_em_survives_collapse():
    """More components than distinct points: re-seeding keeps the fit finite."""
    rng = np.random.RandomState(0)
    X = np.repeat(rng.standard_normal((3, 2)) * 5.0, 30, axis=0)
    X = X + 1e-3 * rng.standard_normal(X.shape)
    loss, pi, mu, sigma = train_EM(X, 4, restarts=2, random_state=0)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))
    assert pi.sum() == pytest.approx(1.0)
    for s in sigma:
        np.linalg.cholesky(s)


def test_train_em_all_restarts_collapse(X, monkeypatch):
    """Restarts that collapse beyond recovery are skipped; when all do, the
    caller gets a FitFailedError (a ValueError) naming C."""
    from fastgmm import classic
    from fastgmm.em import _Collapsed

    calls = []

    def collapsing(*args, **kwargs):
        calls.append(1)
        raise _Collapsed()

    monkeypatch.setattr(classic, "em_run", collapsing)
    with pytest.raises(fastgmm.FitFailedError, match=r"\bC\b"):
        train_EM(X, 3, restarts=4, random_state=0)
    assert len(calls) == 4


def test_train_em_skips_collapsed_restarts(X, monkeypatch):
    from fastgmm import classic
    from fastgmm.em import _Collapsed

    real = classic.em_run
    calls = []

    def first_collapses(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise _Collapsed()
        return real(*args, **kwargs)

    monkeypatch.setattr(classic, "em_run", first_collapses)
    loss, pi, mu, sigma = train_EM(X, 3, restarts=3, random_state=0)
    assert len(calls) == 3 and np.isfinite(loss)
    assert loss == pytest.approx(compute_vlb(X, pi, mu, sigma, E_step(X, pi, mu, sigma)), rel=REL)


# --------------------------------------------------------------- validation
def bad_call(fn, *args, match, **kwargs):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_bad_model_shapes(X, init):
    pi0, mu0, sigma0 = init
    bad_call(E_step, X, pi0[:2], mu0, sigma0, match="pi")
    bad_call(E_step, X, pi0, mu0[:, :1], sigma0, match="mu")
    bad_call(E_step, X, pi0, np.zeros((3, 3)), sigma0, match="mu")
    bad_call(E_step, X, pi0, mu0[0], sigma0, match="mu")
    bad_call(E_step, X, pi0, mu0, sigma0[:2], match="sigma")
    bad_call(E_step, X, pi0, mu0, sigma0[:, :1, :], match="sigma")
    bad_call(compute_vlb, X, pi0, mu0, sigma0[0], np.full((280, 3), 1 / 3), match="sigma")


def test_bad_model_values(X, init):
    pi0, mu0, sigma0 = init
    bad_call(E_step, X, pi0 * 1.1, mu0, sigma0, match="pi")
    bad_call(E_step, X, np.array([1.5, -0.25, -0.25]), mu0, sigma0, match="pi")
    bad_call(E_step, X, pi0, np.where(np.arange(6).reshape(3, 2) == 1, np.nan, mu0), sigma0, match="mu")
    asym = np.array(sigma0)
    asym[1, 0, 1] += 0.5
    bad_call(E_step, X, pi0, mu0, asym, match=r"sigma.*symmetric")
    indef = np.array(sigma0)
    indef[2] = [[1.0, 2.0], [2.0, 1.0]]
    bad_call(E_step, X, pi0, mu0, indef, match=r"sigma.*positive definite")
    bad_call(compute_vlb, X, pi0, mu0, indef, np.full((280, 3), 1 / 3), match=r"sigma.*positive definite")


def test_bad_gamma(X, init):
    g = np.full((280, 3), 1 / 3)
    bad_call(M_step, X, g * 1.01, match="gamma")
    bad_call(compute_vlb, X, *init, g * 0.9, match="gamma")
    bad_call(M_step, X, g[:-1], match="gamma")
    bad_call(M_step, X, g[:, 0], match="gamma")
    bad_call(compute_vlb, X, *init, g[:, :2] * 1.5, match="gamma")
    bad_call(compute_vlb, X, *init, g[:-3], match="gamma")
    neg = g.copy()
    neg[0] = [1.5, -0.25, -0.25]
    bad_call(M_step, X, neg, match="gamma")
    nan = g.copy()
    nan[5, 1] = np.nan
    bad_call(M_step, X, nan, match="gamma")


def test_bad_X(X, init):
    g = np.full((280, 3), 1 / 3)
    Xn = np.array(X)
    Xn[17, 1] = np.nan
    Xi = np.array(X)
    Xi[3, 0] = np.inf
    for fn, args in [
        (E_step, init),
        (M_step, (g,)),
        (compute_vlb, (*init, g)),
    ]:
        bad_call(fn, Xn, *args, match=r"\bX\b")
        bad_call(fn, Xi, *args, match=r"\bX\b")
        bad_call(fn, X[:, 0], *args, match=r"\bX\b")  # 1-D
        bad_call(fn, X[None], *args, match=r"\bX\b")  # 3-D
    bad_call(train_EM, Xn, 3, match=r"\bX\b")
    bad_call(train_EM, X[:, 0], 3, match=r"\bX\b")


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(C=0), "C"),
        (dict(C=-2), "C"),
        (dict(C=2.5), "C"),
        (dict(C=True), "C"),
        (dict(C=281), "C"),
        (dict(C=3, max_iter=0), "max_iter"),
        (dict(C=3, max_iter=1.5), "max_iter"),
        (dict(C=3, restarts=0), "restarts"),
        (dict(C=3, restarts=-1), "restarts"),
        (dict(C=3, rtol=-1e-3), "rtol"),
        (dict(C=3, rtol=np.nan), "rtol"),
    ],
)
def test_train_em_bad_arguments(X, kwargs, name):
    bad_call(train_EM, X, match=name, **kwargs)


def test_public_names():
    for name in ("E_step", "M_step", "compute_vlb", "train_EM"):
        assert getattr(fastgmm, name) is getattr(fastgmm.classic, name)


# ------------------------------------------------------------------ light import
def test_classic_api_does_not_import_sklearn(samples, tmp_path):
    """``import fastgmm`` and ``train_EM`` stay off scikit-learn's import (about
    2 s); the estimator still loads it on first use."""
    import subprocess
    import sys

    np.save(tmp_path / "X.npy", samples["data"])
    code = (
        "import sys, numpy as np, fastgmm\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "fastgmm.train_EM(X, 3, max_iter=5, restarts=2, random_state=0)\n"
        "assert 'sklearn' not in sys.modules, 'train_EM imported sklearn'\n"
        "fastgmm.GaussianMixture\n"
        "assert 'sklearn' in sys.modules\n"
        "assert 'GaussianMixture' in dir(fastgmm)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", [None, 0, 7, "state"])
def test_check_random_state_matches_sklearn(seed):
    from sklearn.utils import check_random_state

    from fastgmm.classic import _check_random_state

    if seed == "state":
        state = np.random.RandomState(3)
        assert _check_random_state(state) is state
        return
    a = _check_random_state(seed)
    b = check_random_state(seed)
    assert type(a) is type(b)
    if seed is None:
        assert a is b  # numpy's global RandomState
    else:
        assert_array_equal(a.randint(1000, size=5), b.randint(1000, size=5))


@pytest.mark.parametrize("bad", ["seed", 1.5, np.random.default_rng(0)])
def test_check_random_state_rejects_like_sklearn(bad):
    from sklearn.utils import check_random_state

    from fastgmm.classic import _check_random_state

    with pytest.raises(ValueError, match="cannot be used to seed"):
        check_random_state(bad)
    with pytest.raises(ValueError, match="random_state: .* cannot be used to seed"):
        _check_random_state(bad)
