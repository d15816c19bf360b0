"""``rnnlab info``: reports what the installation really has, without importing anything heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np

from rnnlab.cli.main import main
from rnnlab.engine import blas, fused, jit


def info_json(capsys, *argv) -> dict:
    assert main(["info", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_reports_the_versions_blas_threads_and_bundled_models(capsys, monkeypatch):
    monkeypatch.delenv("RNNLAB_JIT", raising=False)
    info = info_json(capsys)
    assert info["numpy"] == np.__version__
    assert info["blas"]["threads"] == blas.threads()
    if blas.library_path() is not None and info["blas"]["library"] is not None:
        assert os.path.realpath(info["blas"]["path"]) == os.path.realpath(blas.library_path())
    assert info["engine"]["chunk_threads_for_batch_64"] == len(fused.batch_spans(64))
    assert info["rnnlab"]["version"] and info["python"]["version"].startswith(f"{sys.version_info[0]}.")
    assert "default.safetensors" in info["models"] and info["models"]["default.safetensors"] > 1_000_000
    numba = info["optional"]["numba"]
    if numba is None:
        assert "not installed" in info["engine"]["jit"]
    else:
        assert numba == version("numba") and "installed" in info["engine"]["jit"]


def test_rnnlab_jit_0_shows_as_off_and_in_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("RNNLAB_JIT", "0")
    info = info_json(capsys)
    assert info["environment"]["RNNLAB_JIT"] == "0"
    if info["optional"]["numba"] is not None:
        assert info["engine"]["jit"] == "off (RNNLAB_JIT=0)"


def test_check_jit_loads_the_kernels_and_reports_their_state(capsys):
    info = info_json(capsys, "--check-jit")
    assert info["engine"]["jit"].startswith("on (numba") == jit.available()


def test_info_does_not_import_numba_or_torch_unless_asked():
    code = ("import sys\nfrom rnnlab.cli.main import main\nmain(['info'])\n"
            "print(sorted(m for m in ('numba', 'torch', 'statsmodels', 'sklearn', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "bundled models" in out


def test_the_printed_report_keeps_square_brackets(capsys, monkeypatch):
    """rich would read "rnnlab[fast]" as markup and print "rnnlab": the hint must survive."""
    from rnnlab.cli import info

    monkeypatch.setattr(info, "_version", lambda name: None)  # nothing optional installed
    assert main(["info"]) == 0
    assert "pip install 'rnnlab[fast]'" in " ".join(capsys.readouterr().out.split())  # however rich wraps it


def test_model_sizes_read_at_a_glance():
    from rnnlab.cli.info import _size

    assert [_size(n) for n in (4_731_956, 47_628, 312, 1_000_000)] == ["4.7 MB", "48 KB", "1 KB", "1.0 MB"]
