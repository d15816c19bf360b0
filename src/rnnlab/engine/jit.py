"""Whether the fast path uses compiled kernels (``_kernels.py``, numba) for its per-step gate math.

numba is optional (``pip install 'rnnlab[fast]'``).  With it, ``fused.py`` runs each step's
element-wise gate math as one compiled pass instead of a dozen NumPy passes; without it, or with
``RNNLAB_JIT=0`` in the environment, or inside ``use_jit(False)``, it runs the NumPy code.  Both
are tested equal to the plain loop.  Nothing here imports numba until the fast path first runs.

By default the kernels are used only for work of at least ``MIN_WORK`` hidden values (T * B * H):
training-sized batches, where they save per-step NumPy calls and GIL hand-overs between the chunk
threads (measured in ``benchmarks/RESULTS.md``).  A visualizer trace of one short sequence does not
need them, and then nothing imports numba.  ``use_jit(True)`` forces them for any size (the tests).

The kernels are compiled once and cached on disk next to the module (numba's ``cache=True``);
the first run on a fresh install spends a few seconds compiling.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from types import ModuleType

import numpy as np

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MIN_WORK = 1 << 16  # T * B * H below which the NumPy code runs unless use_jit(True)

_lock = threading.Lock()
_loaded: dict[str, object] = {}  # "module": the kernels module or None, "error": why not
_override: list[bool] = []  # innermost use_jit() setting last


def enabled_by_environment() -> bool:
    """False when RNNLAB_JIT is 0, false, no or off."""
    return os.environ.get("RNNLAB_JIT", "1").strip().lower() not in {"0", "false", "no", "off"}


def _load() -> ModuleType | None:
    with _lock:
        if "module" not in _loaded:
            try:
                from . import _kernels  # imports numba (a few hundred ms, once)

                _kernels.warm_up()  # compiles or loads every kernel; a failure here means NumPy
            except Exception as e:  # noqa: BLE001 -- numba missing, broken, or no cache locator: NumPy is the fallback
                _loaded["module"], _loaded["error"] = None, f"{type(e).__name__}: {e}"
            else:
                _loaded["module"], _loaded["error"] = _kernels, None
        return _loaded["module"]  # type: ignore[return-value]


def kernels(work: int | None = None, dtype=None) -> ModuleType | None:
    """The compiled kernels if they are to be used now for ``work`` = T * B * H values of ``dtype``,
    else None (use the NumPy code).  They are compiled for float32 and float64 only."""
    if dtype is not None and np.dtype(dtype) not in _KERNEL_DTYPES:
        return None
    if _override:
        wanted = _override[-1]
    else:
        wanted = enabled_by_environment() and (work is None or work >= MIN_WORK)
    return _load() if wanted else None


def available() -> bool:
    """True if numba is installed and the kernels import (whatever the current setting)."""
    return _load() is not None


def status() -> str:
    """One line for benchmarks and ``rnnlab info``-style reports."""
    if not available():
        return f"off (numba not available: {_loaded.get('error')})"
    if kernels() is None:
        return "off (RNNLAB_JIT=0 or use_jit(False))"
    return f"on (numba {_load().numba_version})"


@contextmanager
def use_jit(enabled: bool):
    """Inside: the fast path uses the compiled kernels (if available) or not.  Not per thread."""
    _override.append(bool(enabled))
    try:
        yield
    finally:
        _override.pop()
