"""``rnnlab info``: what this installation sees, for bug reports and for reading benchmark numbers.

Versions, the BLAS NumPy runs on and its threads, how the engine's fast path will use the cores,
whether the compiled gate kernels (numba) are available, which optional extras are installed, the
bundled models, and the environment variables that change any of it.  Nothing heavy is imported:
optional packages are looked up in the installed metadata, and the kernels are loaded (compiled on a
fresh install) only with ``--check-jit``.
"""

from __future__ import annotations

HELP = "Show versions, BLAS and threads, the engine's fast path and JIT, optional extras, bundled models."

OPTIONAL = {  # distribution -> what it adds
    "numba": "compiled gate kernels for training (extra 'fast')",
    "torch": "the torch backend and parity tests (extra 'torch')",
    "statsmodels": "forecasting datasets and ARIMA baselines (extra 'apps')",
    "scikit-learn": "classification baselines and the digits data (extra 'apps')",
    "pandas": "datasets read through statsmodels and plotly (extra 'apps')",
    "threadpoolctl": "the BLAS line of this report; `rnnlab train --threads`",
    "kaleido": "PNG export of rnnlab.viz figures",
    "playwright": "the browser tests (extra 'test')",
}
ENVIRONMENT = ("RNNLAB_JIT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_CACHE_DIR")


def add_arguments(p) -> None:
    p.add_argument("--check-jit", action="store_true",
                   help="load the compiled gate kernels now (compiles them on a fresh install) and report the result")
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _blas() -> dict:
    import os

    from rnnlab.engine import blas

    path = blas.library_path()
    report = {"threads": blas.threads(), "controllable": blas.controllable()}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return report | {"library": None}
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    # NumPy's own copy when several are loaded (SciPy's wheels carry another)
    pools.sort(key=lambda pool: os.path.realpath(pool.get("filepath", "")) != os.path.realpath(path or ""))
    for pool in pools:
        return report | {"library": pool.get("internal_api"), "version": pool.get("version"),
                         "kernel": pool.get("architecture"), "path": pool.get("filepath")}
    return report | {"library": None, "path": path}


def collect(check_jit: bool = False) -> dict:
    """Everything ``rnnlab info`` prints, as plain data."""
    import os
    import platform
    from pathlib import Path

    import numpy as np

    import rnnlab
    from rnnlab.engine import fused, jit
    from rnnlab.tasks.charlm import DEFAULT_MODEL_PATH

    numba_version = _version("numba")
    if check_jit:
        with jit.use_jit(True):
            jit_status = jit.status()
    elif numba_version is None:
        jit_status = "off (numba not installed: pip install 'rnnlab[fast]')"
    elif not jit.enabled_by_environment():
        jit_status = "off (RNNLAB_JIT=0)"
    else:
        jit_status = f"numba {numba_version} installed: used for work of T*B*H >= {jit.MIN_WORK:,} (--check-jit loads it)"
    models_dir = Path(DEFAULT_MODEL_PATH).parent
    models = {p.name: p.stat().st_size for p in sorted(models_dir.glob("*.safetensors"))}
    return {
        "rnnlab": {"version": rnnlab.__version__, "location": str(Path(rnnlab.__file__).parent)},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "platform": {"system": platform.system(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "numpy": np.__version__,
        "blas": _blas(),
        "engine": {"chunk_threads_for_batch_64": len(fused.batch_spans(64)), "jit": jit_status},
        "optional": {name: _version(name) for name in OPTIONAL},
        "models": models,
        "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
    }


def run(args) -> int:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    info = collect(check_jit=args.check_jit)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    console = Console()
    b = info["blas"]
    blas_line = (f"{b['library']} {b.get('version')}, kernel {b.get('kernel')}" if b["library"]
                 else "unknown (pip install threadpoolctl to see it)")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("rnnlab", escape(f"{info['rnnlab']['version']}  ({info['rnnlab']['location']})"))
    table.add_row("Python", f"{info['python']['version']} ({info['python']['implementation']}), "
                            f"{info['platform']['system']} {info['platform']['machine']}, {info['platform']['cpus']} CPUs")
    table.add_row("NumPy", f"{info['numpy']}; BLAS {blas_line}; {b['threads']} thread(s)"
                           + ("" if b["controllable"] else " (thread count not controllable: chunk threads off)"))
    table.add_row("fast path", f"a batch of 64 runs as {info['engine']['chunk_threads_for_batch_64']} chunk thread(s)")
    table.add_row("gate kernels", escape(info["engine"]["jit"]))  # escape: "rnnlab[fast]" is not markup
    for name, version in info["optional"].items():
        table.add_row(name, (version or "[dim]not installed[/]") + f"  [dim]{OPTIONAL[name]}[/]")
    models = ", ".join(f"{n} ({_size(size)})" for n, size in info["models"].items()) or "[red]none found[/]"
    table.add_row("bundled models", models)
    env = ", ".join(f"{k}={v}" for k, v in info["environment"].items() if v is not None) or "none of " + ", ".join(ENVIRONMENT)
    table.add_row("environment", escape(env))
    console.print(table)
    return 0


def _size(n: int) -> str:
    """4.7 MB, 47 KB: a file size a reader takes in at a glance."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} KB"
