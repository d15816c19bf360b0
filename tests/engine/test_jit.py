"""The switch for the compiled gate kernels (engine/jit.py): real, overridable, and lazy.

That the kernels compute what the loop computes is in test_fused_equals_loop.py (every case runs
with and without them).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rnnlab.engine import Recurrent, RecurrentConfig, fused, jit


def lstm_case(B=7, T=5, H=6, seed=0):
    rng = np.random.default_rng(seed)
    config = RecurrentConfig("lstm", 4, H, 1)
    params = Recurrent(config, rng=rng).params
    return config, params, rng.integers(0, 4, size=(T, B))  # (T, B)


def test_the_kernels_are_used_when_on_and_bypassed_when_off(monkeypatch):
    """The switch is real: with the JIT on, a broken kernel breaks the fast path; off, it is never called."""
    if not jit.available():
        pytest.skip("numba not installed")
    from rnnlab.engine import _kernels

    def broken(*args):
        raise RuntimeError("kernel called")

    monkeypatch.setattr(_kernels, "lstm_cell_forward", broken)
    config, params, x = lstm_case()
    with jit.use_jit(True), pytest.raises(RuntimeError, match="kernel called"):
        fused.forward(config, params, x, chunks=1)
    with jit.use_jit(False):
        fused.forward(config, params, x, chunks=1)


def test_rnnlab_jit_0_in_the_environment_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv("RNNLAB_JIT", "0")
    assert jit.kernels() is None
    assert "off" in jit.status()
    with jit.use_jit(True):  # an explicit setting wins over the environment
        assert (jit.kernels() is not None) == jit.available()


def test_small_work_runs_numpy_and_training_sized_work_uses_the_kernels(monkeypatch):
    monkeypatch.delenv("RNNLAB_JIT", raising=False)
    assert jit.kernels(work=jit.MIN_WORK - 1) is None
    assert (jit.kernels(work=jit.MIN_WORK) is not None) == jit.available()
    with jit.use_jit(False):
        assert jit.kernels(work=10**9) is None


def test_a_small_forward_does_not_import_numba():
    """The web app's visualizer traces are small: they must not pay for numba's import."""
    code = (
        "import sys, numpy as np\n"
        "from rnnlab.engine import Recurrent, RecurrentConfig\n"
        "rnn = Recurrent(RecurrentConfig('lstm', 5, 32, 2), rng=np.random.default_rng(0))\n"
        "out, state, cache = rnn.forward(np.zeros((50, 1), dtype=np.int64), record=True)\n"
        "rnn.backward(cache, np.ones_like(out))\n"
        "print('numba' in sys.modules)"
    )
    env_out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert env_out.strip() == "False"


def test_other_dtypes_run_numpy_even_when_forced():
    with jit.use_jit(True):
        assert jit.kernels(work=10**9, dtype=np.float16) is None
        assert (jit.kernels(work=10**9, dtype=np.float32) is not None) == jit.available()


def test_kernels_that_fail_to_import_fall_back_to_numpy_and_say_why(monkeypatch):
    """Not only ImportError: numba raises RuntimeError at decoration when it has nowhere to cache."""
    import builtins

    real_import = builtins.__import__

    def failing_import(name, globals=None, locals=None, fromlist=(), level=0):
        if fromlist and "_kernels" in fromlist:
            raise RuntimeError("cannot cache function: no locator available")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(jit, "_loaded", {})
    monkeypatch.setattr(builtins, "__import__", failing_import)
    with jit.use_jit(True):
        assert jit.kernels(work=10**9) is None
        assert not jit.available()
        assert "no locator available" in jit.status()
        config, params, x = lstm_case()
        out, _, _, _ = fused.forward(config, params, x, chunks=1)  # the NumPy path runs
    assert np.isfinite(out).all()
