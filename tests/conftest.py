"""Shared fixtures: the classic exercise's data set and seeded generators."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# tests/naive.py is imported as ``naive`` by the test modules
_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

#: thread counts the determinism tests compare (``FASTGMM_TEST_THREADS=1,4,16``
#: on a machine with many cores); counts past the cores run on all of them
THREAD_COUNTS = tuple(int(t) for t in (os.environ.get("FASTGMM_TEST_THREADS") or "1,2,4").split(",") if t.strip())

#: ../shared/data/samples.npz relative to the project root (never copied into it)
SAMPLES_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "samples.npz"


@pytest.fixture(scope="session")
def samples_path() -> Path:
    if not SAMPLES_PATH.is_file():
        pytest.skip(f"classic data set not found at {SAMPLES_PATH}")
    return SAMPLES_PATH


@pytest.fixture(scope="session")
def samples(samples_path) -> dict:
    """``data`` (280, 2), ``pi0`` (3,), ``mu0`` (3, 2), ``sigma0`` (3, 2, 2)."""
    with np.load(samples_path) as z:
        out = {k: np.array(z[k]) for k in z.files}
    for a in out.values():
        a.setflags(write=False)  # a test that writes into shared data fails loudly
    return out


@pytest.fixture
def rng() -> np.random.RandomState:
    return np.random.RandomState(12345)
