"""The fast path (fused.py) computes exactly what the plain loop (loop.py) computes.

Outputs, final states, the whole trace, every parameter gradient, the input gradient, dh0/dc0 and
dL/dh_t for every step and layer; for every cell, 1-3 layers, float and one-hot integer input,
float32 and float64, with and without an initial state and a gradient on the final state, and with
the batch in one chunk or split across threads; with the compiled gate kernels (jit.py, numba) and
with the NumPy code.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from rnnlab.engine import Recurrent, RecurrentConfig, State, blas, fused, jit, loop

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


@pytest.fixture(params=[False, True], ids=["numpy", "jit"])
def use_jit(request):
    """Run the test with the NumPy gate math and with the compiled kernels (which must exist under CI)."""
    if request.param and not jit.available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"numba must be installed under CI=true (pip install -e '.[fast]'): {jit.status()}")
        pytest.skip("numba not installed: pip install -e '.[fast]'")
    with jit.use_jit(request.param):
        assert (jit.kernels() is not None) == request.param
        yield request.param


def assert_same(a, b, dtype, what):
    assert (a is None) == (b is None), what
    if a is not None:
        assert a.shape == b.shape, f"{what}: shape {b.shape} != {a.shape}"
        np.testing.assert_allclose(b, a, err_msg=what, **TOL[dtype])


def make_case(cell, nonlinearity, layers, int_input, dtype, with_state, seed=0, T=5, B=7, I=4, H=6):
    rng = np.random.default_rng(seed)
    config = RecurrentConfig(cell, I, H, layers, nonlinearity)
    params = Recurrent(config, rng=rng, dtype=dtype).params
    if int_input:
        x = rng.integers(0, I, size=(T, B))  # (T, B)
    else:
        x = rng.standard_normal((T, B, I)).astype(dtype)  # (T, B, I)
    state = dstate = None
    if with_state:
        c = rng.standard_normal((layers, B, H)).astype(dtype) if cell == "lstm" else None  # (L, B, H)
        state = State(rng.standard_normal((layers, B, H)).astype(dtype), c)  # (L, B, H)
        dc = rng.standard_normal((layers, B, H)).astype(dtype) if cell == "lstm" else None  # (L, B, H)
        dstate = State(rng.standard_normal((layers, B, H)).astype(dtype), dc)  # (L, B, H)
    dout = rng.standard_normal((T, B, H)).astype(dtype)  # (T, B, H)
    return config, params, x, state, dout, dstate


def snapshot(*arrays_or_states):
    flat = []
    for a in arrays_or_states:
        if isinstance(a, State):
            flat += [a.h, a.c]
        else:
            flat.append(a)
    return [None if a is None else a.copy() for a in flat]


def compare(config, params, x, state, dout, dstate, dtype, chunks):
    before = snapshot(x, state, dout, dstate, *params.values())
    out_l, final_l, cache_l, trace_l = loop.forward(config, params, x, state, record=True)
    out_f, final_f, cache_f, trace_f = fused.forward(config, params, x, state, record=True, chunks=chunks)
    assert out_f.dtype == dtype
    assert_same(out_l, out_f, dtype, "outputs")
    assert_same(final_l.h, final_f.h, dtype, "final h")
    assert_same(final_l.c, final_f.c, dtype, "final c")
    for k, (tl, tf) in enumerate(zip(trace_l.layers, trace_f.layers, strict=True)):
        assert_same(tl.h, tf.h, dtype, f"trace h, layer {k}")
        assert_same(tl.c, tf.c, dtype, f"trace c, layer {k}")
        assert_same(tl.preact, tf.preact, dtype, f"trace preact, layer {k}")
        assert sorted(tl.gates) == sorted(tf.gates)
        for name in tl.gates:
            assert_same(tl.gates[name], tf.gates[name], dtype, f"trace gate {name}, layer {k}")
    g_l = loop.backward(params, cache_l, dout, dstate)
    g_f = fused.backward(params, cache_f, dout, dstate)
    assert list(g_f.params) == list(params)
    for name in params:
        assert_same(g_l.params[name], g_f.params[name], dtype, f"gradient of {name}")
    assert_same(g_l.dx, g_f.dx, dtype, "dx")
    assert_same(g_l.dh0, g_f.dh0, dtype, "dh0")
    assert_same(g_l.dc0, g_f.dc0, dtype, "dc0")
    assert_same(g_l.dh, g_f.dh, dtype, "dL/dh_t for every t and layer")
    for a, b in zip(before, snapshot(x, state, dout, dstate, *params.values()), strict=True):
        assert (a is None and b is None) or np.array_equal(a, b), "an input was modified in place"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("int_input", [False, True], ids=["float-in", "onehot-in"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS, ids=[f"{c}-{n}" for c, n in CELLS])
def test_fused_equals_loop_in_everything(cell, nonlinearity, layers, int_input, dtype, use_jit):
    for with_state in (False, True):
        case = make_case(cell, nonlinearity, layers, int_input, dtype, with_state, seed=layers)
        for chunks in (1, 3):  # one chunk in this thread; three chunks in three threads
            compare(*case, dtype, chunks)
        # A batch of one: its (., B, .) slices are contiguous either way, so nothing may be aliased.
        compare(*make_case(cell, nonlinearity, layers, int_input, dtype, with_state, seed=layers, B=1), dtype, 1)


@pytest.mark.parametrize("cell,nonlinearity", CELLS, ids=[f"{c}-{n}" for c, n in CELLS])
def test_long_sequences_and_big_batches_through_recurrent_match_the_loop(cell, nonlinearity, use_jit):
    """The default chunking (one per BLAS thread) over a longer, wider problem, via Recurrent."""
    config, params, x, state, dout, dstate = make_case(
        cell, nonlinearity, 2, True, np.float64, True, seed=5, T=40, B=33, I=11, H=16
    )
    fast, slow = Recurrent(config, params, impl="fused"), Recurrent(config, params, impl="loop")
    out_f, final_f, cache_f = fast.forward(x, state)
    out_l, final_l, cache_l = slow.forward(x, state)
    assert_same(out_l, out_f, np.float64, "outputs")
    g_f, g_l = fast.backward(cache_f, dout, dstate), slow.backward(cache_l, dout, dstate)
    for name in params:
        assert_same(g_l.params[name], g_f.params[name], np.float64, name)
    assert_same(g_l.dh, g_f.dh, np.float64, "dh")


def test_a_dstate_with_only_h_is_accepted_for_an_lstm(use_jit):
    config, params, x, state, dout, dstate = make_case("lstm", "tanh", 2, False, np.float64, True)
    compare(config, params, x, state, dout, State(dstate.h, None), np.float64, chunks=2)


def test_batch_spans_cover_every_sequence_once():
    for batch in (1, 2, 7, 64, 65):
        for chunks in (None, 1, 2, 3, 100):
            spans = fused.batch_spans(batch, chunks)
            columns = [j for lo, hi in spans for j in range(lo, hi)]
            assert columns == list(range(batch))
            assert all(hi > lo for lo, hi in spans)
    assert len(fused.batch_spans(4)) == 1  # too few sequences to be worth a second thread


def test_blas_thread_count_is_restored_after_forward_backward_and_after_an_error(monkeypatch):
    before = blas.threads()
    config, params, x, state, dout, dstate = make_case("lstm", "tanh", 1, True, np.float32, False, B=20)
    _, _, cache, _ = fused.forward(config, params, x, chunks=2)
    fused.backward(params, cache, dout)
    assert blas.threads() == before

    def broken(*args):
        raise RuntimeError("chunk failed")

    monkeypatch.setattr(fused, "_lstm_forward", broken)
    with pytest.raises(RuntimeError, match="chunk failed"):
        fused.forward(config, params, x, chunks=2)
    assert blas.threads() == before


def test_single_threaded_blas_nests_and_restores():
    before = blas.threads()
    with blas.single_threaded():
        with blas.single_threaded():
            assert blas.threads() == before  # reports the count it will restore
        assert blas.threads() == before
    assert blas.threads() == before

