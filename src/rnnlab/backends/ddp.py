"""Several processes and machines: DistributedDataParallel under ``torchrun`` (gloo on CPU, NCCL on GPU).

    torchrun --standalone --nproc-per-node 2 -m rnnlab.backends.ddp tinyshakespeare --preset small --out runs/ddp
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-id run1 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m rnnlab.backends.ddp tinyshakespeare --device cuda --out runs/ddp      # the same on both machines

(``docs/scale_out.md`` has the full recipes.)  Without torchrun the same command trains in one process.

What each rank does (``torch_train.py`` has the step):

- **Data.**  ``config.batch_size`` B is the global batch: B contiguous streams of the text, as in
  ``data.batches``.  Rank r of R reads the streams ``shard_bounds(B, R, r)`` = [r B / R, (r+1) B / R)
  of every window (shares differ by at most one stream; B >= R is required).  The loss of rank r is
  scaled by R / (T B), so DDP's gradient average is the gradient of the mean over all T B positions:
  R processes compute what one process computes on the combined batch.
- **Text and resume file.**  Rank 0 loads the corpus (downloading it if needed) and reads the
  resumable checkpoint; both are broadcast as bytes, so the other machines need neither.
- **Checkpoints.**  Only rank 0 writes (``model.safetensors``, ``last.resume.safetensors``,
  ``metrics.jsonl``, ``loss.png``), atomically (``io.checkpoint``); if its write fails, every rank
  stops with the error.  Validation is split over the ranks by streams and summed.
- **Resume with another number of processes.**  The resumable file is the one-process format: the
  global data position (epoch, window), the dropout generator, and the carried hidden state of all B
  streams, (L, B, H) in stream order, gathered to rank 0.  A run resumed on R' processes gives rank r
  the rows ``shard_bounds(B, R', r)`` of that state and reads the same streams of the next window:
  training continues exactly (up to the order of floating-point sums) whatever R and R' are.  The
  NumPy backend resumes the same file (and vice versa).
- **Stopping.**  Ctrl-C or SIGTERM (torchrun forwards them) on any rank stops every rank at the same
  step, after which rank 0 saves a resumable checkpoint.  A worker's exit code is as ``rnnlab
  train``'s: 0 done, 1 NaN or a failed save, 2 bad input, 130 interrupted (torchrun itself exits 1
  when it was signalled).

Threads: ``--threads N`` sets ``torch.set_num_threads`` per process (torchrun's default is 1 when it
starts several processes per machine).  Proved by ``tests/backends/test_ddp.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from ..training.flags import add_config_flags, config_overrides
from .torch_charlm import import_torch
from .torch_train import SingleProcess, resolve_device, shard_bounds


class ProcessGroup:
    """The communicator of a torchrun process (``torch_train.SingleProcess`` has the same methods)."""

    def __init__(self, device: str = "cpu", timeout_minutes: float = 30.0):
        torch = import_torch()
        dist = torch.distributed
        self.dist = dist
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "cuda":
            self.device = resolve_device("cuda", local_rank)
            torch.cuda.set_device(self.device)
            backend = "nccl"
        else:
            self.device = resolve_device(device)
            backend = "gloo"
        self.owns_group = not dist.is_initialized()
        if self.owns_group:  # torchrun's environment: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
            dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def wrap(self, module):
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def reduce_sum(self, values):
        """All-reduce (sum) a 1-d float64 tensor; every rank gets the same result."""
        self.dist.all_reduce(values)
        return values

    def gather_rows(self, tensor, total: int):
        """(L, b_r, H) on every rank -> (L, B, H): the ranks' rows in stream order (padded all_gather)."""
        torch = import_torch()
        W = self.world_size
        sizes = [stop - start for start, stop in (shard_bounds(total, W, r) for r in range(W))]
        padded = torch.zeros((tensor.shape[0], max(sizes), *tensor.shape[2:]), dtype=tensor.dtype, device=tensor.device)
        padded[:, : tensor.shape[1]] = tensor  # (L, b_max, H)
        parts = [torch.empty_like(padded) for _ in range(W)]
        self.dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:, :size] for part, size in zip(parts, sizes)], dim=1)  # (L, B, H)

    def broadcast_bytes(self, data: bytes) -> bytes:
        """Rank 0's bytes on every rank (the argument is ignored elsewhere)."""
        torch = import_torch()
        length = torch.tensor([len(data) if self.rank == 0 else 0], dtype=torch.int64, device=self.device)
        self.dist.broadcast(length, src=0)
        n = int(length.item())
        if n == 0:
            return b""
        if self.rank == 0:
            buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(self.device)  # (n,)
        else:
            buffer = torch.empty(n, dtype=torch.uint8, device=self.device)  # (n,)
        self.dist.broadcast(buffer, src=0)
        return bytes(buffer.cpu().numpy().tobytes())

    def any_true(self, flag: bool) -> bool:
        torch = import_torch()
        value = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=self.device)
        self.dist.all_reduce(value)
        return bool(value.item() > 0)

    def close(self) -> None:
        """Wait for every rank (at most a minute), then tear the group down.

        Without the barrier a rank that finishes first (rank 1, while rank 0 still saves) can destroy
        its group and exit while gloo's threads still serve the other rank; it then died with
        "terminate called without an active exception" (SIGABRT) at exit, once in a few CI runs."""
        if not (self.owns_group and self.dist.is_initialized()):
            return
        try:
            if self.dist.get_backend() == "gloo":
                self.dist.monitored_barrier(timeout=timedelta(seconds=60))
            else:
                self.dist.barrier()
        except Exception:  # a rank is gone (it failed or was interrupted): tear down what is left
            pass
        self.dist.destroy_process_group()


def make_comm(device: str = "cpu"):
    """A ``ProcessGroup`` under torchrun with several processes, else a ``SingleProcess`` (no DDP wrapper)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return ProcessGroup(device)
    return SingleProcess(device)


# ---- the torchrun entry: python -m rnnlab.backends.ddp ... ---------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rnnlab.backends.ddp",
                                description="Train a character-level LM with PyTorch DDP; start it with torchrun.")
    p.add_argument("corpus", nargs="?", metavar="FILE_OR_CORPUS",
                   help="a text file or a named corpus (tinyshakespeare, pydoc, stdlib); read by rank 0 only")
    p.add_argument("--preset", choices=["tiny", "small", "default"], default="small", help="named configuration")
    add_config_flags(p, help_text={
        "seq_len": "characters per window of truncated BPTT",
        "batch": "contiguous streams per step, over all processes together",
        "lr": "peak learning rate",
        "minutes": "training-time budget (rank 0's clock, validation excluded)",
        "steps": "number of optimizer steps",
        "seed": "random seed",
        "set": "any configuration key (repeatable)",
    })
    p.add_argument("--out", metavar="PATH", help="run folder on rank 0's machine (default: runs/<corpus>-ddp-<time>)")
    p.add_argument("--resume", metavar="PATH", help="continue a run (its folder or last.resume.safetensors, on rank 0)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cpu (gloo) or cuda (NCCL, one GPU a process)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None, help="parameter dtype (default float32)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process (default: torch's)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of FILE")
    p.add_argument("--print-every", type=int, default=50, help="steps between progress lines (0: none)")
    return p


def build_config(args):
    from ..training import preset

    overrides = config_overrides(args)
    return preset(args.preset).replace(**overrides) if overrides else preset(args.preset)


def share_corpus(args, comm):
    """Rank 0 loads the corpus; (text, name, sha256) on every rank, or a CorpusError on rank 0 / b'' elsewhere."""
    import json

    from ..data import CorpusError, load_corpus
    from ..training import read_resume

    header, text, error = b"", b"", None
    if comm.rank == 0:
        try:
            source = args.corpus
            if args.resume and not source:
                source = read_resume(args.resume)[1].get("corpus", {}).get("name")
            if not source:
                raise CorpusError("name a text file or a corpus (tinyshakespeare, pydoc, stdlib), or pass --resume")
            corpus = load_corpus(source, encoding=args.encoding)
            header = json.dumps({"name": corpus.name, "sha256": corpus.sha256}).encode()
            text = corpus.text.encode("utf-8")
        except Exception as e:  # told to every rank below; rank 0 reports it
            error = e
    header = comm.broadcast_bytes(header)
    text = comm.broadcast_bytes(text if header else b"")
    if not header:
        return None, error
    info = json.loads(header)
    return (text.decode("utf-8"), info["name"], info["sha256"]), None


def printer(every: int):
    def on_event(event: dict) -> None:
        kind = event["kind"]
        if kind == "start":
            c = event["config"]
            b = event.get("backend", {})
            print(f"{'resuming' if event['resumed'] else 'training'} a {c['cell'].upper()} {c['num_layers']}x"
                  f"{c['hidden_size']} on {event.get('corpus', {}).get('name')}: {b.get('processes')} process(es) on "
                  f"{b.get('device')}, global batch {c['batch_size']} x window {c['seq_len']}", flush=True)
        elif kind == "step" and every and event["step"] % every == 0:
            print(f"step {event['step']:>6}  loss {event['loss']:.4f}  {event['bpc']:.3f} bpc  "
                  f"{event['items_per_sec']:,.0f} chars/s  |g| {event['grad_norm']:.2f}", flush=True)
        elif kind == "eval":
            print(f"step {event['step']:>6}  validation {event['val_loss']:.4f} nats/char "
                  f"({event['val_bpc']:.3f} bits/char){' * best' if event['best'] else ''}", flush=True)
        elif kind == "sample":
            print("  " + event["text"].replace("\n", "\n  "), flush=True)
        elif kind == "done":
            print(f"done: {event['message']}", flush=True)
            if event["best_step"] is not None:
                print(f"  model {event['model_path']}", flush=True)

    return on_event


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..training import ConfigError, TrainingError
    from .torch_train import train_charlm_torch

    try:
        import_torch()
    except ImportError as e:
        print(f"rnnlab ddp: error: {e}", file=sys.stderr)
        return 2
    torch = import_torch()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        comm = make_comm(args.device)
    except TrainingError as e:
        print(f"rnnlab ddp: error: {e}", file=sys.stderr)
        return 2
    try:
        try:  # resuming without --steps/--minutes keeps the run's saved configuration and budget
            config = None if args.resume and args.steps is None and args.minutes is None else build_config(args)
        except (ConfigError, ValueError) as e:
            if comm.rank == 0:
                print(f"rnnlab ddp: error: {e}", file=sys.stderr)
            return 2
        shared, error = share_corpus(args, comm)
        if shared is None:
            if comm.rank == 0:
                print(f"rnnlab ddp: error: {error}", file=sys.stderr)
            return 2
        text, name, sha = shared
        out = args.out
        if out is None and args.resume:
            out = str(Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent)
        if out is None:  # rank 0's name is the one used (only rank 0 writes)
            out = str(Path("runs") / f"{Path(name).stem or 'text'}-ddp-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            on_event = printer(args.print_every) if comm.rank == 0 else None
            result = train_charlm_torch(config, text, out, on_event=on_event,
                                        resume=args.resume, corpus_name=name, corpus_sha256=sha, device=args.device,
                                        dtype=args.dtype, comm=comm)
        except TrainingError as e:
            if comm.rank == 0:
                print(f"rnnlab ddp: error: {e}", file=sys.stderr)
            bad_input = ("cannot resume", "is too short", "is empty", "smaller than the")
            return 2 if any(part in str(e) for part in bad_input) else 1
        if result.reason == "nan":
            return 1
        if result.reason == "interrupted":
            if comm.rank == 0:
                print(f"  continue with: torchrun ... -m rnnlab.backends.ddp --resume {out}", file=sys.stderr)
            return 130
        return 0
    finally:
        if hasattr(comm, "close"):
            comm.close()


if __name__ == "__main__":
    sys.exit(main())
