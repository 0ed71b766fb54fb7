"""Every python block of docs/scaling.md runs (as ``__main__``, in a fresh
interpreter) and prints what its ``# [...]`` comments say."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "scaling.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

# the blocks run one after the other in one interpreter (imports and the
# kernels' cache load once), each in a namespace of its own
RUNNER = """
import json, sys
if __name__ == "__main__":  # spawned dask workers import this file again
    for i, code in enumerate(json.load(open(sys.argv[1]))):
        print(f"=== block {i}", flush=True)
        exec(compile(code, f"<docs/scaling.md block {i}>", "exec"), {"__name__": "__main__"})
"""


def run_blocks(blocks, tmp_path):
    for code in blocks:
        for mod in ("dask", "distributed"):
            if re.search(rf"^\s*(from|import) {mod}\b", code, flags=re.M) and importlib.util.find_spec(mod) is None:
                pytest.skip(f"{mod} not installed")
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "runner.py").write_text(RUNNER)
    out = subprocess.run(
        [sys.executable, "runner.py", "blocks.json"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout + out.stderr
    parts = out.stdout.split("=== block ")[1:]
    assert len(parts) == len(blocks)
    for code, printed in zip(blocks, parts):
        for expected in re.findall(r"print\(.*\)\s*# (\[.*\])", code):
            assert expected in printed, (expected, printed)


def test_doc_has_the_four_steps():
    assert len(BLOCKS) == 4


def test_blocks_without_a_cluster(tmp_path):
    run_blocks([b for b in BLOCKS if "LocalCluster" not in b], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("i", [i for i, b in enumerate(BLOCKS) if "LocalCluster" in b])
def test_cluster_block(i, tmp_path):
    """Worker processes take 10-20 s to start on 2 cores: slow."""
    run_blocks([BLOCKS[i]], tmp_path)
