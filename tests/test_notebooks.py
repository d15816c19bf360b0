"""The notebooks in notebooks/ run from top to bottom and show what they say they show.

Each notebook's code cells run in order in one fresh Python process (no Jupyter needed): the same
thing as "Restart and run all".  The notebooks are committed without outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

RUNNER = r"""
import json, sys
nb = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__main__"}
for k, cell in enumerate(nb["cells"]):
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), f"{sys.argv[1]} cell {k}", "exec"), ns)
keep = {}
for name in ("by_hand_error", "check_errors", "ratios", "torch_error", "torch"):
    value = ns.get(name)
    keep[name] = (value is not None) if name == "torch" else value
print("RESULTS " + json.dumps(keep))
"""


def test_there_is_a_notebook():
    assert [p.name for p in NOTEBOOKS] == ["tour.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["language"] == "python"
    assert {c["cell_type"] for c in nb["cells"]} == {"markdown", "code"}
    for cell in nb["cells"]:
        assert isinstance(cell["source"], list) and "".join(cell["source"]).strip()
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_tour_runs_top_to_bottom_and_its_numbers_hold(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", RUNNER, str(NOTEBOOKS[0])], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "--- temperature 1.5" in out and "surprisal" in out
    results = json.loads(out.split("RESULTS ", 1)[1])
    assert results["by_hand_error"] < 1e-5  # the LSTM equations by hand = the engine, to float32 rounding
    assert max(results["check_errors"].values()) < 1e-6  # BPTT = finite differences
    r = results["ratios"]
    assert r["tanh RNN"] < 1e-8 < r["LSTM, forget-gate bias +2"]  # vanishing, and the remedy measured
    assert r["IRNN (identity init, ReLU)"] > 0.1
    if results["torch"]:
        assert results["torch_error"] < 1e-4  # PyTorch's logits from the same checkpoint
    else:
        assert os.environ.get("CI", "").lower() != "true", "CI installs torch: the PyTorch half must run"
        assert "skipping the PyTorch half" in out
