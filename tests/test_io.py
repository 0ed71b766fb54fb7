"""Model files: GaussianMixture.save / GaussianMixture.load (fastgmm.io)."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from fastgmm import GaussianMixture
from fastgmm.io import FORMAT_VERSION, load_model


def data(seed=0, n=120, d=3):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n // 2, d), rng.randn(n - n // 2, d) * 0.5 + 4])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X = data()
    gm = GaussianMixture(2, random_state=0, tol=1e-4).fit(X)
    path = tmp_path_factory.mktemp("io") / "model.npz"
    gm.save(path)
    return gm, X, path


def rewrite(src, dst, **changes):
    """Copy an npz, replacing (value) or dropping (None) members."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k, None)
        else:
            arrays[k] = v
    np.savez(dst, **arrays)
    return dst


def header_of(path):
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["header"][()]))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip(tmp_path, covariance_type, dtype):
    X = data().astype(dtype)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=2, n_init=2).fit(X)
    path = tmp_path / "m.npz"
    gm.save(path)
    back = GaussianMixture.load(path)
    assert isinstance(back, GaussianMixture)
    assert back.get_params() == gm.get_params()
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        got, want = getattr(back, name), getattr(gm, name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(back.precisions_, gm.precisions_, rtol=rtol)
    # a loaded model predicts bit for bit as the saved one
    np.testing.assert_array_equal(back.predict_proba(X), gm.predict_proba(X))
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
    assert (back.converged_, back.n_iter_, back.lower_bound_) == (gm.converged_, gm.n_iter_, gm.lower_bound_)
    assert back.lower_bounds_ == gm.lower_bounds_
    assert back.n_features_in_ == gm.n_features_in_


def test_header_and_no_pickle(saved):
    gm, X, path = saved
    h = header_of(path)
    assert h["format"] == "fastgmm.GaussianMixture" and h["format_version"] == FORMAT_VERSION
    assert h["covariance_type"] == "full" and h["params"]["tol"] == 1e-4 and h["params"]["random_state"] == 0
    assert "fastgmm_version" in h
    with zipfile.ZipFile(path) as z:  # every member is a plain .npy
        assert all(name.endswith(".npy") for name in z.namelist())
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_feature_names_and_init_arrays_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(data(d=2), columns=["height", "width"])
    gm = GaussianMixture(2, random_state=0, means_init=[[0, 0], [4, 4]]).fit(X)
    gm.save(tmp_path / "m.npz")
    back = GaussianMixture.load(tmp_path / "m.npz")
    assert list(back.feature_names_in_) == ["height", "width"]
    np.testing.assert_array_equal(back.means_init, [[0, 0], [4, 4]])
    np.testing.assert_array_equal(back.predict(X), gm.predict(X))
    back.fit(X)  # a loaded estimator can be refitted


def test_save_exact_path_and_unfitted(tmp_path):
    gm = GaussianMixture(2, random_state=0).fit(data())
    gm.save(tmp_path / "model.bin")
    assert (tmp_path / "model.bin").exists() and not (tmp_path / "model.bin.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]  # no temporary file left
    with pytest.raises(NotFittedError):
        GaussianMixture(2).save(tmp_path / "x.npz")


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        GaussianMixture.load(tmp_path / "nope.npz")


def _foreign_files(tmp, path):
    pickled = tmp / "pickled.npz"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    text = tmp / "text.npz"
    text.write_text("weights,means\n1,2\n")
    npy = tmp / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    other = tmp / "other.npz"
    np.savez(other, a=np.zeros(3))
    truncated = tmp / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    objects = tmp / "objects.npz"
    np.savez(objects, header=np.array([{"format": 1}], dtype=object))
    return {
        "pickled": (pickled, "not a .npz"),
        "text": (text, "not a .npz"),
        "npy": (npy, "single .npy"),
        "other": (other, "no fastgmm header"),
        "truncated": (truncated, "cannot be read|unreadable"),
        "objects": (objects, "unreadable member|cannot be read"),
    }


@pytest.mark.parametrize("kind", ["pickled", "text", "npy", "other", "truncated", "objects"])
def test_foreign_or_corrupt_file(tmp_path, saved, kind):
    path, match = _foreign_files(tmp_path, saved[2])[kind]
    with pytest.raises(ValueError, match=match):
        GaussianMixture.load(path)


def _bad_header(path, **fields):
    h = header_of(path)
    h.update(fields)
    return np.array(json.dumps(h))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p: {"header": np.array("{not json")}, "not valid JSON"),
        (lambda p: {"header": _bad_header(p, format="something.else")}, "not a fastgmm model"),
        (lambda p: {"header": _bad_header(p, format_version=FORMAT_VERSION + 1)}, "upgrade fastgmm"),
        (lambda p: {"header": _bad_header(p, covariance_type="round")}, "unknown covariance type"),
        (lambda p: {"header": _bad_header(p, n_components=3)}, r"shape"),
        (lambda p: {"header": _bad_header(p, params={"n_components": 2, "tol": -1.0})}, "estimator parameters"),
        (lambda p: {"means": None}, "lacks the array 'means'"),
        (lambda p: {"means": np.zeros((2, 4))}, r"means of shape \(2, 4\)"),
        (lambda p: {"means": np.full((2, 3), np.nan)}, "non-finite"),
        (lambda p: {"weights": np.array([0.9, 0.3])}, "sum to 1"),
        (lambda p: {"weights": np.array([0.5, 0.5], np.float32)}, "dtype float32"),
        (lambda p: {"covariances": np.stack([np.eye(3), -np.eye(3)])}, "positive definite"),
        (lambda p: {"covariances": np.stack([np.eye(3), np.triu(np.ones((3, 3)))])}, "symmetric"),
        (lambda p: {"precisions_cholesky": np.stack([np.eye(3), np.eye(3)])}, "disagree"),
    ],
)
def test_invalid_contents(tmp_path, saved, change, match):
    _, _, path = saved
    bad = rewrite(path, tmp_path / "bad.npz", **change(path))
    with pytest.raises(ValueError, match=match) as info:
        load_model(bad)
    assert str(bad) in str(info.value)  # the message names the file
