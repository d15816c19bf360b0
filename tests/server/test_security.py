"""The security middleware: Host allowlist, same-origin WebSockets, the token, body and message caps.

Most requests are raw ASGI calls (``server/asgi_raw.py``) so that a test can send what a browser
never would (a forged Host, a lying Content-Length) from a real client address; the size limits are
also checked against a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest
from server import asgi_raw
from server.asgi_raw import http, websocket

from rnnlab.server import limits
from rnnlab.server.app import create_app
from rnnlab.server.security import Policy, SecurityMiddleware, parse_host, with_token
from rnnlab.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURED = "lab.example.org"
CAP = limits.MAX_BODY_BYTES


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(default_model=None, preload=False, allowed_hosts=(CONFIGURED,)))


# ---- 1. the Host allowlist --------------------------------------------------------------------
ALLOWED_HOSTS = [
    "localhost", "localhost:8000", "LocalHost:8000", "localhost.", "127.0.0.1", "127.0.0.1:8000",
    "127.45.6.7:8000", "[::1]", "[::1]:8000", CONFIGURED, "LAB.Example.org:8000", "lab.example.org.:80",
]
REFUSED_HOSTS = [
    "evil.com", "evil.com:8000", "localhost.evil.com", "127.0.0.1.nip.io:8000", "evil.localhost",
    "sub.lab.example.org", "example.org", "192.168.1.5:8000", "10.0.0.1", "0.0.0.0:8000",
    "[::ffff:127.0.0.1]:8000", "[::1", "::1", "localhost:8000:1", "localhost:http", "localhost:99999",
    "localhost@evil.com", "evil.com#localhost", "127.0.0.1 evil.com", "localhost/x", "testserver", "",
]


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_loopback_and_configured_host_names_pass_on_http_and_websocket(app, host):
    assert http(app, headers=[("host", host)]).status == 200
    assert websocket(app, headers=[("host", host)]).status == 101


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_every_other_host_name_is_refused_on_http_and_websocket(app, host):
    reply = http(app, headers=[("host", host)])
    assert reply.status == 403, reply.text
    assert "access-control-allow-origin" not in reply.headers
    assert websocket(app, headers=[("host", host)]).status == 403


def test_the_host_case_count_meets_the_target():
    assert len(ALLOWED_HOSTS) + len(REFUSED_HOSTS) >= 15


def test_a_missing_or_doubled_host_header_is_refused(app):
    assert http(app, headers=[]).status == 403
    assert http(app, headers=[("host", "localhost"), ("host", "evil.com")]).status == 403
    assert websocket(app, headers=[]).status == 403


def test_the_test_client_exemption_needs_the_test_client_and_its_host(app):
    assert http(app, headers=[("host", "testserver")], client=("testclient", 50000)).status == 200
    assert http(app, headers=[("host", "testserver")], client=("127.0.0.1", 50000)).status == 403
    assert http(app, headers=[("host", "evil.com")], client=("testclient", 50000)).status == 403


def test_the_bound_address_passes_and_a_wildcard_bind_lets_ip_literals_but_not_names_pass():
    bound = create_app(Settings(host="192.168.7.7", token="t", default_model=None, preload=False))
    auth = ("authorization", "token t")
    assert http(bound, headers=[("host", "192.168.7.7:8000"), auth]).status == 200
    assert http(bound, headers=[("host", "192.168.7.8:8000"), auth]).status == 403
    wild = create_app(Settings(host="0.0.0.0", token="t", default_model=None, preload=False))
    assert http(wild, headers=[("host", "192.168.7.8:8000"), auth]).status == 200
    assert http(wild, headers=[("host", "[fe80::1]:8000"), auth]).status == 200
    assert http(wild, headers=[("host", "evil.com:8000"), auth]).status == 403


def test_parse_host_keeps_name_and_port():
    assert parse_host("LocalHost:8000") == ("localhost", 8000)
    assert parse_host("[::1]:80") == ("::1", 80)
    assert parse_host("example.org") == ("example.org", None)
    assert parse_host("a b") is None and parse_host(None) is None


# ---- 2. Origin ---------------------------------------------------------------------------------
HOST = ("host", "localhost:8000")


@pytest.mark.parametrize("origin, status", [
    (None, 101),
    ("http://localhost:8000", 101),
    ("http://evil.com", 403),
    ("http://evil.com:8000", 403),
    ("null", 403),
    ("http://localhost:9999", 403),  # another local app
    ("http://127.0.0.1:8000", 403),  # not the origin the page was loaded from
    ("http://localhost.evil.com:8000", 403),
    ("file://", 403),
    ("chrome-extension://abcdef", 403),
])
def test_a_websocket_opened_from_another_origin_is_refused(app, origin, status):
    headers = [HOST] + ([("origin", origin)] if origin is not None else [])
    assert websocket(app, "/api/generate/stream", headers=headers).status == status
    assert websocket(app, "/api/visualizer/train", headers=headers).status == status


def test_a_cross_site_post_is_refused_before_the_route_runs(app):
    body = b'{"sequence": {"type": "sine"}}'
    ok = http(app, "POST", "/api/visualizer/trace", [HOST, ("content-type", "application/json"),
                                                     ("origin", "http://localhost:8000")], [body])
    assert ok.status == 200
    bad = http(app, "POST", "/api/visualizer/trace", [HOST, ("content-type", "text/plain"),
                                                      ("origin", "http://evil.com")], [body])
    assert bad.status == 403


def test_no_response_allows_any_origin(app):
    preflight = http(app, "OPTIONS", "/api/visualizer/trace", [HOST, ("origin", "http://evil.com"),
                                                                ("access-control-request-method", "POST")])
    assert preflight.status == 403
    for path in ["/api/health", "/api/models", "/api/visualizer/options", "/", "/docs", "/openapi.json",
                 "/static/vendor/plotly.min.js", "/no/such/page"]:
        reply = http(app, "GET", path, [HOST, ("origin", "http://localhost:8000")])
        assert not any(k.startswith("access-control-") for k in reply.headers), (path, reply.headers)
    sources = [p for p in (ROOT / "src" / "rnnlab").rglob("*") if p.suffix in (".py", ".js", ".html")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"access-control-allow-origin|CORSMiddleware", text, re.I) or \
            path.name == "security.py", path


def test_every_response_carries_the_safety_headers(app):
    for path in ["/api/health", "/", "/no/such/page"]:
        headers = http(app, "GET", path, [HOST]).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]


# ---- 3. the token ------------------------------------------------------------------------------
TOKEN = "s3cret-token-0123456789"


@pytest.fixture(scope="module")
def remote_app():
    return create_app(Settings(host="0.0.0.0", port=8000, token=TOKEN, default_model=None, preload=False))


LAN = ("host", "192.168.1.20:8000")


def test_off_loopback_every_route_needs_the_token(remote_app):
    for path in ["/api/health", "/", "/openapi.json", "/static/vendor/plotly.min.js"]:
        assert http(remote_app, "GET", path, [LAN]).status == 401, path
    page = http(remote_app, "GET", "/", [LAN, ("accept", "text/html")])
    assert page.status == 401 and "token" in page.text and page.headers["content-type"].startswith("text/html")
    assert websocket(remote_app, headers=[LAN]).status == 401


@pytest.mark.parametrize("auth, status", [
    (f"token {TOKEN}", 200), (f"Bearer {TOKEN}", 200), (f"TOKEN {TOKEN}", 200), ("token wrong", 401),
    (f"token {TOKEN}x", 401), (f"token {TOKEN[:-1]}", 401), (TOKEN, 401), (f"Basic {TOKEN}", 401), ("token ", 401),
])
def test_the_token_is_accepted_in_the_authorization_header(remote_app, auth, status):
    assert http(remote_app, headers=[LAN, ("authorization", auth)]).status == status


def test_a_url_token_is_swapped_for_a_cookie_and_a_clean_url(remote_app):
    first = http(remote_app, "GET", "/", [LAN, ("accept", "text/html,*/*")], query=f"token={TOKEN}&x=1".encode())
    assert first.status == 303 and first.headers["location"] == "/?x=1"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    pair = cookie.split(";")[0]
    assert http(remote_app, "GET", "/api/health", [LAN, ("cookie", pair)]).status == 200
    assert websocket(remote_app, headers=[LAN, ("cookie", pair), ("origin", "http://192.168.1.20:8000")]).status == 101
    name = pair.split("=")[0]
    assert http(remote_app, "GET", "/api/health", [LAN, ("cookie", f"{name}={TOKEN}")]).status == 401
    assert http(remote_app, "GET", "/api/health", [LAN, ("cookie", f"{name}=0")]).status == 401


def test_a_url_token_on_an_api_call_or_websocket_is_accepted_and_sets_the_cookie(remote_app):
    reply = http(remote_app, "GET", "/api/health", [LAN], query=f"token={TOKEN}".encode())
    assert reply.status == 200 and reply.headers["set-cookie"].startswith("rnnlab-token-8000=")
    assert http(remote_app, "GET", "/api/health", [LAN], query=b"token=nope").status == 401
    assert websocket(remote_app, headers=[LAN], query=f"token={TOKEN}".encode()).status == 101


def test_a_server_off_loopback_without_a_token_refuses_everything():
    app = create_app(Settings(host="0.0.0.0", default_model=None, preload=False))
    assert http(app, headers=[LAN]).status == 503


def test_with_token_generates_one_only_off_loopback():
    assert with_token(Settings(host="127.0.0.1")).token is None
    remote = with_token(Settings(host="0.0.0.0"))
    assert remote.token is not None and len(remote.token) >= 32
    assert with_token(Settings(host="0.0.0.0")).token != remote.token
    assert remote.token not in repr(remote)


def test_a_token_set_on_loopback_is_required_too():
    app = create_app(Settings(token=TOKEN, default_model=None, preload=False))
    assert http(app, headers=[HOST]).status == 401
    assert http(app, headers=[HOST, ("authorization", f"token {TOKEN}")]).status == 200


# ---- 4. the body cap ---------------------------------------------------------------------------
def _inner_app_that_records():
    calls = []

    async def inner(scope, receive, send):
        message = await receive()
        calls.append(len(message["body"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return inner, calls


def _guarded(cap=1000, **kw):
    inner, calls = _inner_app_that_records()
    policy = Policy(frozenset(), False, None, False, max_body_bytes=cap, **kw)
    return SecurityMiddleware(inner, policy=policy), calls


def _post(app, headers=(), chunks=(b"",), **kw):
    return http(app, "POST", "/api/visualizer/trace", [HOST, ("content-type", "application/json"), *headers],
                chunks, **kw)


@pytest.mark.parametrize("declared, chunks, status", [
    ("1000", [b"x" * 1000], 200),  # honest, at the cap
    ("1001", [b"x" * 1001], 413),  # honest, over the cap
    ("5000000", [b"x"], 413),  # declared over the cap: refused before reading
    ("10", [b"x" * 600, b"x" * 600], 413),  # false: says 10, sends 1200
    ("0", [b"x" * 1001], 413),  # false: says 0
    (None, [b"x" * 400] * 3, 413),  # absent (chunked): counted
    (None, [b"x" * 500] * 2, 200),  # absent, at the cap
    (None, [b"x"] * 1001, 413),  # absent, one byte at a time
    ("abc", [b"x"], 400),
    ("-5", [b"x"], 400),
])
def test_the_body_cap_counts_the_bytes_received_whatever_content_length_says(declared, chunks, status):
    app, calls = _guarded()
    headers = [("content-length", declared)] if declared is not None else []
    reply = _post(app, headers, chunks)
    assert reply.status == status, reply.text
    assert calls == ([sum(map(len, chunks))] if status == 200 else [])  # the app never sees a refused body


def test_two_different_content_lengths_are_refused():
    app, calls = _guarded()
    assert _post(app, [("content-length", "5"), ("content-length", "6")], [b"x" * 5]).status == 400 and not calls


def test_a_client_that_leaves_mid_body_never_reaches_the_app():
    app, calls = _guarded()
    assert _post(app, [], [b"x" * 100] * 5, disconnect_after=2).status == 0 and calls == []


def test_a_body_that_trickles_in_too_slowly_is_408():
    app, calls = _guarded(body_read_seconds=0.2)
    assert _post(app, [], [b"x"] * 10, delay=0.05).status == 408 and calls == []


def test_the_real_app_answers_413_for_honest_false_and_absent_lengths(app):
    big = b"x" * (CAP + 1)
    assert _post(app, [("content-length", str(len(big)))], [big]).status == 413
    assert _post(app, [("content-length", "12")], [big[: CAP // 2], big[CAP // 2:]]).status == 413
    assert _post(app, [], [big[: CAP // 2], big[CAP // 2:]]).status == 413
    assert _post(app, [], [b'{"sequence": ', b'{"type": "sine"}}']).status == 200


def _raw_request(port: int, head: bytes, body_parts: list[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        try:
            for part in body_parts:
                s.sendall(part)
        except (BrokenPipeError, ConnectionResetError):  # the server answered and closed early
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data and (b"413" in data.split(b"\r\n")[0] or len(data) > 200):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return data


def test_a_real_uvicorn_answers_413_for_an_honest_or_a_chunked_oversized_body(app):
    big = b"x" * (CAP + 1)
    with asgi_raw.live_server(app) as port:
        head = (f"POST /api/visualizer/trace HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(big)}\r\n\r\n").encode()
        assert _raw_request(port, head, [big]).startswith(b"HTTP/1.1 413")
        head = (f"POST /api/visualizer/trace HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
                "\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        chunks = [f"{len(big) // 4:x}\r\n".encode() + big[: len(big) // 4] + b"\r\n"] * 5 + [b"0\r\n\r\n"]
        assert _raw_request(port, head, chunks).startswith(b"HTTP/1.1 413")
        head = (f"GET /api/health HTTP/1.1\r\nHost: evil.com:{port}\r\n\r\n").encode()
        assert _raw_request(port, head, []).startswith(b"HTTP/1.1 403")


# ---- 5. the WebSocket message cap ---------------------------------------------------------------
def test_a_websocket_message_over_the_cap_closes_the_socket_with_1009(app):
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    with TestClient(app) as client:
        with client.websocket_connect("/api/visualizer/train") as ws:
            ws.send_text("x" * (limits.MAX_WS_MESSAGE_BYTES + 1))
            with pytest.raises(WebSocketDisconnect) as e:
                ws.receive_text()
            assert e.value.code == 1009
        with client.websocket_connect("/api/visualizer/train") as ws:
            ws.send_bytes(b"\xff" * (limits.MAX_WS_MESSAGE_BYTES + 1))
            with pytest.raises(WebSocketDisconnect) as e:
                ws.receive_text()
            assert e.value.code == 1009


def test_a_real_uvicorn_closes_an_oversized_websocket_message_with_1009(app):
    import websockets

    async def talk(port):
        async with websockets.connect(f"ws://127.0.0.1:{port}/api/visualizer/train") as ws:
            await ws.send("é" * (limits.MAX_WS_MESSAGE_BYTES // 2 + 1))  # under the cap in characters, over in bytes
            with pytest.raises(websockets.ConnectionClosed) as e:
                await asyncio.wait_for(ws.recv(), 5)
            return e.value.rcvd.code

    with asgi_raw.live_server(app) as port:
        assert asyncio.run(talk(port)) == 1009


# ---- the limits table ----------------------------------------------------------------------------
def test_docs_security_lists_every_limit_with_its_value():
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for limit in limits.table():
        assert limit.value in doc and limit.name in doc, limit


# ---- rnnlab serve --------------------------------------------------------------------------------
def test_rnnlab_serve_off_loopback_warns_and_prints_a_token_it_then_requires(tmp_path):
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "rnnlab.cli.main", "serve", "--host", "0.0.0.0", "--port", "0",
                             "--no-default-model"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "rnnlab serve:" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        match = re.search(r"http://[^:]+:(\d+)/\?token=([0-9a-f]+)", line)
        assert match, line
        port, token = match.group(1), match.group(2)
        assert len(token) >= 32

        def status(path: str, headers: dict) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    return reply.status
            except urllib.error.HTTPError as e:
                return e.code

        assert status("/api/health", {}) == 401
        assert status("/api/health", {"Authorization": f"token {token}"}) == 200
        assert status(f"/api/health?token={token}", {}) == 200
        assert status("/api/health", {"Authorization": f"token {token}", "Host": "evil.com"}) == 403
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning: listening on 0.0.0.0" in err and "token" in err
