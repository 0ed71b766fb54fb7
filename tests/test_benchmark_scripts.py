"""The benchmark scripts and the asv suite import against the current package
(they reach into its modules, so a rename would break them silently)."""

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    mod = importlib.import_module(f"benchmarks.{name}")
    assert mod.__doc__, f"benchmarks/{name}.py has no docstring"
    sys.modules.pop(f"benchmarks.{name}", None)
