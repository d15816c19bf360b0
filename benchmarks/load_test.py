"""Load test: 50 concurrent clients x 20 streamed generations each, against a real ``rnnlab serve``.

The server runs as a subprocess on 127.0.0.1 exactly as a user starts it.  Each client opens the
page's WebSocket (``/api/generate/stream``), asks for ``--length`` characters, reads the stream to its
``done`` message, closes, and starts its next generation; all clients run at once.  Counted as an
error: a refused or failed handshake (a 5xx included), an ``error`` message, a stream that ends
without ``done`` or with fewer characters than asked, a timeout.  ``--mode post`` does the same with
``POST /api/generate`` (any status but 200 is an error).

Reported: errors, latency of a whole generation (p50, p95, max) and of its first characters, the
characters per second the server delivered in total, and the server's resident memory (VmRSS)
after a warm-up, at its peak during the run, and after it: the growth must stay under 50 MB.

The model: the bundled default model when the installation has it, else a stand-in of the same
shape (LSTM 2x300, tiny-shakespeare's 65 characters, random weights); ``--model PATH`` for another.

Usage::

    python benchmarks/load_test.py                                   # 50 x 20 x 200 characters
    python benchmarks/load_test.py --clients 10 --generations 5      # a quick look
    python benchmarks/load_test.py --write                           # and update RESULTS.md

Exit status 1 when there were errors or the memory grew by 50 MB or more.  Bounded: every
generation has a timeout and the whole run a deadline (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "<!-- section: load (benchmarks/load_test.py) -->"
SHAKESPEARE_CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_GROWTH_MB = 50.0
PROMPT = "ROMEO:\n"


def stand_in_model(folder: Path) -> Path:
    import numpy as np

    from rnnlab.data.vocab import CharVocab
    from rnnlab.tasks.charlm import CharLM, CharLMConfig

    model = CharLM(CharLMConfig("lstm", 300, 2), CharVocab(SHAKESPEARE_CHARS), rng=np.random.default_rng(0))
    path = folder / "standin-2x300.safetensors"
    model.save(path, note="random weights: load-test stand-in for the default model")
    return path


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024


def start_server(model: Path | None, folder: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "rnnlab.cli.main", "serve", "--port", "0"]
    cmd += ["--no-default-model", "--model", str(model)] if model is not None else []
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while "rnnlab serve:" not in line:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"the server did not start: {proc.stderr.read()[-2000:]}")
        line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"unexpected start line: {line!r}")
    return proc, match.group(1)


async def stream_once(base: str, model_id: str, length: int, seed: int, timeout: float) -> tuple[float, float, int]:
    """One generation over the WebSocket: (seconds in all, seconds to the first characters, characters)."""
    import websockets

    t0 = time.perf_counter()
    first = None
    count = 0
    async with asyncio.timeout(timeout):
        async with websockets.connect(base.replace("http://", "ws://") + "/api/generate/stream",
                                      max_size=None) as ws:
            await ws.send(json.dumps({"model": model_id, "prompt": PROMPT, "length": length, "temperature": 1.0,
                                      "seed": seed}))
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "steps":
                    count += len(message["steps"])
                    first = first or time.perf_counter() - t0
                elif message["type"] == "error":
                    raise RuntimeError(f"error message: {message.get('message')}")
                elif message["type"] == "done":
                    if count != length:
                        raise RuntimeError(f"done after {count} of {length} characters")
                    return time.perf_counter() - t0, first or 0.0, count
    raise RuntimeError(f"the stream ended without 'done' after {count} characters")


async def post_once(client, base: str, model_id: str, length: int, seed: int, timeout: float) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    reply = await client.post(base + "/api/generate", json={"model": model_id, "prompt": PROMPT, "length": length,
                                                            "seed": seed}, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if reply.status_code != 200:
        raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:200]}")
    count = len(reply.json()["text"])
    if count != length:
        raise RuntimeError(f"{count} of {length} characters")
    return elapsed, elapsed, count


async def run_load(base: str, model_id: str, args, pid: int) -> dict:
    import httpx

    latencies: list[float] = []
    firsts: list[float] = []
    errors: list[str] = []
    chars = 0
    peak = [rss_mb(pid)]
    done = asyncio.Event()

    async def sample_memory() -> None:
        while not done.is_set():
            peak.append(rss_mb(pid))
            await asyncio.sleep(0.25)

    async def client(index: int, http) -> None:
        nonlocal chars
        for g in range(args.generations):
            seed = index * 1000 + g
            try:
                if args.mode == "ws":
                    elapsed, first, count = await stream_once(base, model_id, args.length, seed, args.per_timeout)
                else:
                    elapsed, first, count = await post_once(http, base, model_id, args.length, seed, args.per_timeout)
                latencies.append(elapsed)
                firsts.append(first)
                chars += count
            except Exception as e:
                errors.append(f"client {index} generation {g}: {type(e).__name__}: {e}"[:300])

    sampler = asyncio.create_task(sample_memory())
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=args.clients + 5)
    async with httpx.AsyncClient(limits=limits) as http:
        try:
            async with asyncio.timeout(args.timeout):
                await asyncio.gather(*(client(i, http) for i in range(args.clients)))
        except TimeoutError:
            errors.append(f"the run did not finish within {args.timeout:g} s")
    wall = time.perf_counter() - t0
    done.set()
    await sampler
    return {"latencies": latencies, "firsts": firsts, "errors": errors, "chars": chars, "wall": wall,
            "peak_mb": max(peak)}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--generations", type=int, default=20, help="per client, one after the other")
    p.add_argument("--length", type=int, default=200, help="characters per generation")
    p.add_argument("--mode", choices=["ws", "post"], default="ws")
    p.add_argument("--model", type=Path, help="a char-LM checkpoint (default: the bundled model or a stand-in)")
    p.add_argument("--timeout", type=float, default=900.0, help="deadline of the whole run, seconds")
    p.add_argument("--per-timeout", type=float, default=120.0, help="deadline of one generation, seconds")
    p.add_argument("--write", action="store_true", help="replace this benchmark's section of RESULTS.md")
    args = p.parse_args(argv)

    import httpx

    from rnnlab.tasks.charlm import DEFAULT_MODEL_PATH

    with tempfile.TemporaryDirectory(prefix="rnnlab-load-") as tmp:
        folder = Path(tmp)
        model = args.model
        if model is None and not DEFAULT_MODEL_PATH.exists():
            model = stand_in_model(folder)
        model_name = "the bundled default model" if model is None else model.name
        proc, base = start_server(model, folder)
        try:
            listing = httpx.get(base + "/api/models", timeout=30).json()
            model_id = listing["default"]
            if model_id is None:
                raise SystemExit(f"no model available: {listing.get('message')}")
            warm = argparse.Namespace(**{**vars(args), "clients": 2, "generations": 3})
            asyncio.run(run_load(base, model_id, warm, proc.pid))  # warm-up: imports, caches, thread pool
            before = rss_mb(proc.pid)
            result = asyncio.run(run_load(base, model_id, args, proc.pid))
            time.sleep(1.0)
            after = rss_mb(proc.pid)
            healthy = httpx.get(base + "/api/health", timeout=30).status_code == 200
        finally:
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    total = args.clients * args.generations
    lat, first = result["latencies"], result["firsts"]
    growth = after - before
    rows = [
        ("clients x generations", f"{args.clients} x {args.generations} = {total} ({args.mode}, {args.length} chars each)"),
        ("model", model_name),
        ("completed / errors", f"{len(lat)} / {len(result['errors'])}"),
        ("latency of a generation p50 / p95 / max", f"{percentile(lat, 50):.2f} / {percentile(lat, 95):.2f} / "
                                                    f"{max(lat, default=float('nan')):.2f} s"),
        ("first characters p50 / p95", f"{percentile(first, 50) * 1000:.0f} / {percentile(first, 95) * 1000:.0f} ms"),
        ("characters delivered per second (all clients)", f"{result['chars'] / result['wall']:.0f}"),
        ("wall time", f"{result['wall']:.1f} s"),
        ("server RSS after warm-up / peak / after", f"{before:.1f} / {result['peak_mb']:.1f} / {after:.1f} MB"),
        ("server RSS growth", f"{growth:+.1f} MB (limit {MAX_GROWTH_MB:g} MB)"),
        ("server healthy afterwards", "yes" if healthy else "NO"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    for line in result["errors"][:10]:
        print("error:", line, file=sys.stderr)
    ok = not result["errors"] and growth < MAX_GROWTH_MB and healthy and len(lat) == total
    print("PASS" if ok else "FAIL")
    if args.write:
        write_section(table, args, ok)
    return 0 if ok else 1


def write_section(table: str, args, ok: bool) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    body = (f"{SECTION}\n## Load: concurrent generations against `rnnlab serve` (issue 7)\n\n"
            f"`python benchmarks/load_test.py{' --mode post' if args.mode == 'post' else ''}` on {machine}, "
            f"{time.strftime('%Y-%m-%d')}: {'PASS' if ok else 'FAIL'}.\n\n{table}\n")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in text:
        start = text.index(SECTION)
        nxt = text.find("<!-- section:", start + len(SECTION))
        text = text[:start] + body + ("\n" + text[nxt:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
