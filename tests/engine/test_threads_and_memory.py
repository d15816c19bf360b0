"""The fast path's process-level helpers: BLAS thread control and glibc's freed-memory settings."""

import json
import os
import platform
import resource
import subprocess
import sys

import numpy as np
import pytest

from rnnlab.engine import blas, fused, memory

openblas = pytest.mark.skipif(blas._openblas() is None, reason="NumPy is not linked to OpenBLAS here")


def _openblas_threads_now() -> int:
    return blas._openblas()[0]()


@openblas
def test_single_threaded_sets_one_thread_and_restores_it():
    before = _openblas_threads_now()
    with blas.single_threaded():
        assert _openblas_threads_now() == 1
        with blas.single_threaded():  # nested: still one, and the outer exit restores
            assert _openblas_threads_now() == 1
        assert _openblas_threads_now() == 1
    assert _openblas_threads_now() == before


@openblas
def test_step_threads_is_single_threaded_only_when_the_batch_is_split():
    before = _openblas_threads_now()
    if before < 2:
        pytest.skip("OpenBLAS runs one thread here: the batch is never split")
    big = fused.MIN_CHUNK * 2 * before
    assert len(fused.batch_spans(big)) > 1
    with fused.step_threads(big):
        assert _openblas_threads_now() == 1
    assert _openblas_threads_now() == before
    assert len(fused.batch_spans(fused.MIN_CHUNK - 1)) == 1
    with fused.step_threads(fused.MIN_CHUNK - 1):  # one chunk: the products may use every thread
        assert _openblas_threads_now() == before


def test_keep_freed_memory_is_idempotent_and_says_what_it_did():
    first = memory.keep_freed_memory()
    assert isinstance(first, bool)
    assert memory.keep_freed_memory() is first
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert first is True


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                    reason="glibc's mallopt only")
def test_freed_blocks_are_reused_without_page_faults():
    """A 48 MiB block freed and allocated again comes back without faulting its pages in again
    (without the setting glibc unmaps it on free and the new block faults in again: 536 faults here,
    NumPy asking for huge pages; with it, 0)."""
    assert memory.keep_freed_memory()
    n = 48 * 1024 * 1024 // 8
    a = np.ones(n)  # touch every page once
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(n)  # the same size again: served from the kept heap
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert b[-1] == 1.0
    assert faults < 100, f"{faults} page faults for a block that was freed and reused"


SCIPY_FIRST = r"""
import json, os
import scipy.linalg  # SciPy's wheels carry a second OpenBLAS, loaded now, before the engine looks
import numpy as np
from threadpoolctl import threadpool_info
from rnnlab.engine import blas

def numpy_blas():
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    mine = [p for p in pools if "numpy" in p["filepath"]]
    return mine[0]["num_threads"] if mine else None, len(pools)

before, pools = numpy_blas()
with blas.single_threaded():
    inside, _ = numpy_blas()
after, _ = numpy_blas()
print(json.dumps({"before": before, "inside": inside, "after": after, "pools": pools}))
"""


def test_single_threaded_controls_numpys_openblas_when_scipy_loaded_its_own_first():
    """With SciPy imported first (statsmodels, scikit-learn and numba all do), two OpenBLAS copies are
    loaded; setting SciPy's to one thread left NumPy's at two under the chunk threads: 2x slower."""
    pytest.importorskip("scipy")
    pytest.importorskip("threadpoolctl")
    out = subprocess.run([sys.executable, "-c", SCIPY_FIRST], capture_output=True, text=True, check=True,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "2"}).stdout
    r = json.loads(out.strip().splitlines()[-1])
    if r["before"] is None:
        pytest.skip("NumPy's OpenBLAS is not a wheel's copy here: threadpoolctl cannot tell which is NumPy's")
    assert r["pools"] >= 2, r  # the situation under test: SciPy's copy is loaded too
    assert (r["before"], r["inside"], r["after"]) == (2, 1, 2), r


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_the_callers_errstate_holds_in_every_chunk_thread(direction):
    from rnnlab.engine import Recurrent, RecurrentConfig

    config = RecurrentConfig("rnn", input_size=3, hidden_size=8, nonlinearity="relu")
    net = Recurrent(config, rng=np.random.default_rng(0), dtype=np.float32)
    x = np.ones((5, 32, 3), np.float32)  # (T, B, I)
    big = np.finfo(np.float32).max
    if direction == "forward":
        net.params["weight_ih_l0"] *= 1e10
        x[:, 16:] = 1e30  # only the second chunk, which runs in a worker thread, overflows: W_ih x ~ 1e40
    with np.errstate(all="ignore"):
        out, _, cache, _ = fused.forward(config, net.params, x, chunks=2)
    dout = np.zeros_like(out)  # (T, B, H)
    dout[:, 16:] = big  # the second chunk's weight gradients sum 5 steps of it
    with np.errstate(over="raise", invalid="raise"), pytest.raises(FloatingPointError):
        if direction == "forward":
            fused.forward(config, net.params, x, chunks=2)
        else:
            fused.backward(net.params, cache, dout)
