"""Attention read-out over the past hidden states: a short gradient path from any output to any step.

At a query step t the read-out looks back at the memory h[0..t] (causal: never at later steps)::

    e[s]     = score(h[t], h[s])                  for s = 0..t                (B,) each
    alpha    = softmax_s(e)                       attention weights           (t+1, B)
    context  = sum_s alpha[s] * h[s]              (B, H), read beside h[t] by the output head

Two scores:

    dot       score = (h[t] @ W_q.T) . h[s] / sqrt(H)           W_q ``query.weight`` (H, H)
    additive  score = v . tanh(h[s] @ W_k.T + h[t] @ W_q.T + b)   (Bahdanau et al. 2015)
              W_k ``key.weight`` (A, H), W_q ``query.weight`` (A, H), b ``bias`` (A,), v ``score.weight`` (A,)

Backward, given dcontext = dL/dcontext (B, H) for one query::

    dalpha[s]   = dcontext . h[s]                  dh[s] += alpha[s] * dcontext
    de[s]       = alpha[s] * (dalpha[s] - sum_s' alpha[s'] dalpha[s'])          (softmax backward)
    dot:        dh[s] += de[s] q / sqrt(H);  dq = sum_s de[s] h[s] / sqrt(H)
                dW_q += dq.T @ h[t];  dh[t] += dq @ W_q
    additive:   u[s] = tanh(pre[s]);  dv += sum de[s] u[s];  dpre[s] = de[s] v * (1 - u[s]**2)
                dh[s] += dpre[s] @ W_k;  dW_k += dpre[s].T @ h[s]
                dq = sum_s dpre[s];  db += sum_B dq;  dW_q += dq.T @ h[t];  dh[t] += dq @ W_q

So dL/dh[0] gets a term alpha[0] * dcontext in one hop, however far back step 0 is.  Each query is
its own iteration of a plain loop (only the steps that are read out are computed).
Shape legend: B batch, T time, H hidden, A attention size, Q query steps, S = t+1 memory length.
Proved by ``tests/engine/test_attention.py`` (finite differences, float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .losses import softmax

ATTENTION_KINDS = ("dot", "additive")


def attention_param_shapes(kind: str, hidden_size: int, attention_size: int | None = None) -> dict[str, tuple]:
    H = hidden_size
    A = H if attention_size is None else attention_size
    if kind == "dot":
        return {"query.weight": (H, H)}
    if kind == "additive":
        return {"key.weight": (A, H), "query.weight": (A, H), "bias": (A,), "score.weight": (A,)}
    raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {kind!r}")


def init_attention_params(kind: str, hidden_size: int, rng: np.random.Generator, attention_size: int | None = None,
                          dtype=np.float32) -> dict[str, np.ndarray]:
    """Weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's nn.Linear; the dot query starts at I."""
    params = {}
    for name, shape in attention_param_shapes(kind, hidden_size, attention_size).items():
        if kind == "dot":
            params[name] = np.eye(hidden_size)
        else:
            bound = 1.0 / math.sqrt(shape[-1] if name != "score.weight" else shape[0])
            params[name] = rng.uniform(-bound, bound, size=shape)
    return {name: value.astype(dtype) for name, value in params.items()}


@dataclass(frozen=True)
class QueryCache:
    t: int  # the query step; the memory is h[0..t]
    q: np.ndarray  # (B, H) dot: h[t] @ W_q.T;  (B, A) additive: h[t] @ W_q.T + b
    u: np.ndarray | None  # (S, B, A) additive: tanh of the scores' pre-activations
    alpha: np.ndarray  # (S, B) attention weights


@dataclass(frozen=True)
class AttentionCache:
    kind: str
    hs: np.ndarray  # (T, B, H) the memory
    queries: tuple[QueryCache, ...]

    @property
    def weights(self) -> list[np.ndarray]:
        """The attention weights of each query, (t+1, B) each: what the views draw."""
        return [qc.alpha for qc in self.queries]


def forward(kind: str, params: dict[str, np.ndarray], hs: np.ndarray, query_steps) -> tuple[np.ndarray, AttentionCache]:
    """hs (T, B, H), query_steps (Q,) -> (context (Q, B, H), AttentionCache)."""
    T, B, H = hs.shape
    steps = _check(kind, params, hs, query_steps)
    contexts, caches = [], []
    for t in steps:
        memory = hs[: t + 1]  # (S, B, H)
        query = hs[t]  # (B, H)
        if kind == "dot":
            q = query @ params["query.weight"].T  # (B, H)
            scores = np.einsum("sbh,bh->sb", memory, q) / math.sqrt(H)  # (S, B)
            u = None
        else:
            q = query @ params["query.weight"].T + params["bias"]  # (B, A)
            u = np.tanh(memory @ params["key.weight"].T + q[None])  # (S, B, A)
            scores = u @ params["score.weight"]  # (S, B)
        alpha = softmax(scores.T).T  # (S, B), softmax over the memory
        contexts.append(np.einsum("sb,sbh->bh", alpha, memory))  # (B, H)
        caches.append(QueryCache(t=t, q=q, u=u, alpha=alpha))
    return np.stack(contexts), AttentionCache(kind, hs, tuple(caches))  # (Q, B, H)


def backward(params: dict[str, np.ndarray], cache: AttentionCache, dcontext: np.ndarray):
    """dcontext (Q, B, H) -> (dhs (T, B, H), parameter gradients with the params' names)."""
    hs, H = cache.hs, cache.hs.shape[2]
    dhs = np.zeros_like(hs)  # (T, B, H)
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    for qc, dc in zip(cache.queries, dcontext):
        t = qc.t
        memory = hs[: t + 1]  # (S, B, H)
        dalpha = np.einsum("bh,sbh->sb", dc, memory)  # (S, B)
        dmemory = qc.alpha[:, :, None] * dc[None]  # (S, B, H) through the weighted sum
        de = qc.alpha * (dalpha - (qc.alpha * dalpha).sum(axis=0, keepdims=True))  # (S, B) softmax backward
        if cache.kind == "dot":
            dmemory += de[:, :, None] * qc.q[None] / math.sqrt(H)  # (S, B, H) as keys
            dq = np.einsum("sb,sbh->bh", de, memory) / math.sqrt(H)  # (B, H)
        else:
            grads["score.weight"] += np.einsum("sb,sba->a", de, qc.u)  # (A,)
            dpre = de[:, :, None] * params["score.weight"] * (1 - qc.u**2)  # (S, B, A)
            dmemory += dpre @ params["key.weight"]  # (S, B, H)
            grads["key.weight"] += np.einsum("sba,sbh->ah", dpre, memory)  # (A, H)
            dq = dpre.sum(axis=0)  # (B, A)
            grads["bias"] += dq.sum(axis=0)  # (A,)
        grads["query.weight"] += dq.T @ hs[t]  # (H or A, H)
        dhs[t] += dq @ params["query.weight"]  # (B, H) as the query
        dhs[: t + 1] += dmemory
    return dhs, grads


def _check(kind, params, hs, query_steps) -> list[int]:
    if hs.ndim != 3:
        raise ValueError(f"hidden states must have shape (T, B, H), got {hs.shape}")
    T, _, H = hs.shape
    A = params["bias"].shape[0] if kind == "additive" and "bias" in params else None
    want = attention_param_shapes(kind, H, A)
    bad = [f"{k}: expected {v}, got {tuple(params[k].shape) if k in params else 'missing'}"
           for k, v in want.items() if k not in params or params[k].shape != v]
    if bad:
        raise ValueError("attention parameters do not match: " + "; ".join(bad))
    steps = [int(t) for t in np.atleast_1d(query_steps)]
    if not steps or any(not 0 <= t < T for t in steps):
        raise ValueError(f"query steps must be a non-empty list of steps in [0, {T}), got {steps}")
    return steps
