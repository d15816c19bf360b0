"""The thread count of NumPy's BLAS, read and set for a while (standard library ``ctypes`` only).

The fast path (``fused.py``) splits a batch into chunks and runs each chunk's whole recurrence in
its own Python thread.  Each of those threads must then call a *single-threaded* BLAS: two callers
sharing OpenBLAS's thread pool wait for each other.  ``single_threaded()`` sets OpenBLAS to one
thread while the chunks run and restores the previous count afterwards (reference-counted, so
nested or concurrent callers restore it once, when the last one leaves).

Only OpenBLAS (NumPy's own wheels on Linux, Windows and Intel macOS) is recognised.  With another
BLAS (Apple Accelerate, MKL) ``threads()`` is 1 and the fast path runs in one thread: slower, the
same numbers.  This is what ``threadpoolctl`` does, cut down to the one library NumPy ships,
because the engine may import nothing but NumPy and the standard library.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import threading
from contextlib import contextmanager

import numpy as np

# (get, set) symbol names, newest NumPy wheels first (scipy-openblas, 64-bit integers).
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)

_lock = threading.Lock()
_users = 0  # how many callers are inside single_threaded() now
_saved = 1  # the thread count to restore when the last one leaves
_api: tuple | None | bool = False  # False: not looked up yet; None: no OpenBLAS found


def _candidate_paths() -> list[str]:
    """OpenBLAS libraries that may be NumPy's, NumPy's own first.

    A process can hold several OpenBLAS copies: SciPy's wheels carry their own (imported by
    statsmodels, scikit-learn or numba), with the same unsuffixed symbol names.  Controlling the
    wrong one leaves NumPy's multi-threaded under the chunk threads, and the fast path twice as
    slow, so the library NumPy's wheel carries comes first, then loaded libraries that NumPy's core
    extension names, then any other loaded OpenBLAS (a NumPy built against the system's).
    """
    root = os.path.dirname(os.path.dirname(np.__file__))  # site-packages
    paths = []
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*"):
        paths += sorted(glob.glob(os.path.join(root, pattern)))
    if paths:
        return paths
    loaded = []
    try:  # Linux: the libraries this process has actually loaded
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in loaded:
                    loaded.append(path)
    except OSError:
        pass
    needed = _named_by_numpy()
    return [p for p in loaded if os.path.basename(p) in needed] + [p for p in loaded if os.path.basename(p) not in needed]


def _named_by_numpy() -> set[str]:
    """The OpenBLAS file names that NumPy's core extension module links against (read from its binary)."""
    try:
        from numpy._core import _multiarray_umath as core
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as core
    try:
        with open(core.__file__, "rb") as f:
            data = f.read()
    except OSError:
        return set()
    return {m.decode() for m in re.findall(rb"lib[\w.+-]*openblas[\w.+-]*\.(?:so[\w.]*|dylib|dll)", data)}


def _load():
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            get_fn, set_fn = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get_fn is not None and set_fn is not None:
                get_fn.restype, get_fn.argtypes = ctypes.c_int, []
                set_fn.restype, set_fn.argtypes = None, [ctypes.c_int]
                return get_fn, set_fn, path
    return None


def _openblas():
    global _api
    if _api is False:
        with _lock:
            if _api is False:
                _api = _load()
    return _api


def library_path() -> str | None:
    """The file of the OpenBLAS whose threads this module reads and sets (NumPy's), or None."""
    api = _openblas()
    return None if api is None else api[2]


def controllable() -> bool:
    """True if OpenBLAS's thread count can be read and set (the fast path's chunk threads need it)."""
    return _openblas() is not None


def threads() -> int:
    """OpenBLAS's thread count now (outside ``single_threaded``), or 1 if it cannot be controlled."""
    api = _openblas()
    if api is None:
        return 1
    with _lock:
        return _saved if _users else max(1, api[0]())


@contextmanager
def single_threaded():
    """Inside: OpenBLAS runs every product in the calling thread.  Safe to nest and to share."""
    global _users, _saved
    api = _openblas()
    if api is None:
        yield
        return
    with _lock:
        if _users == 0:
            _saved = api[0]()
            api[1](1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                api[1](_saved)
