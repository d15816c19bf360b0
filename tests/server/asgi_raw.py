"""Test helper: call an ASGI app with hand-built scopes and messages, and run a real uvicorn on 127.0.0.1.

Raw calls let a test send what no well-behaved client sends: any Host header, a Content-Length that
lies, a body in many pieces, a client address other than the test client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field

PEER = ("127.0.0.1", 50123)  # a client address as a real server reports it


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    messages: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _scope(kind: str, path: str, headers, client, query: bytes) -> dict:
    scope = {"type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http" if kind == "http" else "ws",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
             "client": client, "server": ("127.0.0.1", 8000)}
    return scope


def http(app, method: str = "GET", path: str = "/api/health", headers=(("host", "127.0.0.1:8000"),),
         chunks=(b"",), client=PEER, query: bytes = b"", delay: float = 0.0, disconnect_after: int | None = None) -> Reply:
    """One HTTP request; the body arrives as ``chunks`` (``delay`` seconds apart)."""
    scope = _scope("http", path, headers, client, query)
    scope["method"] = method
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect_after is not None:
        pending = pending[:disconnect_after] + [{"type": "http.disconnect"}]
    sent: list[dict] = []
    calls = {"receive": 0}

    async def receive():
        calls["receive"] += 1
        if delay:
            await asyncio.sleep(delay)
        if pending:
            return pending.pop(0)
        await asyncio.sleep(30)  # a connected client: the disconnect comes only when it leaves
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return Reply(0, {}, b"", sent)
    headers_out: dict[str, str] = {}
    for k, v in start.get("headers", []):
        key = k.decode("latin-1").lower()
        headers_out[key] = (headers_out[key] + ", " if key in headers_out else "") + v.decode("latin-1")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start["status"], headers_out, body, sent)


def websocket(app, path: str = "/api/visualizer/train", headers=(("host", "127.0.0.1:8000"),), client=PEER,
              query: bytes = b"", then: list[dict] | None = None) -> Reply:
    """Open a WebSocket: status 101 if accepted, else the refusal's HTTP status (or 4000+ close code)."""
    scope = _scope("websocket", path, headers, client, query)
    scope["subprotocols"] = []
    scope["extensions"] = {"websocket.http.response": {}}
    pending = [{"type": "websocket.connect"}, *(then or [])]
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(0)
        return pending.pop(0) if pending else {"type": "websocket.disconnect", "code": 1000}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    first = sent[0] if sent else {"type": "none"}
    if first["type"] == "websocket.accept":
        return Reply(101, {}, b"", sent)
    if first["type"] == "websocket.http.response.start":
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "websocket.http.response.body")
        return Reply(first["status"], {k.decode(): v.decode() for k, v in first.get("headers", [])}, body, sent)
    return Reply(first.get("code", 0), {}, b"", sent)


@contextlib.contextmanager
def live_server(app, **config):
    """A real uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread; yields the port."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off",
                                           **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
