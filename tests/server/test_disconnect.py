"""A client that goes away stops its work within a second; a generation stops at its time limit.

Against a real uvicorn on 127.0.0.1: the generation session's ``take`` is slowed down (40 ms per
chunk) so that a 5000-character generation would run for seconds, and every call is timestamped; a
training in the page is asked for 20 seconds.  The client then closes the socket (cleanly, or by
dropping the TCP connection) and the test watches the server's work stop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import websockets
from server.asgi_raw import live_server
from support.tiny_charlm import random_model

from rnnlab.server.app import create_app
from rnnlab.server.managers.generation import GenerationSession
from rnnlab.server.settings import Settings

STOP_WITHIN = 1.0  # seconds


def run_client(coroutine):
    """asyncio.run in a thread of its own: a browser test's event loop may be running in this worker."""
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as e:  # re-raised in the test's thread
            result["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    random_model(hidden=16, layers=1).save(path)
    return path


@pytest.fixture
def slow_takes(monkeypatch):
    """Every call of GenerationSession.take, timestamped; each chunk takes 40 ms more than it would."""
    calls: list[float] = []
    original = GenerationSession.take

    def take(self, *args, **kwargs):
        time.sleep(0.04)
        calls.append(time.monotonic())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GenerationSession, "take", take)
    return calls


async def _open_generation(port: int, length: int = 5000):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/api/generate/stream")
    await ws.send(json.dumps({"length": length, "temperature": 1.0, "seed": 1}))
    start = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert start["type"] == "start"
    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["type"] == "steps"
    return ws


def _settle(calls: list[float], closed_at: float, watch: float = STOP_WITHIN + 1.0) -> float:
    """Wait `watch` seconds; return when the last take call came, relative to the close."""
    time.sleep(watch)
    return max(calls) - closed_at


@pytest.mark.parametrize("how", ["close", "drop"])
def test_a_generation_stops_within_a_second_of_the_client_leaving(model_path, slow_takes, how):
    app = create_app(Settings(default_model=model_path))
    with live_server(app) as port:
        async def run() -> float:
            ws = await _open_generation(port)
            if how == "close":
                await ws.close()
            else:
                ws.transport.abort()  # the TCP connection drops without a closing handshake
            return time.monotonic()

        closed_at = run_client(run())
        before = len(slow_takes)
        last = _settle(slow_takes, closed_at)
    print(f"generation: last chunk {last * 1000:.0f} ms after the client left ({how})")
    assert last < STOP_WITHIN, f"the server kept generating {last:.2f} s after the client left"
    assert before < 5000 / 10, "the generation had finished before the client left: the test proves nothing"


def test_a_generation_ends_at_its_time_limit(model_path, slow_takes):
    app = create_app(Settings(default_model=model_path, generation_time_limit=0.5))
    with live_server(app) as port:
        async def run():
            t0 = time.monotonic()
            ws = await _open_generation(port)
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] == "done":
                    await ws.close()
                    return message, time.monotonic() - t0

        done, elapsed = run_client(run())
    assert done["timed_out"] is True and done["count"] < 5000
    assert elapsed < 0.5 + STOP_WITHIN


def test_a_post_generation_ends_at_its_time_limit(model_path, slow_takes):
    from fastapi.testclient import TestClient

    app = create_app(Settings(default_model=model_path, generation_time_limit=0.3))
    with TestClient(app) as client:
        t0 = time.monotonic()
        reply = client.post("/api/generate", json={"length": 5000, "seed": 1})
        elapsed = time.monotonic() - t0
    assert reply.status_code == 200 and len(reply.json()["text"]) < 5000
    assert elapsed < 0.3 + STOP_WITHIN


def test_a_training_in_the_page_stops_within_a_second_of_the_client_leaving(model_path):
    app = create_app(Settings(default_model=None, preload=False))
    manager = app.state.visualizer
    ended: list[float] = []
    original = manager.train

    def train(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            ended.append(time.monotonic())

    manager.train = train
    request = {"network": {"cell": "lstm", "hidden_size": 32}, "sequence": {"type": "sine", "length": 60},
               "seconds": 20.0}
    with live_server(app) as port:
        async def run() -> float:
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/visualizer/train") as ws:
                await ws.send(json.dumps(request))
                while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "progress":
                    pass
                ws.transport.abort()
                return time.monotonic()

        closed_at = run_client(run())
        deadline = closed_at + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.01)
    assert ended, "the training was still running 5 s after the client left"
    print(f"training: stopped {(ended[0] - closed_at) * 1000:.0f} ms after the client left")
    assert ended[0] - closed_at < STOP_WITHIN
    assert threading.active_count() < 50
