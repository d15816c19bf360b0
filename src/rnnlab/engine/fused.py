"""The fast path: the same equations as ``loop.py``, arranged for speed on a few CPU cores.

Nothing here changes the mathematics; ``tests/engine/test_fused_equals_loop.py`` checks outputs,
final states, traces, every gradient and dL/dh_t against the plain loop.  What changes, and what
each change buys (measured in ``benchmarks/RESULTS.md``):

1. **Batch chunks in threads.**  The sequences of a batch never interact, so the batch is cut into
   as many chunks as BLAS has threads (2 here) and each chunk runs its *whole* recurrence, every
   layer, forward and backward, in its own Python thread, with OpenBLAS set to one thread
   (``blas.single_threaded``).  NumPy releases the GIL inside every product and element-wise
   call, so both cores are busy all the time: the element-wise gate math, single-threaded in
   NumPy, now runs on both cores, and there is no per-step hand-over between BLAS threads.
2. **Feature-major layout.**  Inside a chunk a step's arrays are (G*H, b) and (H, b): one column
   per sequence.  The step's product ``W_hh @ h`` (a tall matrix times a thin one) runs at ~95%
   of a core's peak in OpenBLAS, against ~60-75% for the batch-major ``h @ W_hh.T``; and each
   gate is a contiguous block of rows, so every gate op is one flat pass over memory.
3. **Gates reordered and pre-scaled.**  Internally the LSTM's gates are stored i, f, o, g so the
   three sigmoids are one block; the sigmoid rows of the weights and biases are multiplied by 0.5
   once, so ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5`` becomes one ``tanh`` over the whole (4H, b)
   step plus two in-place ops.  (Scaling by 0.5 is exact in floating point.)
4. **Input projections in one product**, ``W_ih @ X`` for all steps, with both biases folded in.
   For integer (one-hot) input the product is a column gather of ``W_ih + bias``, done step by
   step inside the loop (the gathered block is used while it is still in cache).
5. **In place, no per-step allocations**: every step writes into preallocated (T, ., b) arrays.
6. **Weight gradients after the loop, in one product**: with R = [X; 1; H_prev] stacked over all
   T*b columns, ``dZ @ R.T`` is ``[dW_ih | db | dW_hh]`` at once (for one-hot input X is the
   one-hot matrix: a product, 9x faster than ``np.add.at``).  Each step's dZ is copied into its
   columns while hot, instead of transposing the whole array at the end.  Each thread multiplies
   its own chunk; the chunks' results are added.
7. **ReLU's derivative from its output** (``h > 0`` iff ``a > 0``), so no pre-activation is kept.
8. **No spinning BLAS threads around the chunks.**  After a multi-threaded product OpenBLAS's idle
   workers spin for about 0.1 s before they sleep, on the very cores the chunk threads need: a
   head product at 2 threads just before the backward made it 30% slower.  A whole training step
   (recurrence, head, loss, optimizer) therefore runs inside ``step_threads(batch)``, which keeps
   BLAS single-threaded for the step whenever the batch is split into chunk threads; the head and
   the loss then run in the same batch chunks, each in its thread (``output.py``).
9. **Compiled gate math, when numba is installed** (``jit.py``, ``_kernels.py``).  Each step's
   element-wise work (the one-hot gather plus the recurrent product; the sigmoids and the cell
   update; in the backward every gate's gradient and the cell's) is one compiled pass that holds no
   GIL, instead of a dozen short NumPy calls that the chunk threads take the GIL for in turn.  The
   ``tanh`` calls and the products stay in NumPy and BLAS.  It buys 3-25% on LSTM steps, most at
   small H (the hand-overs, more than the passes); ``RNNLAB_JIT=0`` turns it off; both ways are
   tested equal to the loop.

Shape legend: B batch, b a chunk of it, T time, I input, H hidden, G gates, L layers.
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from . import blas, jit
from .config import RecurrentConfig, State, zero_state
from .loop import Gradients
from .params import LayerParams
from .trace import LayerTrace, Trace

MIN_CHUNK = 8  # fewer sequences than this per thread: one thread does better (products too thin)

# Internal gate order, as PyTorch gate indices, and how many leading blocks are sigmoids.
GATE_ORDER = {"rnn": (0,), "lstm": (0, 1, 3, 2), "gru": (0, 1, 2)}  # LSTM: i f o g
SIGMOID_BLOCKS = {"rnn": 0, "lstm": 3, "gru": 2}


# ---- caches --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkLayer:
    """One layer of one batch chunk, feature-major; gate blocks in internal order."""

    x: np.ndarray  # (T, b) integer indices (first layer, integer input) or (T, I, b) layer input
    hs: np.ndarray  # (T+1, H, b) h_{-1} = h0, h_0 .. h_{T-1}
    acts: np.ndarray | None  # (T, G*H, b) activated gates (LSTM i f o g; GRU r z n); None for RNN
    cs: np.ndarray | None  # (T+1, H, b) LSTM cell states, c0 first
    tanh_c: np.ndarray | None  # (T, H, b) LSTM
    gh_n: np.ndarray | None  # (T, H, b) GRU: W_hn h_prev + b_hn
    pre: np.ndarray | None  # (T, G*H, b) pre-activations in internal order, scaled (record only)


@dataclass(frozen=True)
class FusedCache:
    config: RecurrentConfig
    state0: State
    int_input: bool
    spans: tuple[tuple[int, int], ...]  # batch columns [lo, hi) of each chunk
    chunks: tuple[tuple[ChunkLayer, ...], ...]  # [chunk][layer]


# ---- weights in internal order -------------------------------------------------------------------
def _gate_rows(cell: str, H: int) -> np.ndarray:
    """Row indices that put PyTorch's gate blocks into internal order: internal = external[rows]."""
    return np.concatenate([np.arange(j * H, (j + 1) * H) for j in GATE_ORDER[cell]])  # (G*H,)


@dataclass(frozen=True)
class ForwardWeights:
    w_ih: np.ndarray  # (G*H, I) internal order, sigmoid rows * 0.5
    w_hh: np.ndarray  # (G*H, H) internal order, sigmoid rows * 0.5
    bias: np.ndarray  # (G*H, 1) b_ih + b_hh (GRU: b_hh only for r, z), scaled like the weights
    b_hn: np.ndarray | None  # (H, 1) GRU: b_hn, applied to W_hn h_prev before the reset gate

    @property
    def w_ih_plus_bias(self) -> np.ndarray:
        """(G*H, V): for one-hot input, column v is W_ih onehot(v) + bias, so one gather per step."""
        return self.w_ih + self.bias


def _forward_weights(cell: str, p: LayerParams) -> ForwardWeights:
    H = p.weight_hh.shape[1]
    rows = _gate_rows(cell, H)
    scale = np.ones((rows.size, 1), p.weight_hh.dtype)  # (G*H, 1)
    scale[: SIGMOID_BLOCKS[cell] * H] = 0.5
    if cell == "gru":
        bias = p.bias_ih.copy()  # (3H,)
        bias[: 2 * H] += p.bias_hh[: 2 * H]
        b_hn = p.bias_hh[2 * H :, None].copy()  # (H, 1)
    else:
        bias, b_hn = p.bias_ih + p.bias_hh, None  # (G*H,)
    return ForwardWeights(
        w_ih=p.weight_ih[rows] * scale,  # (G*H, I)
        w_hh=p.weight_hh[rows] * scale,  # (G*H, H)
        bias=bias[rows, None] * scale,  # (G*H, 1)
        b_hn=b_hn,
    )


# ---- forward, one layer of one chunk ------------------------------------------------------------
def _rnn_forward(w: ForwardWeights, xproj, tokens, h0, nonlinearity, record, k=None):
    """xproj (T, H, b) = W_ih x_t + b_ih + b_hh (or tokens (T, b) for one-hot input).

    h_t = act(xproj_t + W_hh h_{t-1}).  ``k``: the compiled kernels (jit.py) or None.
    """
    T, H, b = xproj.shape
    hs = np.empty((T + 1, H, b), xproj.dtype)  # (T+1, H, b)
    hs[0] = h0
    pre = np.empty_like(xproj) if record else None  # (T, H, b)
    wh = np.empty((H, b), xproj.dtype)  # (H, b) scratch for W_hh h
    w_in = w.w_ih_plus_bias if tokens is not None else None  # (H, V)
    for t in range(T):
        h = hs[t + 1]
        np.matmul(w.w_hh, hs[t], out=wh)
        if tokens is not None and k is not None:
            k.gather_add(w_in, tokens[t], wh, h)  # gather and add in one pass (trick 9)
        elif tokens is not None:  # one-hot input: the product is a column gather (trick 4)
            np.take(w_in, tokens[t], axis=1, out=h, mode="clip")
            h += wh
        else:
            np.add(xproj[t], wh, out=h)  # a: the pre-activation, in place in h_t
        if record:
            pre[t] = h
        if nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)
    return ChunkLayer(x=None, hs=hs, acts=None, cs=None, tanh_c=None, gh_n=None, pre=pre)


def _lstm_forward(w: ForwardWeights, acts, tokens, h0, c0, record, k=None):
    """acts (T, 4H, b) holds the input projections (or, with tokens (T, b), nothing yet) and
    becomes the activated gates i, f, o, g.  ``k``: the compiled kernels (jit.py) or None."""
    T, G_H, b = acts.shape
    H, H3 = G_H // 4, 3 * (G_H // 4)
    dtype = acts.dtype
    hs = np.empty((T + 1, H, b), dtype)  # (T+1, H, b)
    cs = np.empty((T + 1, H, b), dtype)  # (T+1, H, b)
    hs[0], cs[0] = h0, c0
    tanh_c = np.empty((T, H, b), dtype)  # (T, H, b)
    pre = np.empty_like(acts) if record else None  # (T, 4H, b)
    wh = np.empty((G_H, b), dtype)  # (4H, b) scratch for W_hh h
    ig = np.empty((H, b), dtype)  # (H, b) scratch for i * g
    w_in = w.w_ih_plus_bias if tokens is not None else None  # (4H, V)
    half = dtype.type(0.5)
    for t in range(T):
        z = acts[t]  # (4H, b): [i f o] pre-activations / 2, then g
        np.matmul(w.w_hh, hs[t], out=wh)
        if tokens is not None and k is not None:
            k.gather_add(w_in, tokens[t], wh, z)  # gather and add in one pass (trick 9)
        else:
            if tokens is not None:  # one-hot input: the product is a column gather (trick 4)
                np.take(w_in, tokens[t], axis=1, out=z, mode="clip")
            z += wh
        if record:
            pre[t] = z
        np.tanh(z, out=z)  # all four gates in one pass (trick 3)
        if k is not None:  # sigmoids and the cell update in one compiled pass (trick 9)
            k.lstm_cell_forward(half, z, cs[t], cs[t + 1])
            np.tanh(cs[t + 1], out=tanh_c[t])
            np.multiply(z[2 * H : H3], tanh_c[t], out=hs[t + 1])  # h = o * tanh(c)
            continue
        sig = z[:H3]
        sig *= 0.5
        sig += 0.5  # i, f, o = sigmoid of the unscaled pre-activations
        i, f, o, g = z[:H], z[H : 2 * H], z[2 * H : H3], z[H3:]
        c = cs[t + 1]
        np.multiply(f, cs[t], out=c)
        np.multiply(i, g, out=ig)
        c += ig  # c = f * c_prev + i * g
        np.tanh(c, out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])  # h = o * tanh(c)
    return ChunkLayer(x=None, hs=hs, acts=acts, cs=cs, tanh_c=tanh_c, gh_n=None, pre=pre)


def _gru_forward(w: ForwardWeights, acts, tokens, h0, record, k=None):
    """acts (T, 3H, b) holds W_ih x + b_ih (+ b_hr, b_hz) (or, with tokens (T, b), nothing yet) and
    becomes the activated gates r, z, n.  ``k``: the compiled kernels (jit.py) or None."""
    T, G_H, b = acts.shape
    H = G_H // 3
    dtype = acts.dtype
    hs = np.empty((T + 1, H, b), dtype)  # (T+1, H, b)
    hs[0] = h0
    gh_n = np.empty((T, H, b), dtype)  # (T, H, b)
    pre = np.empty_like(acts) if record else None  # (T, 3H, b)
    wh = np.empty((G_H, b), dtype)  # (3H, b) scratch for W_hh h
    rg = np.empty((H, b), dtype)  # (H, b) scratch for r * gh_n
    w_in = w.w_ih_plus_bias if tokens is not None else None  # (3H, V)
    half = dtype.type(0.5)
    for t in range(T):
        a = acts[t]  # (3H, b)
        if k is not None:  # the same steps as below, in three compiled passes and two tanh (trick 9)
            if tokens is not None:
                k.gather(w_in, tokens[t], a)
            np.matmul(w.w_hh, hs[t], out=wh)
            k.gru_gates_in(wh, w.b_hn, a, gh_n[t])  # r, z pre-activations / 2; gh_n
            if record:
                pre[t, : 2 * H] = a[: 2 * H]
            np.tanh(a[: 2 * H], out=a[: 2 * H])
            k.gru_gates_mid(half, a, gh_n[t])  # r, z; n pre-activation
            if record:
                pre[t, 2 * H :] = a[2 * H :]
            np.tanh(a[2 * H :], out=a[2 * H :])
            k.gru_hidden(a, hs[t], hs[t + 1])
            continue
        if tokens is not None:  # one-hot input: the product is a column gather (trick 4)
            np.take(w_in, tokens[t], axis=1, out=a, mode="clip")
        np.matmul(w.w_hh, hs[t], out=wh)
        np.add(wh[2 * H :], w.b_hn, out=gh_n[t])  # gh_n = W_hn h_prev + b_hn
        rz = a[: 2 * H]
        rz += wh[: 2 * H]  # (r, z pre-activations) / 2
        if record:
            pre[t, : 2 * H] = rz
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r, z
        r, zg, n = a[:H], a[H : 2 * H], a[2 * H :]
        np.multiply(r, gh_n[t], out=rg)
        n += rg  # n pre-activation: gi_n + r * gh_n
        if record:
            pre[t, 2 * H :] = n
        np.tanh(n, out=n)
        h = hs[t + 1]
        np.subtract(hs[t], n, out=h)
        h *= zg
        h += n  # h = (1 - z) * n + z * h_prev = n + z * (h_prev - n)
    return ChunkLayer(x=None, hs=hs, acts=acts, cs=None, tanh_c=None, gh_n=gh_n, pre=pre)


def _forward_chunk(config: RecurrentConfig, weights, x, state: State, lo: int, hi: int, record: bool,
                   out, h_n, c_n, k=None):
    """All layers of batch columns lo:hi.  Reads x (T, B) or (T, B, I) and state; writes its columns
    of out (T, B, H), h_n and c_n (L, B, H) (the layout changes happen in the threads too)."""
    dtype = out.dtype
    if x.ndim == 2:
        layer_in = np.ascontiguousarray(x[:, lo:hi])  # (T, b) integer indices
    else:
        layer_in = _feature_major(x, lo, hi, dtype)  # (T, I, b)
    h0 = _feature_major(state.h, lo, hi, dtype)  # (L, H, b)
    c0 = _feature_major(state.c, lo, hi, dtype) if config.has_cell_state else None  # (L, H, b)
    layers = []
    for li, w in enumerate(weights):  # li: layer index
        if layer_in.ndim == 2:  # one-hot input: gathered step by step inside the loop (trick 4)
            tokens = layer_in  # (T, b)
            xproj = np.empty((tokens.shape[0], w.w_hh.shape[0], tokens.shape[1]), dtype)  # (T, G*H, b)
        else:
            tokens = None
            xproj = np.matmul(w.w_ih, layer_in)  # (T, G*H, b)
            xproj += w.bias
        if config.cell == "rnn":
            layer = _rnn_forward(w, xproj, tokens, h0[li], config.nonlinearity, record, k)
        elif config.cell == "lstm":
            layer = _lstm_forward(w, xproj, tokens, h0[li], c0[li], record, k)
        else:
            layer = _gru_forward(w, xproj, tokens, h0[li], record, k)
        layers.append(ChunkLayer(layer_in, layer.hs, layer.acts, layer.cs, layer.tanh_c, layer.gh_n, layer.pre))
        layer_in = layer.hs[1:]  # (T, H, b)
        h_n[li, lo:hi] = layer.hs[-1].T
        if c_n is not None:
            c_n[li, lo:hi] = layer.cs[-1].T
    out[:, lo:hi] = np.swapaxes(layer_in, 1, 2)
    return tuple(layers)


# ---- running chunks in threads ------------------------------------------------------------------
def batch_spans(batch: int, chunks: int | None = None) -> tuple[tuple[int, int], ...]:
    """Split range(batch) into near-equal [lo, hi) spans: one per BLAS thread by default."""
    if chunks is None:
        chunks = min(blas.threads(), batch // MIN_CHUNK)
    chunks = max(1, min(int(chunks), batch))
    edges = [round(j * batch / chunks) for j in range(chunks + 1)]
    return tuple((edges[j], edges[j + 1]) for j in range(chunks))


def step_threads(batch: int):
    """Context for one whole training step of ``batch`` sequences (trick 8): BLAS single-threaded
    throughout when the fast path splits the batch into chunk threads, unchanged otherwise."""
    return blas.single_threaded() if len(batch_spans(batch)) > 1 else nullcontext()


def run_in_threads(fn, jobs: list[tuple]) -> list:
    """fn(*job) for every job: the first in this thread, the others each in its own thread."""
    if len(jobs) == 1:
        return [fn(*jobs[0])]
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(j: int) -> None:
        try:
            results[j] = fn(*jobs[j])
        except BaseException as e:  # re-raised in the caller below
            errors.append(e)

    with blas.single_threaded():  # each thread multiplies on its own core (trick 1)
        # Each thread runs in a copy of the caller's context, so the caller's np.errstate (a context
        # variable, which a new thread does not inherit) holds in every chunk, not just the first.
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, j), daemon=True)
                   for j in range(1, len(jobs))]
        for th in threads:
            th.start()
        run(0)
        for th in threads:
            th.join()
    if errors:
        raise errors[0]
    return results


def _feature_major(a: np.ndarray, lo: int, hi: int, dtype) -> np.ndarray:
    """(..., B, F) -> contiguous (..., F, b) for batch columns lo:hi."""
    return np.ascontiguousarray(np.swapaxes(a[..., lo:hi, :], -1, -2), dtype=dtype)


def forward(config: RecurrentConfig, params: dict, x: np.ndarray, state: State | None = None, record: bool = False,
            chunks: int | None = None):
    """Same contract as ``loop.forward``; ``chunks`` forces the number of batch chunks (threads)."""
    dtype = params["weight_hh_l0"].dtype
    int_input = np.issubdtype(x.dtype, np.integer)
    T, B = x.shape[:2]
    H, L = config.hidden_size, config.num_layers
    state = zero_state(config, B, dtype) if state is None else state
    weights = [_forward_weights(config.cell, LayerParams.of(params, k)) for k in range(L)]
    spans = batch_spans(B, chunks)
    out = np.empty((T, B, H), dtype)  # (T, B, H)
    h_n = np.empty((L, B, H), dtype)  # (L, B, H)
    c_n = np.empty((L, B, H), dtype) if config.has_cell_state else None  # (L, B, H)
    k = jit.kernels(work=T * B * H, dtype=dtype)
    jobs = [(config, weights, x, state, lo, hi, record, out, h_n, c_n, k) for lo, hi in spans]
    chunk_layers = tuple(run_in_threads(_forward_chunk, jobs))
    cache = FusedCache(config=config, state0=state, int_input=int_input, spans=spans, chunks=chunk_layers)
    trace = _trace(config, spans, chunk_layers, T, B) if record else None
    return out, State(h_n, c_n), cache, trace


def _trace(config: RecurrentConfig, spans, chunk_layers, T: int, B: int) -> Trace:
    """Reassemble the typed trace in the loop's layout: (T, B, .) arrays, PyTorch gate order."""
    H, G = config.hidden_size, len(config.gates)
    dtype = chunk_layers[0][0].hs.dtype
    inverse = np.argsort(_gate_rows(config.cell, H))  # external = internal[inverse]
    unscale = np.ones(G * H, dtype)  # (G*H,)
    unscale[: SIGMOID_BLOCKS[config.cell] * H] = 2.0  # the sigmoid rows were stored halved (exact)
    layers = []
    for k in range(config.num_layers):
        h = np.empty((T, B, H), dtype)  # (T, B, H)
        pre = np.empty((T, B, G * H), dtype)  # (T, B, G*H)
        acts = np.empty((T, B, G * H), dtype) if config.cell != "rnn" else None  # (T, B, G*H)
        c = np.empty((T, B, H), dtype) if config.has_cell_state else None  # (T, B, H)
        for (lo, hi), layers_of_chunk in zip(spans, chunk_layers):
            lc = layers_of_chunk[k]
            h[:, lo:hi] = np.swapaxes(lc.hs[1:], 1, 2)
            pre[:, lo:hi] = np.swapaxes(lc.pre * unscale[:, None], 1, 2)[:, :, inverse]
            if acts is not None:
                acts[:, lo:hi] = np.swapaxes(lc.acts, 1, 2)[:, :, inverse]
            if c is not None:
                c[:, lo:hi] = np.swapaxes(lc.cs[1:], 1, 2)
        gates = {} if acts is None else {
            name: acts[:, :, j * H : (j + 1) * H].copy() for j, name in enumerate(config.gates)
        }
        layers.append(LayerTrace(h=h, preact=pre, gates=gates, c=c))
    return Trace(config.cell, tuple(layers))


# ---- backward, one layer of one chunk -----------------------------------------------------------
# Each step's gradient of the pre-activations is made in a small contiguous scratch (fast element-wise
# ops and product) and then copied into its columns of dZ (G*H, T*b), the layout the weight-gradient
# product wants (trick 6): a hot copy per step instead of a transpose of the whole array at the end.
def _rnn_backward(w_hh_t, lc: ChunkLayer, dout, dh_next, nonlinearity, dz_cols, k=None):
    """da_t = dh_t * act'(a_t);  dh_{t-1} = W_hh.T da_t.  Fills dz_cols (H, T*b); returns (dh (T, H, b), dh0)."""
    T, H, b = dout.shape
    dtype = dout.dtype
    dh_all = np.empty((T, H, b), dtype)  # (T, H, b)
    da = np.empty((H, b), dtype)  # (H, b)
    da_cols = dz_cols.reshape(H, T, b)  # (H, T, b) view: step t's columns are da_cols[:, t]
    positive = np.empty((H, b), bool)  # (H, b) ReLU: a > 0 exactly when h > 0 (trick 7)
    if k is not None:  # the element-wise part of each step in one compiled pass (trick 9)
        one, relu = dtype.type(1), nonlinearity == "relu"
        for t in reversed(range(T)):
            k.rnn_backward_step(one, relu, dout[t], dh_next, lc.hs[t + 1], dh_all[t], da)
            np.matmul(w_hh_t, da, out=dh_next)
            da_cols[:, t] = da
        return dh_all, dh_next
    for t in reversed(range(T)):
        dh = np.add(dout[t], dh_next, out=dh_all[t])
        h = lc.hs[t + 1]
        if nonlinearity == "tanh":
            np.multiply(h, h, out=da)
            np.subtract(1, da, out=da)
            da *= dh  # da = dh * (1 - h^2)
        else:
            np.greater(h, 0, out=positive)
            np.multiply(dh, positive, out=da)
        np.matmul(w_hh_t, da, out=dh_next)
        da_cols[:, t] = da
    return dh_all, dh_next


def _lstm_backward(w_hh_t, lc: ChunkLayer, dout, dh_next, dc_next, dz_cols, k=None):
    """The LSTM cell's backward (lstm_cell.py) over all steps, gates in internal order i, f, o, g.

    Fills dz_cols (4H, T*b); returns (dh (T, H, b), dh0); dc_next ends as dc0.
    """
    T, H, b = dout.shape
    dtype = dout.dtype
    H2, H3 = 2 * H, 3 * H
    dh_all = np.empty((T, H, b), dtype)  # (T, H, b)
    dz = np.empty((4 * H, b), dtype)  # (4H, b) gradient of this step's gate pre-activations
    dz_steps = dz_cols.reshape(4 * H, T, b)  # (4H, T, b) view
    dz_i, dz_f, dz_o, dz_g = dz[:H], dz[H:H2], dz[H2:H3], dz[H3:]
    dz_if = dz[:H2].reshape(2, H, b)  # (2, H, b) view of the i and f blocks
    dc = np.empty((H, b), dtype)  # (H, b)
    tmp = np.empty((H, b), dtype)  # (H, b)
    if k is not None:  # the element-wise part of each step in one compiled pass (trick 9)
        one = dtype.type(1)
        for t in reversed(range(T)):
            k.lstm_backward_step(one, dout[t], dh_next, dc_next, lc.acts[t], lc.tanh_c[t], lc.cs[t], dh_all[t], dz)
            np.matmul(w_hh_t, dz, out=dh_next)  # dh_prev = W_hh.T dz
            dz_steps[:, t] = dz
        return dh_all, dh_next
    for t in reversed(range(T)):
        dh = np.add(dout[t], dh_next, out=dh_all[t])
        a, tc = lc.acts[t], lc.tanh_c[t]
        i, f, o, g = a[:H], a[H:H2], a[H2:H3], a[H3:]
        # dc = dc_next + dh * o * (1 - tanh(c)^2)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        np.add(dc_next, tmp, out=dc)
        # sigmoid' = s * (1 - s) for i, f, o in one pass over the block
        np.subtract(1, a[:H3], out=dz[:H3])
        dz[:H3] *= a[:H3]
        dz_i *= g  # dz_i = dc * g * i (1 - i)
        dz_f *= lc.cs[t]  # dz_f = dc * c_prev * f (1 - f)
        dz_if *= dc  # both times dc, in one call
        dz_o *= tc
        dz_o *= dh  # dz_o = dh * tanh(c) * o (1 - o)
        np.multiply(g, g, out=dz_g)
        np.subtract(1, dz_g, out=dz_g)
        dz_g *= i
        dz_g *= dc  # dz_g = dc * i * (1 - g^2)
        np.multiply(dc, f, out=dc_next)  # dc_prev = dc * f
        np.matmul(w_hh_t, dz, out=dh_next)  # dh_prev = W_hh.T dz
        dz_steps[:, t] = dz
    return dh_all, dh_next


def _gru_backward(w_hh_t, lc: ChunkLayer, dout, dh_next, dgi_cols, dgh_cols, k=None):
    """The GRU cell's backward (gru_cell.py) over all steps.

    Fills dgi_cols and dgh_cols (3H, T*b), the gradients of W_ih x + b_ih and of W_hh h + b_hh;
    returns (dh (T, H, b), dh0).
    """
    T, H, b = dout.shape
    dtype = dout.dtype
    H2 = 2 * H
    dh_all = np.empty((T, H, b), dtype)  # (T, H, b)
    dgi = np.empty((3 * H, b), dtype)  # (3H, b)
    dgh = np.empty((3 * H, b), dtype)  # (3H, b)
    dgi_steps, dgh_steps = dgi_cols.reshape(3 * H, T, b), dgh_cols.reshape(3 * H, T, b)  # (3H, T, b) views
    da_r, da_z, da_n = dgi[:H], dgi[H:H2], dgi[H2:]
    one_minus_z = np.empty((H, b), dtype)  # (H, b)
    tmp = np.empty((H, b), dtype)  # (H, b)
    if k is not None:  # the element-wise part of each step in one compiled pass (trick 9)
        one = dtype.type(1)
        for t in reversed(range(T)):
            k.gru_backward_step(one, dout[t], dh_next, lc.acts[t], lc.hs[t], lc.gh_n[t], dh_all[t], tmp, dgh,
                                dgi_cols, t * b)
            np.matmul(w_hh_t, dgh, out=dh_next)
            dgh_steps[:, t] = dgh
            dh_next += tmp  # dh_prev = dh * z + W_hh.T dgh
        return dh_all, dh_next
    for t in reversed(range(T)):
        dh = np.add(dout[t], dh_next, out=dh_all[t])
        a = lc.acts[t]
        r, zg, n = a[:H], a[H:H2], a[H2:]
        np.subtract(1, zg, out=one_minus_z)
        # da_n = dh * (1 - z) * (1 - n^2)
        np.multiply(n, n, out=da_n)
        np.subtract(1, da_n, out=da_n)
        da_n *= dh
        da_n *= one_minus_z
        # da_z = dh * (h_prev - n) * z * (1 - z)
        np.subtract(lc.hs[t], n, out=da_z)
        da_z *= dh
        da_z *= zg
        da_z *= one_minus_z
        # da_r = da_n * gh_n * r * (1 - r)
        np.subtract(1, r, out=da_r)
        da_r *= r
        da_r *= lc.gh_n[t]
        da_r *= da_n
        dgh[:H2] = dgi[:H2]
        np.multiply(da_n, r, out=dgh[H2:])
        np.matmul(w_hh_t, dgh, out=dh_next)
        np.multiply(dh, zg, out=tmp)
        dh_next += tmp  # dh_prev = dh * z + W_hh.T dgh
        dgi_steps[:, t] = dgi
        dgh_steps[:, t] = dgh
    return dh_all, dh_next


def _columns_into(dest: np.ndarray, a: np.ndarray) -> None:
    """(T, F, b) -> dest (F, T*b): every step's columns side by side, for one product over all steps."""
    T, F, b = a.shape
    dest.reshape(F, T, b)[...] = a.transpose(1, 0, 2)


def _weight_grads(lc: ChunkLayer, dgi2, dgh2, vocab: int) -> LayerParams:
    """All four gradients of one layer from one chunk, as one or two products over T*b columns.

    With R = [X; 1; H_prev] stacked as rows (I + 1 + H, T*b) -- the layer's inputs (one-hot
    vectors for integer input), a row of ones, the previous hidden states -- one product
    ``dZ @ R.T`` gives ``[dW_ih | db | dW_hh]`` at once (trick 6).  The GRU's two gradients of
    its pre-activations differ, so it takes two: ``dGI @ [X; 1].T`` and ``dGH @ [1; H_prev].T``.
    """
    T, H, b = lc.hs[1:].shape
    one_hot = lc.x.ndim == 2
    I = vocab if one_hot else lc.x.shape[1]
    R = np.empty((I + 1 + H, T * b), dgi2.dtype)  # (I + 1 + H, T*b)
    if one_hot:
        R[:I] = 0
        R[lc.x.reshape(-1), np.arange(T * b)] = 1  # the one-hot columns: a product, not np.add.at
    else:
        _columns_into(R[:I], lc.x)
    R[I] = 1
    _columns_into(R[I + 1 :], lc.hs[:-1])
    if dgh2 is dgi2:
        full = dgi2 @ R.T  # (G*H, I + 1 + H)
        return LayerParams(weight_ih=full[:, :I], weight_hh=full[:, I + 1 :], bias_ih=full[:, I], bias_hh=full[:, I])
    from_ih = dgi2 @ R[: I + 1].T  # (G*H, I + 1)
    from_hh = dgh2 @ R[I:].T  # (G*H, 1 + H)
    return LayerParams(weight_ih=from_ih[:, :I], weight_hh=from_hh[:, 1:], bias_ih=from_ih[:, I], bias_hh=from_hh[:, 0])


def _backward_chunk(config: RecurrentConfig, w_hh_ts, w_ih_ts, layers, lo: int, hi: int, dout, dstate,
                    dx, dh0, dc0, dh, k=None):
    """Backward through all layers of batch columns lo:hi.

    Reads dout (T, B, H) and dstate; writes its columns of dx (T, B, I) (float input), dh0, dc0
    (L, B, H) and dh (L, T, B, H); returns the per-layer gradients in internal gate order.
    """
    L = config.num_layers
    dtype = layers[0].hs.dtype
    H, b = layers[0].hs.shape[1:]
    grads = [None] * L
    d_layer_out = _feature_major(dout, lo, hi, dtype)  # (T, H, b)
    for li in reversed(range(L)):  # li: layer index
        lc = layers[li]
        if dstate is None:
            dh_next = np.zeros((H, b), dtype)  # (H, b)
        else:
            dh_next = np.array(dstate.h[li, lo:hi].T, dtype=dtype, order="C")  # (H, b) a copy: updated in place
        G_H = w_hh_ts[li].shape[1]
        T = d_layer_out.shape[0]
        dgi2 = np.empty((G_H, T * b), dtype)  # (G*H, T*b) gradient of the gate pre-activations, by columns
        dgh2 = np.empty((G_H, T * b), dtype) if config.cell == "gru" else dgi2  # (G*H, T*b)
        if config.cell == "rnn":
            dh_all, dh_next = _rnn_backward(w_hh_ts[li], lc, d_layer_out, dh_next, config.nonlinearity, dgi2, k)
        elif config.cell == "lstm":
            if dstate is None or dstate.c is None:
                dc_next = np.zeros((H, b), dtype)  # (H, b)
            else:
                dc_next = np.array(dstate.c[li, lo:hi].T, dtype=dtype, order="C")  # (H, b) a copy: updated in place
            dh_all, dh_next = _lstm_backward(w_hh_ts[li], lc, d_layer_out, dh_next, dc_next, dgi2, k)
            dc0[li, lo:hi] = dc_next.T
        else:
            dh_all, dh_next = _gru_backward(w_hh_ts[li], lc, d_layer_out, dh_next, dgi2, dgh2, k)
        dh0[li, lo:hi] = dh_next.T
        dh[li, :, lo:hi] = np.swapaxes(dh_all, 1, 2)
        grads[li] = _weight_grads(lc, dgi2, dgh2, config.input_size)
        if lc.x.ndim == 3:  # the gradient of the layer's input, step by step (BLAS reads the strided columns)
            d_layer_out = np.matmul(w_ih_ts[li], dgi2.reshape(G_H, T, b).transpose(1, 0, 2))  # (T, I, b)
    if dx is not None:
        dx[:, lo:hi] = np.swapaxes(d_layer_out, 1, 2)
    return grads


def backward(params: dict, cache: FusedCache, dout: np.ndarray, dstate: State | None = None) -> Gradients:
    config = cache.config
    H, L = config.hidden_size, config.num_layers
    dtype = params["weight_hh_l0"].dtype
    T, B = dout.shape[:2]
    rows = _gate_rows(config.cell, H)
    w_hh_ts = [np.ascontiguousarray(params[f"weight_hh_l{k}"][rows].T) for k in range(L)]  # (H, G*H) each
    w_ih_ts = [np.ascontiguousarray(params[f"weight_ih_l{k}"][rows].T) for k in range(L)]  # (I_k, G*H) each
    dx = None if cache.int_input else np.empty((T, B, config.input_size), dtype)  # (T, B, I)
    dh0 = np.empty((L, B, H), dtype)  # (L, B, H)
    dc0 = np.empty((L, B, H), dtype) if config.has_cell_state else None  # (L, B, H)
    dh = np.empty((L, T, B, H), dtype)  # (L, T, B, H)
    k = jit.kernels(work=T * B * H, dtype=dtype)
    jobs = [
        (config, w_hh_ts, w_ih_ts, layers, lo, hi, dout, dstate, dx, dh0, dc0, dh, k)
        for (lo, hi), layers in zip(cache.spans, cache.chunks)
    ]
    chunk_grads = run_in_threads(_backward_chunk, jobs)

    grads: dict[str, np.ndarray] = {}
    for k in range(L):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            internal = getattr(chunk_grads[0][k], kind)
            for other in chunk_grads[1:]:
                internal = internal + getattr(other[k], kind)  # the chunks' partial sums
            external = np.empty(internal.shape, dtype)
            external[rows] = internal  # back to PyTorch's gate order
            grads[f"{kind}_l{k}"] = external
    return Gradients(
        params={name: grads[name] for name in params if name in grads},
        dx=dx,
        dh0=dh0,
        dc0=dc0,
        dh=dh,
    )
