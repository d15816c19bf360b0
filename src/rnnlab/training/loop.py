"""The training loop: budget, schedule, clipping, validation, best checkpoint, exact resume, faults.

    result = fit(task, config, out_dir, on_event=print, should_stop=lambda: False)

The loop knows a task only through this protocol (``charlm_task.CharLMTask`` is one):
``params`` (dict of arrays, updated in place), ``items_per_step``, ``compute() -> (loss, grads,
pending)`` (nothing changes yet), ``commit(pending)``, ``evaluate() -> {"loss", "bpc", ...}``,
``sample(length, seed) -> str``, ``save_model(path, **meta)``, ``resume_arrays()`` and
``load_resume_arrays(tensors, meta)``.

One step (numbered from 1)::

    1. loss, grads = task.compute()                    the next batch; state untouched
    2. check_finite(step, loss, grads)                 NaN/inf: stop, name the step, keep the files
    3. norm = clip_grad_norm(grads, clip)              the norm before clipping is reported
    4. optimizer.lr = learning_rate(step, progress)    schedule.py
    5. optimizer.step(params, grads); task.commit()    (Ctrl-C is held back during 5)
       ema <- d ema + (1 - d) params                   only with config.ema > 0
    6. emit {"kind": "step", ...}; every eval_every steps: validate, sample, save

Files in the run folder ``out``: ``model.safetensors`` (the best model by validation loss),
``last.resume.safetensors`` (everything needed to continue exactly: parameters, optimizer moments and
step count, the task's data position, carried hidden state and random state, the loop's counters),
``metrics.jsonl`` (every event) and ``loss.png``.  With ``config.ema`` > 0 the validation, the samples
and ``model.safetensors`` use the moving average of the weights (Polyak averaging); training
continues from the raw weights.  All checkpoint writes are atomic: a failed save
raises ``TrainingError`` and leaves the previous file as it was.

Performance: every step runs inside ``engine.fused.step_threads(batch_size)`` (BLAS single-threaded
while the engine's batch-chunk threads use the cores) and the loop asks glibc to keep freed memory
(``engine.memory.keep_freed_memory``), so each step's caches reuse the previous step's pages.

Stops: the step budget, the time budget (training seconds; validation time is not counted),
``should_stop()`` (checked before every step), Ctrl-C (``KeyboardInterrupt`` anywhere, including
from ``on_event``), a non-finite loss or gradient.  All but the last save a resumable checkpoint.
A resumed run with a step budget computes bit for bit the losses the uninterrupted run computes.
Proved by ``tests/training/test_loop.py``.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine import NonFiniteError, check_finite, clip_grad_norm, global_norm, make_optimizer
from ..engine.fused import step_threads
from ..engine.memory import keep_freed_memory
from ..io.checkpoint import RUN_MODEL_FILE, CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .metrics import MetricsLog
from .schedule import budget_progress, learning_rate

RESUME_FORMAT = "rnnlab.resume/1"
MODEL_FILE = RUN_MODEL_FILE  # "model.safetensors": what checkpoint_file() finds in a run folder
RESUME_FILE = "last.resume.safetensors"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"
LN2 = math.log(2.0)

EventFn = Callable[[dict], None]


class TrainingError(RuntimeError):
    """Training cannot go on (a failed save, a resume that does not fit): the message says why."""


@dataclass(frozen=True)
class TrainResult:
    reason: str  # "steps" | "time" | "stopped" | "interrupted" | "nan"
    step: int  # optimizer steps completed
    message: str
    best_val_loss: float | None
    best_step: int | None
    last_val_loss: float | None
    seconds: float  # training time (validation excluded)
    out: Path

    @property
    def model_path(self) -> Path:
        return self.out / MODEL_FILE

    @property
    def resume_path(self) -> Path:
        return self.out / RESUME_FILE

    @property
    def ok(self) -> bool:
        return self.reason in ("steps", "time")


@dataclass
class Counters:
    """The loop's own state, saved in the resumable checkpoint."""

    step: int = 0
    seconds: float = 0.0
    items: int = 0
    best_val_loss: float | None = None
    best_step: int | None = None
    last_val_loss: float | None = None
    last_eval_step: int = 0


def make_train_optimizer(config: TrainConfig):
    kwargs = {}
    if config.optimizer in ("adam", "adamw"):
        kwargs["betas"] = (0.9, config.beta2)
    if config.optimizer == "adamw":
        kwargs["weight_decay"] = config.weight_decay
    return make_optimizer(config.optimizer, config.lr, **kwargs)


@contextmanager
def hold_interrupts():
    """Delay Ctrl-C until the block is done, so parameters and optimizer state change together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:  # not allowed here (e.g. an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


def read_resume(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Load a resumable checkpoint (the file, or a run folder holding ``last.resume.safetensors``)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESUME_FILE
    try:
        tensors, meta = load_checkpoint(path)
    except CheckpointError as e:
        raise TrainingError(f"cannot resume: {e}") from None
    if not meta or meta.get("format") != RESUME_FORMAT:
        raise TrainingError(f"cannot resume: {path} is not a resumable checkpoint (a {RESUME_FILE} file)")
    return tensors, meta


def fit(task, config: TrainConfig, out: str | Path, *, on_event: EventFn | None = None,
        should_stop: Callable[[], bool] | None = None, resume: tuple[dict, dict] | None = None,
        extra_meta: dict | None = None, clock: Callable[[], float] = time.perf_counter) -> TrainResult:
    """Train ``task`` under ``config``, writing the run folder ``out``; see the module docstring."""
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught by check_finite
        return _fit(task, config, out, on_event=on_event, should_stop=should_stop, resume=resume,
                    extra_meta=extra_meta, clock=clock)


def _fit(task, config: TrainConfig, out: str | Path, *, on_event, should_stop, resume, extra_meta, clock):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keep_freed_memory()  # no page faults for every step's fresh caches (engine/memory.py)
    extra_meta = dict(extra_meta or {})
    params = task.params
    optimizer = make_train_optimizer(config)
    counters = Counters()
    ema = {k: v.copy() for k, v in params.items()} if config.ema > 0 else None
    if resume is not None:
        _restore(resume, task, optimizer, counters, ema)
    log = MetricsLog(out / METRICS_FILE, keep_until_step=counters.step if resume is not None else None)

    def emit(event: dict) -> None:
        log.write(event)
        if on_event is not None:
            on_event(event)

    def save_resumable() -> None:
        tensors = {f"param.{k}": v for k, v in params.items()}
        tensors |= {f"optim.{k}": v for k, v in optimizer.state_dict().items()}
        task_tensors, task_meta = task.resume_arrays()
        tensors |= {f"task.{k}": v for k, v in task_tensors.items()}
        if ema is not None:
            tensors |= {f"ema.{k}": v for k, v in ema.items()}
        meta = {"format": RESUME_FORMAT, "config": config.to_dict(), "counters": vars(counters).copy(),
                **extra_meta, "task_state": task_meta}
        _save(lambda: save_checkpoint(out / RESUME_FILE, tensors, meta), out / RESUME_FILE)

    def validate() -> None:
        if ema is None:
            return validate_current()
        trained = {k: v.copy() for k, v in params.items()}
        try:
            for k, v in ema.items():
                np.copyto(params[k], v)  # validate, sample and save the averaged weights
            validate_current()
        finally:
            for k, v in trained.items():
                np.copyto(params[k], v)

    def validate_current() -> None:
        t0 = clock()
        metrics = task.evaluate()
        val = float(metrics["loss"])
        counters.last_val_loss, counters.last_eval_step = val, counters.step
        improved = math.isfinite(val) and (counters.best_val_loss is None or val < counters.best_val_loss)
        if improved:
            meta = {"train_config": config.to_dict(), "steps": counters.step, "val_loss": val,
                    "val_bpc": val / LN2, "train_seconds": round(counters.seconds, 1),
                    "items_seen": counters.items, **extra_meta}
            _save(lambda: task.save_model(out / MODEL_FILE, **meta), out / MODEL_FILE)
            counters.best_val_loss, counters.best_step = val, counters.step
        emit({"kind": "eval", "step": counters.step, "loss": val, "bpc": val / LN2, "val_loss": val,
              "val_bpc": val / LN2, "best": improved, "best_val_loss": counters.best_val_loss,
              "seconds": counters.seconds, "eval_seconds": clock() - t0})
        if config.sample_length:
            text = task.sample(config.sample_length, seed=config.seed * 1_000_003 + counters.step)
            emit({"kind": "sample", "step": counters.step, "text": text})
        _plot(log.records, out / PLOT_FILE, f"{config.cell.upper()} {config.num_layers}x{config.hidden_size}")

    def finish(reason: str, message: str) -> TrainResult:
        emit({"kind": "done", "step": counters.step, "reason": reason, "message": message,
              "best_val_loss": counters.best_val_loss, "best_step": counters.best_step,
              "seconds": counters.seconds, "model_path": str(out / MODEL_FILE),
              "resume_path": str(out / RESUME_FILE)})
        log.close()
        return TrainResult(reason, counters.step, message, counters.best_val_loss, counters.best_step,
                           counters.last_val_loss, counters.seconds, out)

    emit({"kind": "start", "step": counters.step, "config": config.to_dict(), "resumed": resume is not None,
          **extra_meta})
    smoothed_rate = None
    try:
        while True:
            reason = _budget_reason(config, counters)
            if reason is None and should_stop is not None and should_stop():
                reason = "stopped"
            if reason is not None:
                break
            t0 = clock()
            step = counters.step + 1
            with step_threads(config.batch_size):  # the engine's chunk threads own the cores (fused.py)
                loss, grads, pending = task.compute()
                check_finite(step, loss, grads)
                norm = clip_grad_norm(grads, config.clip) if config.clip > 0 else global_norm(grads)
                lr = learning_rate(config, step, budget_progress(config, counters.step, counters.seconds))
                optimizer.lr = lr
                with hold_interrupts():
                    optimizer.step(params, grads)
                    task.commit(pending)
                    if ema is not None:
                        _update_ema(ema, params, config.ema, step)
                dt = clock() - t0
                counters.step, counters.seconds = step, counters.seconds + dt
                counters.items += task.items_per_step
            rate = task.items_per_step / max(dt, 1e-9)
            smoothed_rate = rate if smoothed_rate is None else 0.9 * smoothed_rate + 0.1 * rate
            emit({"kind": "step", "step": step, "loss": loss, "bpc": loss / LN2, "lr": lr, "grad_norm": norm,
                  "items_per_sec": smoothed_rate, "seconds": counters.seconds,
                  "progress": budget_progress(config, step, counters.seconds)})
            if step % config.eval_every == 0:
                validate()
                save_resumable()
        if counters.last_eval_step != counters.step or counters.last_val_loss is None:
            validate()
        save_resumable()
        if reason == "time":
            message = f"finished the {config.minutes:g}-minute budget at step {counters.step}"
        else:
            message = f"finished {counters.step} steps" if reason == "steps" else f"stopped at step {counters.step}"
        return finish(reason, message + _best_text(counters))
    except NonFiniteError as e:
        kept = (f"the last good checkpoint is {out / MODEL_FILE} (step {counters.best_step})"
                if counters.best_step is not None else "no checkpoint had been saved yet")
        return finish("nan", f"the {e.name} became NaN or infinite at step {e.step}; training stopped, {kept}. "
                             "Try a lower --lr or --clip")
    except KeyboardInterrupt:
        save_resumable()
        return finish("interrupted", f"interrupted at step {counters.step}; resumable checkpoint "
                                     f"{out / RESUME_FILE}" + _best_text(counters))
    finally:
        if not log._file.closed:
            log.close()


def _best_text(counters: Counters) -> str:
    if counters.best_val_loss is None:
        return ""
    return (f"; best validation {counters.best_val_loss:.4f} nats/char "
            f"({counters.best_val_loss / LN2:.4f} bits) at step {counters.best_step}")


def _budget_reason(config: TrainConfig, counters: Counters) -> str | None:
    if config.steps is not None and counters.step >= config.steps:
        return "steps"
    if config.minutes is not None and counters.seconds >= 60.0 * config.minutes:
        return "time"
    return None


def _save(write: Callable[[], None], path: Path) -> None:
    try:
        write()
    except (OSError, CheckpointError, ValueError) as e:
        raise TrainingError(f"could not save {path} ({e}); the previous file, if any, is intact") from None


def _plot(records: list[dict], path: Path, title: str) -> None:
    try:
        from .plot import plot_loss_curve

        plot_loss_curve(records, path, title)
    except (ImportError, OSError):  # a picture is a convenience: never stop training for it
        pass


def _update_ema(ema: dict[str, np.ndarray], params: dict[str, np.ndarray], decay: float, step: int) -> None:
    """ema <- d ema + (1 - d) params, with d = min(decay, (1 + step) / (10 + step)) so early steps count."""
    d = min(decay, (1.0 + step) / (10.0 + step))
    for name, value in params.items():
        ema[name] *= d
        ema[name] += (1.0 - d) * value


def _restore(resume: tuple[dict, dict], task, optimizer, counters: Counters, ema: dict | None = None) -> None:
    tensors, meta = resume
    params = task.params
    saved = {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}
    if set(saved) != set(params) or any(saved[k].shape != params[k].shape for k in params):
        raise TrainingError("cannot resume: the checkpoint's parameters do not match the model")
    for name, value in saved.items():
        np.copyto(params[name], value)
    optimizer.load_state_dict({k[len("optim."):]: v for k, v in tensors.items() if k.startswith("optim.")})
    task.load_resume_arrays({k[len("task."):]: v for k, v in tensors.items() if k.startswith("task.")}, meta["task_state"])
    if ema is not None:
        saved_ema = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
        for name in ema:
            np.copyto(ema[name], saved_ema.get(name, params[name]))  # no average saved: start it here
    for key, value in meta["counters"].items():
        setattr(counters, key, value)
