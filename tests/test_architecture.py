"""The layers of docs/architecture.md, enforced: every ``import`` in src/rnnlab is read with ``ast``.

- A module may import rnnlab only from its own layer or the layers below it.
- The engine imports NumPy and the standard library only, anywhere in the file; the one exception is
  ``engine/_kernels.py``, the optional compiled gate kernels, which imports numba (and only numba) and
  is itself imported only lazily, by ``engine/jit.py``.
- Heavy libraries (torch, plotly, statsmodels, scikit-learn, matplotlib, pandas, fastapi, uvicorn)
  are never imported at module top level below the server, so ``import rnnlab`` and the CLI start fast.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnlab"

# layer -> the rnnlab layers it may import (itself included)
ALLOWED = {
    "engine": {"engine"},
    "io": {"io", "engine"},
    "data": {"data", "io", "engine"},
    "tasks": {"tasks", "data", "io", "engine"},
    "training": {"training", "tasks", "data", "io", "engine"},
    "viz": {"viz", "training", "tasks", "data", "io", "engine"},
    "server": {"server", "viz", "training", "tasks", "data", "io", "engine"},
    "cli": {"cli", "server", "viz", "backends", "training", "tasks", "data", "io", "engine"},
    "backends": {"backends", "training", "tasks", "data", "io", "engine"},
    "__init__": {"tasks"},  # rnnlab/__init__.py: lazy load() only
}
HEAVY = {"torch", "plotly", "statsmodels", "sklearn", "matplotlib", "pandas", "fastapi", "uvicorn", "starlette", "scipy",
         "numba"}
ENGINE_THIRD_PARTY = {"numpy"}
ENGINE_KERNELS = Path("engine") / "_kernels.py"  # the optional JIT kernels: numba allowed here, nowhere else


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    if rel == ("__main__.py",):
        return "cli"  # `python -m rnnlab` is the CLI
    return "__init__" if len(rel) == 1 else rel[0]


def imports(path: Path):
    """Yield (module name, top_level: bool, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                package = path.relative_to(SRC).parent.parts
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                name = ".".join(("rnnlab", *base, *(node.module.split(".") if node.module else [])))
            else:
                name = node.module
            yield name, id(node) in top, node.lineno


def python_files():
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_source_tree_is_found():
    assert len(python_files()) > 10 and (SRC / "engine").is_dir()


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path):
    layer = layer_of(path)
    allowed = ALLOWED.get(layer)
    assert allowed is not None, f"{path.relative_to(SRC)} is in no known layer: add it to docs/architecture.md and ALLOWED"
    for name, top_level, line in imports(path):
        root = name.split(".")[0]
        where = f"{path.relative_to(SRC)}:{line} imports {name}"
        if root == "rnnlab":
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target == "__init__" and layer != "__init__":
                continue  # `from rnnlab import __version__`
            assert target in allowed, f"{where}: layer '{layer}' may not import layer '{target}'"
        elif layer == "engine" and path.relative_to(SRC) == ENGINE_KERNELS and root == "numba":
            continue
        elif layer == "engine":
            assert root in ENGINE_THIRD_PARTY or root in sys.stdlib_module_names or root == "__future__", (
                f"{where}: the engine may import only NumPy and the standard library"
            )
        elif top_level and layer not in ("server",):
            assert root not in HEAVY, f"{where}: heavy library at module top level (import it inside the function)"


def test_import_rnnlab_and_the_cli_load_no_heavy_library():
    code = (
        "import sys, rnnlab, rnnlab.engine, rnnlab.io, rnnlab.data, rnnlab.tasks.charlm, rnnlab.cli.main\n"
        "rnnlab.cli.main.build_parser()\n"
        f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"heavy modules loaded at import time: {out}"


def test_a_forbidden_import_is_caught(tmp_path, monkeypatch):
    """The checker itself can fail: an engine file importing the server is flagged."""
    fake_src = tmp_path / "rnnlab"
    (fake_src / "engine").mkdir(parents=True)
    bad = fake_src / "engine" / "bad.py"
    bad.write_text("from rnnlab.server import app\nimport torch\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake_src)
    with pytest.raises(AssertionError, match="may not import layer 'server'"):
        test_imports_follow_the_layers(bad)
    bad.write_text("import torch\n")
    with pytest.raises(AssertionError, match="only NumPy"):
        test_imports_follow_the_layers(bad)


def test_only_jit_imports_the_kernels_and_only_inside_a_function():
    """numba stays optional and out of ``import rnnlab``: _kernels.py is imported lazily, by jit.py alone."""
    importers = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module or ''}.{a.name}" for a in node.names] + [node.module or ""]
            if any(n.split(".")[-1] == "_kernels" for n in names):
                importers.append((str(path.relative_to(SRC)), id(node) in top))
    assert importers == [(str(Path("engine") / "jit.py"), False)], importers
