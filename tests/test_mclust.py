"""fastgmm's select_model against R's mclust (mclustBIC), issue #15.

Skipped unless ``Rscript`` and the mclust package are installed (Debian:
``apt-get install r-base-core r-cran-mclust``); .ci/run does not install R, so
CI skips this module on a fresh machine.

For every data set and model (VVV, EEE, VVI, VII = full, tied, diag, spherical;
k = 1..6): fastgmm's log-likelihood is at least mclust's minus 0.5 nats, and its
BIC (lower is better) equals -(mclust's BIC) up to the difference of the two
log-likelihoods (so both count the same free parameters). Models where
fastgmm's default still ends below mclust's maximum are marked xfail with the
gap measured on 2026-12-02.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest

from fastgmm import select_model

MODELS = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}
KS = range(1, 7)
#: fastgmm's default below mclust's maximum by more than 0.5 nats (measured)
KNOWN_GAPS = {
    ("iris", "spherical", 5): -0.7,
    ("wine", "spherical", 4): -39.9, ("wine", "full", 3): -28.2, ("wine", "tied", 3): -5.1,
    ("breast_cancer", "full", 2): -91.9, ("breast_cancer", "full", 3): -598.5,
    ("breast_cancer", "full", 5): -260.5, ("breast_cancer", "diag", 4): -12.7,
    ("breast_cancer", "diag", 5): -144.3, ("breast_cancer", "diag", 6): -183.4,
    ("synthetic", "tied", 4): -11.6, ("synthetic", "spherical", 4): -22.2,
    ("synthetic", "spherical", 5): -0.75, ("synthetic", "spherical", 6): -1.3,
}
#: features of breast cancer have variances near 1e-6: no diagonal loading to speak of
REG_COVAR = 1e-10


def _have_mclust() -> bool:
    if shutil.which("Rscript") is None:
        return False
    proc = subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True, timeout=60)
    return proc.returncode == 0


pytestmark = pytest.mark.skipif(not _have_mclust(), reason="needs Rscript and the R package mclust")


def _datasets():
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    rng = np.random.RandomState(0)
    centers = rng.normal(scale=3.0, size=(3, 4))
    synthetic = np.vstack([c + rng.standard_normal((150, 4)) @ rng.normal(size=(4, 4)) * 0.5 for c in centers])
    return {"iris": load_iris().data, "wine": load_wine().data,
            "breast_cancer": load_breast_cancer().data, "synthetic": synthetic}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    d = tmp_path_factory.mktemp("mclust")
    data = _datasets()
    for name, X in data.items():
        np.savetxt(d / f"{name}.csv", X, delimiter=",", fmt="%.17g")
    script = d / "run.R"
    script.write_text(
        "suppressMessages(library(mclust))\n"
        f"for (nm in c({', '.join(repr(n) for n in data)})) {{\n"
        f"  X <- as.matrix(read.csv(file.path('{d}', paste0(nm, '.csv')), header = FALSE))\n"
        "  b <- mclustBIC(X, G = 1:6, modelNames = c('VVV', 'EEE', 'VVI', 'VII'), verbose = FALSE)\n"
        "  for (m in c('VVV', 'EEE', 'VVI', 'VII')) for (g in 1:6) {\n"
        "    if (!is.na(b[g, m])) { s <- summary(b, X, G = g, modelNames = m); cat(nm, m, g, format(b[g, m], digits = 17), format(s$loglik, digits = 17), '\\n') }\n"
        "  }\n}\n"
    )
    out = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=600, check=True).stdout
    ref = {}
    for line in out.splitlines():
        name, m, g, bic, ll = line.split()
        ref[(name, MODELS[m], int(g))] = (float(bic), float(ll))
    ours = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, X in data.items():
            res = select_model(X, n_components=KS, random_state=0, reg_covar=REG_COVAR)
            for row in res.table:
                ours[(name, str(row["covariance_type"]), int(row["n_components"]))] = (
                    float(row["bic"]), float(row["log_likelihood"]))
    return ref, ours


CASES = [(n, ct, k) for n in ("iris", "wine", "breast_cancer", "synthetic") for ct in MODELS.values() for k in KS]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(reason=f"fastgmm {KNOWN_GAPS[c]:+.1f} nats below mclust", strict=False))
     if c in KNOWN_GAPS else c for c in CASES],
    ids=[f"{n}-{ct}-{k}" for n, ct, k in CASES],
)
def test_reaches_mclust_maximum(comparison, case):
    ref, ours = comparison
    if case not in ref:
        pytest.skip("mclust reports no fit for this model")
    mbic, mll = ref[case]
    bic, ll = ours[case]
    assert ll >= mll - 0.5, (ll, mll)
    # BIC = -2 ll + p log n; mclust's = 2 ll - p log n: the same p
    assert bic == pytest.approx(-mbic - 2.0 * (ll - mll), rel=1e-9, abs=1e-6)
