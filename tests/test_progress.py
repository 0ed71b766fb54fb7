"""``fit``'s per-iteration callback, behind the CLI's progress bar."""

import numpy as np

from fastgmm import GaussianMixture
from fastgmm import cli


def _data():
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(c, 1.0, (300, 2)) for c in (0.0, 5.0)])


def test_callback_sees_every_iteration_of_every_run():
    seen = []
    gm = GaussianMixture(2, n_init=2, random_state=0, tol=1e-6)
    gm.fit(_data(), callback=lambda run, it, lb: seen.append((run, it, lb)))
    assert {r for r, _, _ in seen} == {0, 1}
    runs = [[lb for r, _, lb in seen if r == k] for k in (0, 1)]
    # the kept run's bounds are exactly what the hook saw for one of the runs
    assert gm.lower_bounds_ in runs
    for k in (0, 1):
        its = [it for r, it, _ in seen if r == k]
        assert its == list(range(1, len(its) + 1))


def test_fit_command_draws_a_bar_on_a_terminal(tmp_path, monkeypatch, capsys):
    path = tmp_path / "x.npy"
    np.save(path, _data())
    monkeypatch.setattr(cli, "_tty", lambda: True)
    assert cli.main(["fit", str(path), "-k", "2", "--tol", "1e-9"]) == 0
    err = capsys.readouterr().err
    assert "fit k=2" in err and "iter" in err
