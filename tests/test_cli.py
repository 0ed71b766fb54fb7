"""The ``fastgmm`` command line.

Subprocess tests (``python -m fastgmm.cli`` / ``python -m fastgmm``) cover the
real entry point, success and error paths; each pays Python + Numba start-up,
so there are few of them. Parsing details run in-process through ``main``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest

from fastgmm.cli import _demo_data, build_parser, load_data, main


def run_cli(*args, cwd, module="fastgmm.cli"):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("FASTGMM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=600, env=env,
    )


def assert_one_line_error(proc, code=1, match=""):
    assert proc.returncode == code, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert "error:" in err and match in err, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small data files in every input format and a model fitted by the CLI."""
    d = tmp_path_factory.mktemp("cli")
    X = _demo_data()[:600]
    np.save(d / "data.npy", X)
    np.savetxt(d / "data.csv", X, delimiter=",", header="x,y", comments="")
    proc = run_cli("fit", "data.csv", "-k", 3, "--seed", 0, "--save", "model.npz",
                   "--labels", "labels.csv", "--plot", "fit.png", cwd=d)
    return d, X, proc


# ----------------------------------------------------------------- subprocess
def test_fit_success(files):
    d, X, proc = files
    assert proc.returncode == 0, proc.stderr
    assert "600 points, 2 feature(s)" in proc.stdout and "BIC" in proc.stdout
    labels = load_data(str(d / "labels.csv"))  # header 'label' detected
    assert labels.shape == (600, 1) and set(np.unique(labels)) == {0, 1, 2}
    assert (d / "fit.png").read_bytes()[:4] == b"\x89PNG"
    from fastgmm import GaussianMixture

    gm = GaussianMixture.load(d / "model.npz")
    ref = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-10)
    np.testing.assert_array_equal(labels[:, 0], ref.predict(X))


def test_predict_proba_npy(files):
    d, X, _ = files
    proc = run_cli("predict", "model.npz", "data.npy", "--proba", "-o", "proba.npy", cwd=d)
    assert proc.returncode == 0, proc.stderr
    P = np.load(d / "proba.npy")
    assert P.shape == (600, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_select_success(files):
    d, _, _ = files
    proc = run_cli("select", "data.npy", "-k", "1..4", "--covariance", "full,diag", "--criterion", "icl",
                   "--table", "table.csv", "--save", "best.npz", "--plot", "sel.png", cwd=d)
    assert proc.returncode == 0, proc.stderr
    assert "best by ICL: 3 component(s)" in proc.stdout
    rows = (d / "table.csv").read_text().splitlines()
    assert rows[0].startswith("covariance_type,n_components") and len(rows) == 1 + 8
    assert (d / "sel.png").stat().st_size > 1000 and (d / "best.npz").exists()


def test_python_m_fastgmm_demo(tmp_path):
    proc = run_cli("demo", cwd=tmp_path, module="fastgmm")
    assert proc.returncode == 0, proc.stderr
    assert "fastgmm demo: 3000 points" in proc.stdout and "converged: True" in proc.stdout


def test_error_missing_file(tmp_path):
    assert_one_line_error(run_cli("fit", "nope.csv", "-k", 2, cwd=tmp_path), 1, "nope.csv: no such file")


def test_error_usage_is_one_line(tmp_path):
    assert_one_line_error(run_cli("fit", "x.csv", cwd=tmp_path), 2, "-k")


def test_error_nan_in_data(tmp_path):
    (tmp_path / "nan.csv").write_text("a,b\n1,2\nnan,3\n4,5\n")
    assert_one_line_error(run_cli("select", "nan.csv", "-k", "1..2", cwd=tmp_path), 1, "NaN")


def test_error_corrupt_model(files, tmp_path):
    d, _, _ = files
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    proc = run_cli("predict", "bad.npz", d / "data.npy", "-o", "out.csv", cwd=tmp_path)
    assert_one_line_error(proc, 1, "bad.npz")
    assert not (tmp_path / "out.csv").exists()


def test_error_model_data_mismatch(files, tmp_path):
    d, _, _ = files
    np.save(tmp_path / "three.npy", np.zeros((5, 3)))
    proc = run_cli("predict", d / "model.npz", "three.npy", "-o", "out.npy", cwd=tmp_path)
    assert_one_line_error(proc, 1, "3 feature(s), but the model expects 2")


# ------------------------------------------------------------------ in-process
@pytest.mark.parametrize("command", ["demo", "fit", "select", "predict"])
def test_every_command_has_help_with_example(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "Example" in out and f"fastgmm {command}" in out


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "fit", "select", "predict", "bench"):
        assert command in out


def test_predict_labels_to_stdout(files, capsys):
    d, X, _ = files
    assert main(["predict", str(d / "model.npz"), str(d / "data.csv"), "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "label" and len(lines) == 601


@pytest.mark.parametrize(
    "text, header",
    [
        ("1.5,2\n3,4.25\n5,6\n", False),
        ("a,b\n1.5,2\n3,4.25\n5,6\n", True),
        ('"a";"b"\n1.5;2\n3;4.25\n5;6\n', True),
        ("# comment\n\n1.5\t2\n3\t4.25\n5\t6\n", False),
        ("1.5 2\n3 4.25\n5 6\n", False),
    ],
)
def test_csv_reading(tmp_path, text, header):
    path = tmp_path / "x.csv"
    path.write_text(text)
    np.testing.assert_array_equal(load_data(str(path)), [[1.5, 2], [3, 4.25], [5, 6]])


def test_npy_is_memory_mapped_and_1d_is_one_feature(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6.0))
    X = load_data(str(tmp_path / "a.npy"))
    assert X.shape == (6, 1)
    assert isinstance(X, np.memmap) or isinstance(X.base, np.memmap)


def test_unsupported_and_parquet(tmp_path, capsys):
    (tmp_path / "x.xlsx").write_text("")
    assert main(["fit", str(tmp_path / "x.xlsx"), "-k", "1"]) == 1
    assert "unsupported data format" in capsys.readouterr().err
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "x.parquet").write_bytes(b"PAR1")
        assert main(["fit", str(tmp_path / "x.parquet"), "-k", "1"]) == 1
        assert "needs pyarrow" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["-k", "3..1"], ["-k", "0"], ["--covariance", "round"], ["--criterion", "mdl"]])
def test_select_bad_options(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["select", "x.csv", *bad])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_select_component_ranges():
    args = build_parser().parse_args(["select", "x.csv", "-k", "1..3,6", "--covariance", "tied,diag"])
    assert args.k == [1, 2, 3, 6] and args.covariance == ("tied", "diag")
    args = build_parser().parse_args(["select", "x.csv"])
    assert args.k == list(range(1, 11)) and len(args.covariance) == 4


def test_bench_missing_module(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastgmm.bench", None)  # import fails as if absent
    monkeypatch.delattr("fastgmm.bench", raising=False)
    assert main(["bench", "--quick"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fastgmm bench: error:" in err


def test_bench_delegates_to_module(monkeypatch):
    seen = {}
    fake = types.ModuleType("fastgmm.bench")
    fake.add_arguments = lambda p: p.add_argument("--quick", action="store_true")
    fake.run = lambda args: seen.setdefault("quick", args.quick) and 0
    monkeypatch.setitem(sys.modules, "fastgmm.bench", fake)
    import fastgmm

    monkeypatch.setattr(fastgmm, "bench", fake, raising=False)
    assert main(["bench", "--quick"]) == 0
    assert seen == {"quick": True}


def test_other_commands_do_not_import_bench(files, monkeypatch):
    d, _, _ = files
    monkeypatch.setitem(sys.modules, "fastgmm.bench", None)
    assert main(["predict", str(d / "model.npz"), str(d / "data.npy"), "-o", str(d / "l.npy")]) == 0


def test_fit_online_is_online_pass(files, capsys):
    from fastgmm import GaussianMixture
    from fastgmm.outofcore import online_pass

    d, X, _ = files
    assert main(["fit", str(d / "data.npy"), "-k", "3", "--seed", "0", "--online", "--batch-size", "200",
                 "--save", str(d / "online.npz")]) == 0
    out = capsys.readouterr().out
    assert "one online pass in 3 batches of 200 rows" in out
    gm = GaussianMixture.load(d / "online.npz")
    ref = online_pass(GaussianMixture(3, random_state=0), X, batch_size=200)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-12)


def test_fit_online_needs_k_rows(files, capsys):
    d, _, _ = files
    assert main(["fit", str(d / "data.npy"), "-k", "700", "--online"]) == 1
    assert "needs at least 700 rows" in capsys.readouterr().err
