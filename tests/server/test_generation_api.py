"""/api/generate (whole text) and /api/generate/stream (WebSocket, character by character)."""

from __future__ import annotations

import base64
import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from support.websocket import stream_messages

from rnnlab.server.app import create_app
from rnnlab.server.settings import Settings


def test_generate_returns_length_characters_with_their_numbers(client):
    r = client.post("/api/generate", json={"prompt": "The ", "length": 40, "seed": 1})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["model"] == "tiny" and len(d["text"]) == 40 and len(d["chars"]) == 40
    assert "".join(c["char"] for c in d["chars"]) == d["text"]
    assert all(0 < c["prob"] <= 1 and c["surprisal"] >= 0 for c in d["chars"])


def test_the_same_seed_gives_the_same_text(client):
    a = client.post("/api/generate", json={"length": 30, "seed": 7, "temperature": 1.5}).json()["text"]
    b = client.post("/api/generate", json={"length": 30, "seed": 7, "temperature": 1.5}).json()["text"]
    assert a == b


@pytest.mark.parametrize("body,words", [
    ({"length": 0}, "length must be between 1 and 5000"),
    ({"length": 10**9}, "length must be between 1 and 5000"),
    ({"temperature": -1}, "temperature must be between"),
    ({"top_k": 0}, "top_k must be between 1 and 1000"),
    ({"top_p": 1.5}, "top_p"),
    ({"model": "../x"}, "model"),
    ({"prompt": "QQQ"}, "'Q'"),
    ({"bogus": 1}, "Extra inputs"),
])
def test_bad_generation_requests_are_422(client, body, words):
    r = client.post("/api/generate", json=body)
    assert r.status_code == 422 and words in r.json()["message"], r.text


def test_without_a_model_generation_is_404_saying_why(bare_client):
    r = bare_client.post("/api/generate", json={})
    assert r.status_code == 404 and "No model is bundled" in r.json()["message"]


def stream(client, body):
    return stream_messages(client, "/api/generate/stream", body)


def test_the_stream_sends_every_character_with_its_top_10_and_hidden_state(client):
    messages = stream(client, {"prompt": "The", "length": 120, "seed": 3})
    start, done = messages[0], messages[-1]
    assert start["type"] == "start" and start["first_input"] == "e" and len(start["vocab"]) > 10
    steps = [s for m in messages if m["type"] == "steps" for s in m["steps"]]
    assert [s["i"] for s in steps] == list(range(120))
    assert done["type"] == "done" and done["count"] == 120 and not done["stopped"]
    for s in steps:
        probs = [p for _, p in s["top"]]
        assert len(probs) == 10 and probs == sorted(probs, reverse=True)
        assert len(base64.b64decode(s["hq"])) == 1 * 48 and s["hs"] >= 1  # (L, H) as int8
        assert s["S"] >= 0 and 0 <= s["H"] <= start["max_entropy"] + 1e-9
    assert "".join(s["c"] for s in steps) == client.post(
        "/api/generate", json={"prompt": "The", "length": 120, "seed": 3}).json()["text"]


def test_a_stop_message_ends_the_stream_early(client):
    with client.websocket_connect("/api/generate/stream") as ws:
        ws.send_json({"length": 5000, "seed": 0})
        assert ws.receive_json()["type"] == "start"
        ws.send_json({"type": "stop"})
        while (msg := ws.receive_json())["type"] != "done":
            pass
    assert msg["stopped"] is True and msg["count"] < 5000


def test_the_stream_stops_at_the_time_limit(tiny_model_path):
    app = create_app(Settings(default_model=None, models=(tiny_model_path,), generation_time_limit=0.05))
    with TestClient(app) as c:
        done = stream(c, {"length": 5000})[-1]
    assert done["timed_out"] is True and done["count"] < 5000


@pytest.mark.parametrize("raw,code", [
    ('{"length": 0}', 4422),
    ("not json", 4422),
    ('{"prompt": "QQ"}', 4422),
    ('{"model": "missing"}', 4404),
])
def test_bad_stream_requests_get_an_error_and_a_close_code(client, raw, code):
    with client.websocket_connect("/api/generate/stream") as ws:
        ws.send_text(raw)
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == code


def wait_until(condition, seconds=3.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_closing_the_socket_stops_the_generation_within_a_second(client):
    manager = client.app.state.generation
    with client.websocket_connect("/api/generate/stream") as ws:
        ws.send_json({"length": 5000, "seed": 0})
        assert ws.receive_json()["type"] == "start"
        assert manager.active == 1
    assert wait_until(lambda: manager.active == 0, seconds=1.0)


def test_the_whole_text_endpoint_leaves_no_session_open(client):
    client.post("/api/generate", json={"length": 10})
    assert client.app.state.generation.active == 0
