"""A sequence model for the long-range memory tasks, with every vanishing-gradient remedy as a switch.

    body     h = Recurrent(x)                          RNN / LSTM / GRU, any init (``engine``)
             or skip.forward(x)                        + residual between layers, + h[t] fed by h[t-K]
    read     f_t = h[t]                                at the task's query steps t
             or f_t = [h[t]; attention(h[0..t])]       dot-product or additive attention read-out
    head     y_t = f_t @ W.T + b                       logits (classification) or a number (adding)
    loss     softmax cross-entropy, or mean squared error; the mean over query steps and sequences

Parameters live in one flat dict: ``rnn.weight_ih_l0`` ... (``rnn.weight_skip_l{k}`` with the time
skip), ``attn.*``, ``head.weight``, ``head.bias``.  ``train`` runs Adam (or another optimizer) with
gradient clipping by global norm or by value and records, at every step, the raw norm, the norm after
clipping and whether the step was clipped.

Shape legend: B batch, T time, H hidden, Q query steps, O outputs (classes, or 1), L layers.
Proved by ``tests/tasks/test_memory.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.memory_tasks import MemoryBatch, MemoryTask
from ..engine import (
    NonFiniteError,
    Recurrent,
    RecurrentConfig,
    check_finite,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
    linear_backward,
    linear_forward,
    linear_init,
    make_optimizer,
    mean_squared_error,
    softmax_cross_entropy,
)
from ..engine import attention as attention_mod
from ..engine import skip as skip_mod
from ..engine.attention import ATTENTION_KINDS, init_attention_params
from ..engine.gradient_flow import hidden_gradient_norms
from ..engine.skip import SkipConfig, init_skip_params

CLIP_KINDS = ("none", "norm", "value")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class MemoryModelConfig:
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    nonlinearity: str = "tanh"  # vanilla RNN: "tanh" | "relu"
    residual: bool = False  # residual connections between stacked layers
    time_skip: int = 0  # K > 0: h[t] is also fed by h[t-K]
    attention: str | None = None  # None | "dot" | "additive"
    attention_size: int | None = None  # additive attention's A (default H)

    def __post_init__(self) -> None:
        if self.attention is not None and self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be None or one of {ATTENTION_KINDS}, got {self.attention!r}")
        self.recurrent(1)  # validates cell, sizes, nonlinearity
        self.skip  # validates the skip switches

    def recurrent(self, input_size: int) -> RecurrentConfig:
        return RecurrentConfig(self.cell, input_size, self.hidden_size, self.num_layers, self.nonlinearity)

    @property
    def skip(self) -> SkipConfig:
        return SkipConfig(residual=self.residual, time_skip=self.time_skip)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryCache:
    body: object  # the engine's ForwardCache (Recurrent) or SkipCache
    hs: np.ndarray  # (T, B, H) top-layer outputs
    features: np.ndarray  # (Q, B, H or 2H) what the head reads
    attention: object | None  # attention.AttentionCache
    query_steps: np.ndarray  # (Q,)


class MemoryModel:
    def __init__(self, task: MemoryTask, config: MemoryModelConfig, params: dict[str, np.ndarray] | None = None, *,
                 rng: np.random.Generator | None = None, dtype=np.float32, init: str = "pytorch",
                 skip_scale: float = 1.0, **init_options):
        self.task = task
        self.config = config
        self.rconfig = config.recurrent(task.input_size)
        H = config.hidden_size
        feature_size = 2 * H if config.attention else H
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            body = Recurrent(self.rconfig, rng=rng, dtype=dtype, init=init, **init_options).params
            body |= init_skip_params(self.rconfig, config.skip, scale=skip_scale, dtype=dtype)
            params = {f"rnn.{k}": v for k, v in body.items()}
            if config.attention:
                attn = init_attention_params(config.attention, H, rng, config.attention_size, dtype)
                params |= {f"attn.{k}": v for k, v in attn.items()}
            weight, bias = linear_init(feature_size, task.output_size, rng, dtype)
            params |= {"head.weight": weight, "head.bias": bias}
        self.params = params
        self._check_params(feature_size)

    def _check_params(self, feature_size: int) -> None:
        want = {f"rnn.{k}": v for k, v in self.rconfig.param_shapes().items()}
        want |= {f"rnn.{k}": v for k, v in skip_mod.skip_param_shapes(self.rconfig, self.config.skip).items()}
        if self.config.attention:
            shapes = attention_mod.attention_param_shapes(self.config.attention, self.config.hidden_size,
                                                          self.config.attention_size)
            want |= {f"attn.{k}": v for k, v in shapes.items()}
        want |= {"head.weight": (self.task.output_size, feature_size), "head.bias": (self.task.output_size,)}
        if set(want) != set(self.params):
            raise ValueError(f"parameters do not match the model: missing {sorted(set(want) - set(self.params))}, "
                             f"unexpected {sorted(set(self.params) - set(want))}")
        wrong = [f"{k} has shape {self.params[k].shape}, expected {v}" for k, v in want.items()
                 if self.params[k].shape != v]
        if wrong:
            raise ValueError("parameter shapes do not match the model: " + ", ".join(wrong))

    def _part(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays under a prefix, without it (the same arrays: in-place updates are shared)."""
        return {k[len(prefix):]: v for k, v in self.params.items() if k.startswith(prefix)}

    @property
    def num_params(self) -> int:
        return sum(v.size for v in self.params.values())

    # ---- forward and backward --------------------------------------------------------------------
    def forward(self, x: np.ndarray, query_steps: np.ndarray):
        """x (T, B) or (T, B, I) -> (outputs (Q, B, O), MemoryCache)."""
        body = self._part("rnn.")
        if self.config.skip.active:
            hs, _, body_cache = skip_mod.forward(self.rconfig, body, x, self.config.skip)  # (T, B, H)
        else:
            hs, _, body_cache = Recurrent(self.rconfig, body).forward(x)  # (T, B, H)
        query_steps = np.asarray(query_steps)
        features = hs[query_steps]  # (Q, B, H)
        attn_cache = None
        if self.config.attention:
            context, attn_cache = attention_mod.forward(self.config.attention, self._part("attn."), hs, query_steps)
            features = np.concatenate([features, context], axis=-1)  # (Q, B, 2H)
        outputs = linear_forward(features, self.params["head.weight"], self.params["head.bias"])  # (Q, B, O)
        return outputs, MemoryCache(body_cache, hs, features, attn_cache, query_steps)

    def loss(self, outputs: np.ndarray, targets: np.ndarray):
        if self.task.regression:
            return mean_squared_error(outputs, targets.astype(outputs.dtype))
        return softmax_cross_entropy(outputs, targets)

    def loss_and_grads(self, batch: MemoryBatch):
        """Returns (LossResult, grads keyed like params, the engine's Gradients of the body (dh = dL/dh_t))."""
        outputs, cache = self.forward(batch.x, batch.query_steps)
        result = self.loss(outputs, batch.targets)
        dfeatures, dW, db = linear_backward(result.dlogits, cache.features, self.params["head.weight"])  # (Q, B, F)
        H = self.config.hidden_size
        dhs = np.zeros_like(cache.hs)  # (T, B, H)
        np.add.at(dhs, cache.query_steps, dfeatures[..., :H])
        grads = {"head.weight": dW, "head.bias": db}
        if self.config.attention:
            dhs_attn, g_attn = attention_mod.backward(self._part("attn."), cache.attention, dfeatures[..., H:])
            dhs += dhs_attn
            grads |= {f"attn.{k}": v for k, v in g_attn.items()}
        body = self._part("rnn.")
        if self.config.skip.active:
            g = skip_mod.backward(body, cache.body, dhs)
        else:
            g = Recurrent(self.rconfig, body).backward(cache.body, dhs)
        grads |= {f"rnn.{k}": v for k, v in g.params.items()}
        return result, {name: grads[name] for name in self.params}, g

    def hidden_gradient_norms(self, batch: MemoryBatch) -> np.ndarray:
        """(L, T): the batch mean of ||d loss_b / d h_t|| with loss_b the sequence's own loss.

        The task loss is the mean over the B sequences, so each sequence's own gradient is B times its
        share of the batch gradient; that makes the numbers independent of the batch size.
        """
        _, _, g = self.loss_and_grads(batch)
        return hidden_gradient_norms(g.dh) * batch.batch_size

    # ---- scores ----------------------------------------------------------------------------------
    @property
    def metric_name(self) -> str:
        return "mse" if self.task.regression else "accuracy"

    def evaluate(self, batch: MemoryBatch) -> dict:
        """{"loss", "mse" or "accuracy"} on a batch (accuracy: over every query step of every sequence)."""
        outputs, _ = self.forward(batch.x, batch.query_steps)
        result = self.loss(outputs, batch.targets)
        if self.task.regression:
            return {"loss": result.loss, "mse": result.loss}
        return {"loss": result.loss, "accuracy": float((outputs.argmax(axis=-1) == batch.targets).mean())}


# ---- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipConfig:
    kind: str = "none"  # "none" | "norm" (global L2 norm) | "value" (each element)
    threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CLIP_KINDS:
            raise ValueError(f"clip must be one of {CLIP_KINDS}, got {self.kind!r}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"clip threshold must be a positive number, got {self.threshold!r}")


def clip_gradients(grads: dict[str, np.ndarray], clip: ClipConfig) -> tuple[float, float, bool]:
    """Clip in place; return (raw global norm, global norm after clipping, whether anything was clipped)."""
    if clip.kind == "norm":
        raw = clip_grad_norm(grads, clip.threshold)
        clipped = raw > clip.threshold
        return raw, (global_norm(grads) if clipped else raw), clipped
    raw = global_norm(grads)
    if clip.kind == "value":
        clipped = any(float(np.abs(g).max(initial=0)) > clip.threshold for g in grads.values())
        if clipped:
            clip_grad_value(grads, clip.threshold)
            return raw, global_norm(grads), True
    return raw, raw, False


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = 1000  # at most this many updates (None: only the time budget)
    seconds: float | None = None  # at most this much time on ``clock`` (None: only the step budget)
    clock: str = "wall"  # "wall": elapsed time; "cpu": this process's CPU time (fair on a busy shared machine)
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    clip: ClipConfig = field(default_factory=ClipConfig)
    eval_every: int = 100  # steps between evaluations on the held-out batch
    eval_batch: int = 512
    target: float | None = None  # stop once the held-out MSE <= target (or accuracy >= target)

    def __post_init__(self) -> None:
        if self.steps is None and self.seconds is None:
            raise ValueError("give a step budget, a time budget, or both")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds}")
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {tuple(CLOCKS)}, got {self.clock!r}")
        for name in ("batch_size", "eval_every", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class TrainResult:
    steps: int = 0
    seconds: float = 0.0  # wall-clock
    cpu_seconds: float = 0.0  # this process's CPU time
    losses: list[float] = field(default_factory=list)  # per step
    raw_norms: list[float] = field(default_factory=list)  # global gradient norm before clipping, per step
    clipped_norms: list[float] = field(default_factory=list)  # after clipping, per step
    clipped: list[bool] = field(default_factory=list)  # per step
    evals: list[dict] = field(default_factory=list)  # {"step", "loss", metric} on the held-out batch
    diverged: str | None = None  # the NonFiniteError message, if training blew up
    reached_target_at: int | None = None  # the step where the held-out metric first reached the target

    @property
    def fraction_clipped(self) -> float:
        return float(np.mean(self.clipped)) if self.clipped else 0.0

    @property
    def final(self) -> dict:
        return self.evals[-1] if self.evals else {}

    def to_dict(self) -> dict:
        return {
            "steps": self.steps, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "diverged": self.diverged,
            "reached_target_at": self.reached_target_at, "fraction_clipped": self.fraction_clipped,
            "final": self.final, "evals": self.evals,
            "max_raw_norm": max(self.raw_norms, default=0.0), "max_clipped_norm": max(self.clipped_norms, default=0.0),
        }


def train(model: MemoryModel, config: TrainConfig, rng: np.random.Generator,
          progress: Callable[[int, TrainResult], None] | None = None) -> TrainResult:
    """Train on fresh batches from ``rng``; evaluate on one held-out batch drawn first.

    Stops at the step budget, the time budget, the target, or a non-finite loss/gradient (recorded
    in ``diverged``).  ``progress(step, result)`` is called after every step.
    """
    task = model.task
    held_out = task.sample(config.eval_batch, rng)
    opt = make_optimizer(config.optimizer, config.lr)
    result = TrainResult()
    clock = CLOCKS[config.clock]
    start, wall_start, cpu_start = clock(), time.perf_counter(), time.process_time()

    def evaluate(step: int) -> bool:
        with np.errstate(over="ignore", invalid="ignore"):  # an exploding model scores inf or NaN, not a warning
            scores = model.evaluate(held_out)
        result.evals.append({"step": step, **scores})
        metric = scores[model.metric_name]
        hit = config.target is not None and (metric <= config.target if task.regression else metric >= config.target)
        if hit and result.reached_target_at is None:
            result.reached_target_at = step
        return hit

    done = evaluate(0)
    step = 0
    while not done and (config.steps is None or step < config.steps):
        if config.seconds is not None and clock() - start >= config.seconds:
            break
        step += 1
        batch = task.sample(config.batch_size, rng)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught just below, by name
            loss, grads, _ = model.loss_and_grads(batch)
        try:
            check_finite(step, loss.loss, grads)
        except NonFiniteError as e:
            result.diverged = str(e)
            break
        raw, clipped_norm, clipped = clip_gradients(grads, config.clip)
        opt.step(model.params, grads)
        result.steps = step
        result.losses.append(loss.loss)
        result.raw_norms.append(raw)
        result.clipped_norms.append(clipped_norm)
        result.clipped.append(clipped)
        done = step % config.eval_every == 0 and evaluate(step)
        if progress is not None:
            progress(step, result)
    if result.diverged is None and (not result.evals or result.evals[-1]["step"] != result.steps):
        evaluate(result.steps)
    result.seconds = time.perf_counter() - wall_start
    result.cpu_seconds = time.process_time() - cpu_start
    return result
