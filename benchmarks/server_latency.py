"""Web app latency: the visualizer trace, streamed generation, and the page's time to interactive.

Three measurements against a real server (uvicorn in a thread on 127.0.0.1, as ``rnnlab serve``):

1. **Trace**: ``POST /api/visualizer/trace`` for 50 steps at hidden size 32 (RNN, LSTM, GRU): the
   time inside the server (the manager's ``trace``: sequence, forward with trace, backward for
   dL/dh_t, figure specs) and the client-observed time of the whole HTTP request (keep-alive,
   JSON parsing included).  Target (issue 4): p95 < 10 ms.
2. **Generation stream**: characters per second received over ``/api/generate/stream`` (each with
   its top-10 distribution, entropy, surprisal and hidden state), by a Python WebSocket client, and
   by the page itself in chromium (from the click to the last character drawn).  Target: >= 500.
   The model: the bundled default when it exists, else a 2x256 LSTM with random weights, V=65.
3. **Page**: time from navigation to interactive (the page's ``data-core-ready-ms``: first trace,
   diagram and charts drawn, generation ready; and ``data-ready-ms`` with the later sections too),
   in headless chromium.  Target: < 1.5 s.
4. **Start**: ``rnnlab serve`` in a fresh process, from launch to its first answer on /api/health
   (imports, model loaded).  Target: < 2 s.

Usage::

    python benchmarks/server_latency.py               # print the table
    python benchmarks/server_latency.py --write       # and replace the server section of RESULTS.md
    python benchmarks/server_latency.py --no-browser  # skip the chromium measurements
"""

from __future__ import annotations

import argparse
import asyncio
import json
import string
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "<!-- section: server (benchmarks/server_latency.py) -->"
CHROMIUM = "/usr/bin/chromium"


def model_path(tmp: Path) -> tuple[Path, str]:
    from rnnlab.data.vocab import CharVocab
    from rnnlab.tasks.charlm import DEFAULT_MODEL_PATH, CharLM, CharLMConfig

    if DEFAULT_MODEL_PATH.is_file():
        return DEFAULT_MODEL_PATH, "bundled default model"
    chars = sorted(set(string.ascii_letters + string.digits + " \n.,;:!?'-"))[:65]
    model = CharLM(CharLMConfig("lstm", 256, 2), CharVocab(chars), rng=np.random.default_rng(0))
    path = tmp / "standin.safetensors"
    model.save(path)
    return path, "2x256 LSTM stand-in (random weights, V=65)"


def start_server(path: Path):
    import uvicorn

    from rnnlab.server.app import create_app
    from rnnlab.server.settings import Settings

    app = create_app(Settings(default_model=None, models=(path,)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return app, server, thread, f"http://127.0.0.1:{port}"


def percentiles(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def bench_trace(app, base: str, n: int) -> list[tuple]:
    import httpx

    from rnnlab.server.schemas.visualizer import TraceRequest

    rows = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for cell in ("rnn", "lstm", "gru"):
            body = {"network": {"cell": cell, "hidden_size": 32}, "sequence": {"type": "sine", "length": 50}}
            req = TraceRequest.model_validate(body)
            manager = app.state.visualizer
            for _ in range(10):  # warm up
                manager.trace(req)
                client.post("/api/visualizer/trace", json=body).raise_for_status()
            inside, cpu, http = [], [], []
            for _ in range(n):
                t0, c0 = time.perf_counter(), time.thread_time()
                manager.trace(req)
                inside.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.thread_time() - c0) * 1e3)
                t0 = time.perf_counter()
                r = client.post("/api/visualizer/trace", json=body)
                r.json()
                http.append((time.perf_counter() - t0) * 1e3)
                assert r.status_code == 200
            rows.append((cell, *percentiles(inside), *percentiles(cpu), *percentiles(http)))
    return rows


async def _stream(url: str, length: int) -> tuple[int, float, int]:
    import websockets

    count, nbytes = 0, 0
    async with websockets.connect(url, max_size=None) as ws:
        t0 = time.perf_counter()
        await ws.send(json.dumps({"length": length, "prompt": "The ", "temperature": 0.8, "seed": 0}))
        async for raw in ws:
            nbytes += len(raw)
            msg = json.loads(raw)
            if msg["type"] == "steps":
                count += len(msg["steps"])
            elif msg["type"] in ("done", "error"):
                break
        return count, time.perf_counter() - t0, nbytes


def bench_stream(base: str, length: int, rounds: int) -> tuple[float, float]:
    url = base.replace("http", "ws") + "/api/generate/stream"
    rates, sizes = [], []
    for _ in range(rounds):
        count, seconds, nbytes = asyncio.run(_stream(url, length))
        rates.append(count / seconds)
        sizes.append(nbytes / max(count, 1))
    return float(np.median(rates)), float(np.median(sizes))


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (Linux /proc), nan elsewhere."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def bench_start(path: Path, rounds: int = 3) -> list[tuple[float, float]]:
    import os
    import subprocess
    import sys

    import httpx

    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rnnlab.cli.main", "serve", "--port", "0", "--model", str(path),
                                 "--no-default-model"], stdout=subprocess.PIPE, text=True, env=env)
        try:
            url = proc.stdout.readline().split()[2]
            httpx.get(url + "api/health", timeout=30).raise_for_status()
            times.append((time.perf_counter() - t0, cpu_seconds(proc.pid)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return times


PLOTLY_ALONE = """() => new Promise((resolve) => { const t0 = performance.now(); const s = document.createElement('script');
    s.src = '/static/vendor/plotly.min.js?' + Math.random(); s.onload = () => resolve(performance.now() - t0);
    document.head.append(s); })"""


def bench_browser(base: str, rounds: int, length: int) -> tuple[list[float], float, float]:
    from playwright.sync_api import sync_playwright

    ready, rates, firsts = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        blank = browser.new_page()
        blank.goto(base + "/api/health")
        plotly_alone = float(np.median([blank.evaluate(PLOTLY_ALONE) for _ in range(3)]))
        blank.close()
        for i in range(rounds):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=30000)
            ready.append((float(page.get_attribute("body", "data-interactive-ms")),
                          float(page.get_attribute("body", "data-core-ready-ms")),
                          float(page.get_attribute("body", "data-ready-ms"))))
            if i == rounds - 1:
                page.get_by_test_id("gen-length").fill(str(length))
                page.get_by_test_id("gen-length").dispatch_event("change")
                for _ in range(3):
                    page.get_by_test_id("generate").click()
                    page.wait_for_function("document.getElementById('gen-status').dataset.charsPerSecond", timeout=60000)
                    rates.append(float(page.get_attribute("#gen-status", "data-chars-per-second")))
                    firsts.append(float(page.get_attribute("#gen-status", "data-first-char-seconds")))
                    page.evaluate("delete document.getElementById('gen-status').dataset.charsPerSecond")
            page.close()
        browser.close()
    return ready, (float(np.median(rates)), float(np.median(firsts))), plotly_alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="trace requests per cell (default 200)")
    parser.add_argument("--chars", type=int, default=3000, help="characters per streamed generation (default 3000)")
    parser.add_argument("--no-browser", action="store_true", help="skip the chromium measurements")
    parser.add_argument("--write", action="store_true", help="replace the server section of benchmarks/RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path, model_name = model_path(Path(tmp))
        app, server, thread, base = start_server(path)
        try:
            trace_rows = bench_trace(app, base, args.requests)
            ws_rate, bytes_per_char = bench_stream(base, args.chars, rounds=3)
            browser = None if args.no_browser else bench_browser(base, rounds=5, length=args.chars)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        start = bench_start(path)

    lines = [SECTION, "## Web app latency (issue 4)", "",
             "`python benchmarks/server_latency.py --write` — a real server (uvicorn, 127.0.0.1) in the same process.", "",
             "Visualizer trace, 50 steps, hidden size 32, sine wave (target: p95 < 10 ms):", "",
             "| cell | inside the server p50 | p95 | its CPU time p50 | p95 | HTTP round trip p50 | p95 |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {c} | {a:.2f} ms | {b:.2f} ms | {c1:.2f} ms | {c2:.2f} ms | {h1:.2f} ms | {h2:.2f} ms |"
              for c, a, b, c1, c2, h1, h2 in trace_rows]
    lines += ["", "(Wall time waits for the CPU when other jobs load the machine; the thread's CPU time does not.)"]
    lines += ["", f"Streamed generation ({model_name}, {args.chars} characters, each with its top 10, entropy, "
              f"surprisal and hidden state; target >= 500 characters/s):", "",
              f"- Python WebSocket client: {ws_rate:,.0f} characters/s ({bytes_per_char:,.0f} bytes per character)"]
    if browser is not None:
        ready, page_rate, plotly_alone = browser
        first, core, full = (np.array(col) for col in zip(*ready))
        lines += [f"- the page in headless chromium, each character drawn as it arrives: {page_rate[0]:,.0f} characters/s "
                  f"from the first character to the last; the first arrives {page_rate[1] * 1000:.0f} ms after the click", "",
                  f"Page load, headless chromium, {len(ready)} loads, median (max), target interactive < 1500 ms:", "",
                  f"- interactive (controls, unrolled diagram and math drawn from the first trace; models listed): "
                  f"{np.median(first):.0f} ms ({first.max():.0f})",
                  f"- Plotly.js evaluated and every chart of the visualizer and generation drawn: "
                  f"{np.median(core):.0f} ms ({core.max():.0f})",
                  f"- every section, the later ones included: {np.median(full):.0f} ms ({full.max():.0f})",
                  f"- for scale: Plotly.js alone (4.8 MB, fetched from this server and evaluated) on a blank page: "
                  f"{plotly_alone:.0f} ms"]
    wall, cpu = (np.array(col) for col in zip(*start))
    lines += ["", f"`rnnlab serve` from launch to its first answer ({model_name}, {len(start)} starts; target < 2 s): "
              f"median {np.median(wall):.2f} s (max {wall.max():.2f} s) of wall time, of which the process used "
              f"{np.median(cpu):.2f} s of CPU."]
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    busy = load > (os.cpu_count() or 1)
    lines += ["", f"Load average at the end of the run: {load:.1f} on {os.cpu_count()} cores"
                  + (" (other jobs shared the machine)." if busy else " (this run's own server and browser).")]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        old = RESULTS.read_text()
        if SECTION in old:
            head, rest = old.split(SECTION, 1)
            tail = rest.split("<!-- section:", 1)
            old = head.rstrip() + "\n\n" + text + ("\n<!-- section:" + tail[1] if len(tail) > 1 else "")
        else:
            old = old.rstrip() + "\n\n" + text
        RESULTS.write_text(old)


if __name__ == "__main__":
    main()
