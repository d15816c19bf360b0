"""Train the char-LM with PyTorch: ``training.loop.fit``'s semantics on a CPU, a GPU or many processes.

    result = train_charlm_torch(config, text, out, device="cpu", on_event=print)   # like train_charlm
    result = fit_torch(model, train_ids, val_ids, config, out, comm=SingleProcess("cpu"))

The same as ``fit`` + ``CharLMTask`` (per-step losses equal to 1e-9 in float64, tested):
the batches (``data.batches.StreamBatches``; ``config.batch_size`` B is the *global* batch), the
state carried from window to window and reset at each epoch start, dropout masks from the same
NumPy generator, the mean cross-entropy over T B positions, the non-finite check, clipping by the
global norm (the engine's formula), the schedule (``training/schedule.py``), the optimizer
(``torch.optim.Adam/AdamW/SGD/Adagrad``, the engine's update rules), validation on the same streams,
the events, ``metrics.jsonl``, ``loss.png``, the best ``model.safetensors`` (written by
``CharLM.save``: ``rnnlab.load`` reads it) and ``last.resume.safetensors`` in the NumPy loop's
format (``param.*``, ``optim.*`` in the engine's slot names, ``task.h``/``task.c``), so a run can
be resumed by either backend.

One step on R processes (rank r holds the streams ``shard_bounds(B, R, r)``; R = 1 is the plain case)::

    1. x, y = window[:, rows_r]                  the rank's streams; state carried for those rows
    2. backward of  R * loss_sum_r / (T B)        DDP averages gradients over R: the global mean's
    3. all-reduce [loss_sum_r, |g|^2, dt, stop_r, interrupt_r]   (|g|^2 and dt from rank 0 only)
    4. loss = sum / (T B); any stop or interrupt ends the run before this step is applied;
       a non-finite loss or |g| stops it (every rank sees the same numbers, so all agree)
    5. clip, lr = schedule(step), optimizer.step(), commit (position, state, dropout generator)

Every decision (budget, stop, NaN, best model) is taken from all-reduced numbers, so the ranks never
disagree and never wait on each other.  Time is rank 0's clock (``dt``: from the previous step's
all-reduce to this one; validation not counted).  Ctrl-C (and SIGTERM under several processes) sets a
flag: the run stops at the next step on every rank, saves a resumable checkpoint and reports
"interrupted" (in one process a second Ctrl-C raises at once).

Resuming with another number of processes (``ddp.py``): the checkpoint holds the global data
position (epoch, window) and the carried state of all B streams, (L, B, H) in stream order, gathered
to rank 0; a resumed rank takes its rows ``shard_bounds(B, R', r)`` of it, so the run continues as
if nothing changed (same losses up to the order of floating-point sums).
Proved by ``tests/backends/test_torch_equivalence.py`` and ``tests/backends/test_ddp.py``.
"""

from __future__ import annotations

import hashlib
import math
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.batches import BatchPosition, StreamBatches
from ..data.vocab import CharVocab
from ..engine import NonFiniteError
from ..io.checkpoint import CheckpointError
from ..tasks.charlm import CharLM
from ..training.charlm import check_text, resume_setup
from ..training.charlm_task import dropout_masks, new_model, sample_text
from ..training.config import ConfigError, TrainConfig
from ..training.loop import (
    LN2,
    METRICS_FILE,
    MODEL_FILE,
    PLOT_FILE,
    RESUME_FILE,
    RESUME_FORMAT,
    Counters,
    TrainingError,
    TrainResult,
    _best_text,
    _budget_reason,
    _plot,
    read_resume,
)
from ..training.metrics import MetricsLog
from ..training.schedule import budget_progress, learning_rate
from .torch_charlm import batch_loss, evaluate, import_torch, load_arrays, numpy_arrays, to_torch

# torch.optim state slot -> the engine's slot name (engine/optim.py), for the resumable file
SLOT_NAMES = {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq", "sum": "sum", "momentum_buffer": "momentum"}


def shard_bounds(n: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous share [start, stop) of n streams: sizes differ by at most one."""
    return rank * n // world_size, (rank + 1) * n // world_size


def resolve_device(name: str = "cpu", index: int | None = None):
    """"cpu" or "cuda" -> a torch.device; TrainingError if CUDA is asked for and not there."""
    torch = import_torch()
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False; "
                                "is this a CUDA build of torch?)")
        return torch.device("cuda", torch.cuda.current_device() if index is None else index)
    raise TrainingError(f"device must be cpu or cuda, got {name!r}")


class SingleProcess:
    """The communicator of a one-process run: every collective is the identity (``ddp.ProcessGroup``
    is the many-process one)."""

    rank = 0
    world_size = 1

    def __init__(self, device: str = "cpu"):
        self.device = resolve_device(device)

    def wrap(self, module):
        return module

    def reduce_sum(self, values):  # (n,) float64 tensor
        return values

    def gather_rows(self, tensor, total: int):  # (L, b, H) -> (L, B, H)
        return tensor

    def broadcast_bytes(self, data: bytes) -> bytes:
        return data

    def any_true(self, flag: bool) -> bool:
        return flag


@dataclass
class StreamState:
    """What the char-LM task carries between steps: the data position, the state, the dropout generator."""

    position: BatchPosition
    h: object  # (L, b, H) torch tensor of this rank's streams, or None (start of an epoch / of training)
    c: object  # LSTM cell state like h, else None
    rng_state: dict


class StopFlags:
    """Ctrl-C (and SIGTERM with several processes) sets ``interrupted``; the loop reads it once a step."""

    def __init__(self):
        self.interrupted = False

    @contextmanager
    def catching(self, distributed: bool):
        """One process: a second Ctrl-C raises at once.  Several: every SIGINT/SIGTERM only sets the flag
        (a terminal's Ctrl-C reaches each worker twice, directly and forwarded by torchrun; raising in
        the middle of a collective would leave the other ranks waiting)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = [signal.SIGINT] + ([signal.SIGTERM] if distributed else [])
        previous = {s: signal.getsignal(s) for s in signals}

        def handler(signum, frame):
            self.interrupted = True
            if not distributed:
                signal.signal(signal.SIGINT, signal.default_int_handler)

        try:
            for s in signals:
                signal.signal(s, handler)
        except ValueError:  # not allowed here
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class _Interrupted(Exception):
    """Some rank was interrupted: every rank stops at the same step."""


def make_torch_optimizer(config: TrainConfig, parameters):
    """The torch.optim twin of ``loop.make_train_optimizer`` (the same defaults and update rules)."""
    torch = import_torch()
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, betas=(0.9, config.beta2), eps=1e-8)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, betas=(0.9, config.beta2), eps=1e-8,
                                 weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(parameters, lr=config.lr, eps=1e-10)
    raise ConfigError(f"optimizer {config.optimizer!r} has no torch twin")


def optimizer_arrays(optimizer, module, step: int) -> dict[str, np.ndarray]:
    """The optimizer's state in the engine's flat format: ``{name}.{slot}`` and ``__t__``."""
    names = {id(p): name for name, p in module.named_parameters()}
    flat = {}
    for p, slots in optimizer.state.items():
        for key, value in slots.items():
            if key in SLOT_NAMES and value is not None:
                flat[f"{names[id(p)]}.{SLOT_NAMES[key]}"] = value.detach().cpu().numpy().copy()
    flat["__t__"] = np.array([step], dtype=np.int64)
    return flat


def load_optimizer_arrays(optimizer, module, flat: dict[str, np.ndarray]) -> None:
    """Inverse of ``optimizer_arrays`` (also reads a NumPy run's file)."""
    torch = import_torch()
    t = int(flat["__t__"][0]) if "__t__" in flat else 0
    current = optimizer.state_dict()
    state = dict(current["state"])
    for index, (name, _) in enumerate(module.named_parameters()):
        slots = {key: torch.from_numpy(np.ascontiguousarray(flat[f"{name}.{slot}"]))
                 for key, slot in SLOT_NAMES.items() if f"{name}.{slot}" in flat}
        if slots:
            state[index] = {"step": torch.tensor(float(t)), **slots}
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def fit_torch(model: CharLM, train_ids: np.ndarray, val_ids: np.ndarray, config: TrainConfig, out: str | Path, *,
              comm=None, on_event: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
              resume: tuple[dict, dict] | None = None, extra_meta: dict | None = None,
              clock: Callable[[], float] = time.perf_counter) -> TrainResult:
    """Train ``model``'s weights (copied to the device; ``model.params`` receive them at each validation)."""
    torch = import_torch()
    comm = SingleProcess() if comm is None else comm
    out, main, W = Path(out), comm.rank == 0, comm.world_size
    B, T = config.batch_size, config.seq_len
    if B < W:
        raise TrainingError(f"batch {B} is smaller than the {W} processes: each process needs at least one stream")
    rows = slice(*shard_bounds(B, W, comm.rank))
    val_ids = val_ids if config.eval_max_chars is None else val_ids[: config.eval_max_chars]
    eval_streams = max(1, min(config.eval_streams, (len(val_ids) - 1) // 2))
    eval_rows = slice(*shard_bounds(eval_streams, W, comm.rank))
    extra_meta = dict(extra_meta or {})

    module = to_torch(model, comm.device)
    parameters = list(module.parameters())
    optimizer = make_torch_optimizer(config, parameters)
    counters = Counters()
    data = StreamState(BatchPosition(), None, None, np.random.default_rng([config.seed, 1]).bit_generator.state)
    if resume is not None:
        data = _restore(resume, module, optimizer, counters, rows, comm.device)
    net = comm.wrap(module)
    batches = StreamBatches(train_ids, B, T, seed=config.seed)
    if main:
        out.mkdir(parents=True, exist_ok=True)
    keep = counters.step if resume is not None else None
    log = MetricsLog(out / METRICS_FILE, keep_until_step=keep) if main else None
    stop = StopFlags()

    def to_device(array: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(array)).to(comm.device)

    def emit(event: dict) -> None:
        if not main:
            return
        log.write(event)
        if on_event is not None:
            try:
                on_event(event)
            except KeyboardInterrupt:
                if W == 1:
                    raise
                stop.interrupted = True

    def save_on_main(write: Callable[[], None], path: Path) -> None:
        error = None
        if main:
            try:
                write()
            except (OSError, CheckpointError, ValueError) as e:
                error = TrainingError(f"could not save {path} ({e}); the previous file, if any, is intact")
        if comm.any_true(error is not None):
            raise error or TrainingError(f"rank 0 could not save {path}; the previous file, if any, is intact")

    def sync_model() -> None:
        for name, value in numpy_arrays(module).items():
            np.copyto(model.params[name], value)

    def save_resumable() -> None:
        h = None if data.h is None else comm.gather_rows(data.h, B)  # (L, B, H)
        c = None if data.c is None else comm.gather_rows(data.c, B)  # (L, B, H)

        def write() -> None:
            from ..io.checkpoint import save_checkpoint

            tensors = {f"param.{k}": v for k, v in numpy_arrays(module).items()}
            tensors |= {f"optim.{k}": v for k, v in optimizer_arrays(optimizer, module, counters.step).items()}
            if h is not None:
                tensors["task.h"] = h.detach().cpu().numpy()
            if c is not None:
                tensors["task.c"] = c.detach().cpu().numpy()
            task_state = {"epoch": data.position.epoch, "window": data.position.window, "rng": data.rng_state,
                          "vocab": model.vocab.chars}
            meta = {"format": RESUME_FORMAT, "config": config.to_dict(), "counters": vars(counters).copy(),
                    **extra_meta, "task_state": task_state}
            save_checkpoint(out / RESUME_FILE, tensors, meta)

        save_on_main(write, out / RESUME_FILE)

    def validate() -> None:
        t0 = clock()
        total, count = evaluate(module, val_ids, eval_streams, T, eval_rows)
        total, count = comm.reduce_sum(torch.tensor([total, count], dtype=torch.float64, device=comm.device)).tolist()
        val = total / count
        counters.last_val_loss, counters.last_eval_step = val, counters.step
        improved = math.isfinite(val) and (counters.best_val_loss is None or val < counters.best_val_loss)
        if improved:
            meta = {"train_config": config.to_dict(), "steps": counters.step, "val_loss": val, "val_bpc": val / LN2,
                    "train_seconds": round(counters.seconds, 1), "items_seen": counters.items, **extra_meta}
            if main:
                sync_model()
            save_on_main(lambda: model.save(out / MODEL_FILE, **meta), out / MODEL_FILE)
            counters.best_val_loss, counters.best_step = val, counters.step
        emit({"kind": "eval", "step": counters.step, "loss": val, "bpc": val / LN2, "val_loss": val,
              "val_bpc": val / LN2, "best": improved, "best_val_loss": counters.best_val_loss,
              "seconds": counters.seconds, "eval_seconds": clock() - t0})
        if config.sample_length and main:
            sync_model()
            text = sample_text(model, config.sample_length, seed=config.seed * 1_000_003 + counters.step)
            emit({"kind": "sample", "step": counters.step, "text": text})
        save_resumable()
        if main:
            _plot(log.records, out / PLOT_FILE, f"{config.cell.upper()} {config.num_layers}x{config.hidden_size}")

    def finish(reason: str, message: str) -> TrainResult:
        emit({"kind": "done", "step": counters.step, "reason": reason, "message": message,
              "best_val_loss": counters.best_val_loss, "best_step": counters.best_step,
              "seconds": counters.seconds, "model_path": str(out / MODEL_FILE),
              "resume_path": str(out / RESUME_FILE)})
        if log is not None:
            log.close()
        return TrainResult(reason, counters.step, message, counters.best_val_loss, counters.best_step,
                           counters.last_val_loss, counters.seconds, out)

    def one_step(step: int, t_mark: float) -> tuple[str | None, float]:
        """Steps 1-5 of the module docstring; returns (a stop reason or None, the new time mark)."""
        nonlocal smoothed_rate
        window = next(batches.iterate(data.position))  # (T, B) x and y of all streams; this rank reads rows
        carry = not window.reset and data.h is not None
        rng_after, masks = data.rng_state, None
        if config.dropout > 0:
            rng = np.random.Generator(np.random.PCG64(0))
            rng.bit_generator.state = data.rng_state
            masks = [to_device(m[:, rows]) for m in dropout_masks(rng, config.dropout, window.x.shape, model)]
            rng_after = rng.bit_generator.state
        for p in parameters:
            p.grad = None
        loss_sum, h_n, c_n = batch_loss(net, to_device(window.x[:, rows]), to_device(window.y[:, rows]),
                                        data.h if carry else None, data.c if carry else None, masks)
        (loss_sum * (W / (T * B))).backward()
        grads = [p.grad for p in parameters]
        norm_sq = torch.stack([(g * g).sum() for g in grads]).sum()
        asks_stop = bool(should_stop()) if should_stop is not None else False
        now = clock()
        mine = torch.tensor([(now - t_mark) if main else 0.0, float(asks_stop), float(stop.interrupted)],
                            dtype=torch.float64, device=comm.device)
        summed = comm.reduce_sum(torch.cat([loss_sum.detach().double().reshape(1),
                                            (norm_sq.detach().double() * float(main)).reshape(1), mine]))
        loss_total, norm_sq_total, dt, stops, interrupts = summed.tolist()
        if interrupts > 0:
            raise _Interrupted
        if stops > 0:
            return "stopped", now
        loss, norm = loss_total / (T * B), math.sqrt(norm_sq_total) if norm_sq_total >= 0 else math.nan
        if not math.isfinite(loss):
            raise NonFiniteError(step, "loss")
        if not math.isfinite(norm):
            name = next(n for (n, p) in module.named_parameters() if not bool(torch.isfinite(p.grad).all()))
            raise NonFiniteError(step, f"gradient of {name}")
        if config.clip > 0 and norm > config.clip:
            scale = config.clip / (norm + 1e-6)
            for g in grads:
                g.mul_(scale)
        lr = learning_rate(config, step, budget_progress(config, counters.step, counters.seconds))
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        data.position, data.rng_state = window.position_after, rng_after
        data.h, data.c = h_n.detach(), (None if c_n is None else c_n.detach())
        counters.step, counters.seconds = step, counters.seconds + dt
        counters.items += B * T
        rate = B * T / max(dt, 1e-9)
        smoothed_rate = rate if smoothed_rate is None else 0.9 * smoothed_rate + 0.1 * rate
        emit({"kind": "step", "step": step, "loss": loss, "bpc": loss / LN2, "lr": lr, "grad_norm": norm,
              "items_per_sec": smoothed_rate, "seconds": counters.seconds,
              "progress": budget_progress(config, step, counters.seconds)})
        return None, now

    smoothed_rate = None
    emit({"kind": "start", "step": counters.step, "config": config.to_dict(), "resumed": resume is not None,
          **extra_meta})
    with stop.catching(distributed=W > 1):
        try:
            t_mark = clock()
            while True:
                reason = _budget_reason(config, counters)
                if reason is not None:
                    break
                reason, t_mark = one_step(counters.step + 1, t_mark)
                if reason is not None:
                    break
                if counters.step % config.eval_every == 0:
                    validate()
                    t_mark = clock()
            if counters.last_eval_step != counters.step or counters.last_val_loss is None:
                validate()
            else:
                save_resumable()
            if reason == "time":
                message = f"finished the {config.minutes:g}-minute budget at step {counters.step}"
            else:
                message = f"{'finished' if reason == 'steps' else 'stopped at'} step {counters.step}"
            return finish(reason, message + _best_text(counters))
        except NonFiniteError as e:
            kept = (f"the last good checkpoint is {out / MODEL_FILE} (step {counters.best_step})"
                    if counters.best_step is not None else "no checkpoint had been saved yet")
            return finish("nan", f"the {e.name} became NaN or infinite at step {e.step}; training stopped, {kept}. "
                                 "Try a lower --lr or --clip")
        except (KeyboardInterrupt, _Interrupted):
            save_resumable()
            return finish("interrupted", f"interrupted at step {counters.step}; resumable checkpoint "
                                         f"{out / RESUME_FILE}" + _best_text(counters))
        finally:
            if log is not None and not log._file.closed:
                log.close()


def _restore(resume: tuple[dict, dict], module, optimizer, counters: Counters, rows: slice, device) -> StreamState:
    """Parameters, optimizer, counters and this rank's rows of the carried state from a resumable file."""
    torch = import_torch()
    tensors, meta = resume
    try:
        load_arrays(module, {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")})
    except ValueError as e:
        raise TrainingError(f"cannot resume: the checkpoint's parameters do not match the model ({e})") from None
    optim = {k[len("optim."):]: v for k, v in tensors.items() if k.startswith("optim.")}
    load_optimizer_arrays(optimizer, module, optim)
    for key, value in meta["counters"].items():
        setattr(counters, key, value)
    dtype = module["head"].weight.dtype

    def rows_of(name):
        if name not in tensors:
            return None
        mine = np.ascontiguousarray(tensors[name][:, rows])  # (L, b, H) this rank's streams
        return torch.from_numpy(mine).to(device=device, dtype=dtype)

    state = meta["task_state"]
    return StreamState(BatchPosition(int(state["epoch"]), int(state["window"])), rows_of("task.h"), rows_of("task.c"),
                       state["rng"])


# ---- the whole run from a text ----------------------------------------------------------------------------
def read_resume_shared(path: str | Path, comm) -> tuple[dict, dict]:
    """``read_resume`` on rank 0; the file's bytes are broadcast, so the other machines need no copy."""
    if comm.world_size == 1:
        return read_resume(path)
    loaded, error, payload = None, None, b""
    if comm.rank == 0:
        try:
            loaded = read_resume(path)
            file = Path(path) / RESUME_FILE if Path(path).is_dir() else Path(path)
            payload = file.read_bytes()
        except (TrainingError, OSError) as e:
            error = e if isinstance(e, TrainingError) else TrainingError(f"cannot resume: {e}")
    payload = comm.broadcast_bytes(payload)
    if not payload:
        raise error or TrainingError("cannot resume: rank 0 could not read the resumable checkpoint")
    if loaded is not None:
        return loaded
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / RESUME_FILE
        file.write_bytes(payload)
        return read_resume(file)


def train_charlm_torch(config: TrainConfig | None, text: str, out: str | Path, *, on_event=None, should_stop=None,
                       resume: str | Path | tuple | None = None, corpus_name: str = "text",
                       corpus_sha256: str | None = None, device: str = "cpu", dtype=None, comm=None) -> TrainResult:
    """``training.train_charlm`` on the torch backend (same arguments, same files), plus ``device``,
    ``dtype`` (float32 unless resuming, then the checkpoint's) and ``comm``.  ``config`` None when
    resuming keeps the run's saved budget.  Under ``torchrun`` with
    several processes and no ``comm``, the process group is made from the environment (``ddp.py``)."""
    if comm is None:
        from .ddp import make_comm

        comm = make_comm(device)
    sha = corpus_sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    resume_data = None
    try:
        if resume is not None:
            tensors, meta = resume if isinstance(resume, tuple) else read_resume_shared(resume, comm)
            config, vocab = resume_setup(meta, config, text, sha)
            dtype = tensors["param.head.weight"].dtype if dtype is None else dtype
            resume_data = (tensors, meta)
        elif config is None:
            raise TrainingError("a configuration is needed unless resuming")
        else:
            vocab = CharVocab.from_text(text)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.name not in ("float32", "float64"):
            raise TrainingError(f"dtype must be float32 or float64, got {dtype.name}")
        train, val = check_text(text, config, corpus_name)
        model = new_model(config, vocab)
        model = CharLM(model.config, vocab, {k: v.astype(dtype) for k, v in model.params.items()})
    except ConfigError as e:
        raise TrainingError(str(e)) from None
    torch = import_torch()
    corpus = {"name": corpus_name, "sha256": sha, "chars": len(text), "train_chars": len(train), "val_chars": len(val)}
    backend = {"name": "torch", "torch_version": torch.__version__, "device": comm.device.type,
               "processes": comm.world_size, "dtype": dtype.name}
    extra = {"corpus": corpus, "corpus_sha256": sha, "rnnlab_version": __version__, "task": "charlm",
             "backend": backend}
    return fit_torch(model, vocab.encode(train), vocab.encode(val), config, out, comm=comm, on_event=on_event,
                     should_stop=should_stop, resume=resume_data, extra_meta=extra)
