"""The server's guard: one pure ASGI middleware in front of every HTTP route and WebSocket.

Checks, in this order, for every HTTP request and every WebSocket handshake:

1. **Host allowlist** (against DNS rebinding).  The ``Host`` header must name this machine's loopback
   (``localhost``, ``127.0.0.0/8``, ``[::1]``), a name the user configured (``Settings.allowed_hosts``)
   or the address the server is bound to.  Bound to a wildcard address (``0.0.0.0``, ``::``), IP
   literals pass too: a rebinding attack needs a DNS name, and a token is required there anyway.
   Anything else: 403.
2. **Origin**.  A browser names the page that opened a request in ``Origin``; when it is present it
   must be the server's own origin (same host and port as ``Host``).  A WebSocket opened by a page
   on another site is refused, and so is a cross-site HTTP request (CSRF).  No route sends
   ``Access-Control-Allow-Origin``.
3. **Token** (required whenever the server is bound to a non-loopback address; ``rnnlab serve``
   generates one and prints it, as Jupyter does).  Accepted in ``Authorization: token <t>`` (or
   ``Bearer <t>``), or once as ``?token=<t>`` in the URL: the reply sets an HttpOnly, SameSite=Strict
   cookie (an HMAC of the token, never the token itself) and a page load is redirected to the same
   URL without the token.  Missing or wrong: 401.
4. **Body size**: a request body is read here, counted on the bytes actually received, whatever
   ``Content-Length`` says (honest, false or absent) and refused with 413 past ``max_body_bytes``;
   a declared length over the cap is refused before reading.  The app then gets the body in one piece.
5. **WebSocket message size**: a client message over ``max_ws_message_bytes`` closes the socket with
   1009 ("message too big"); the app sees a disconnect.

Every HTTP response also gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Content-Security-Policy: frame-ancestors 'none'`` and ``Referrer-Policy: no-referrer`` (the last
keeps a ``?token=`` out of Referer headers).

The one exemption: Starlette's in-process ``TestClient`` (scope ``client == ("testclient", 50000)``,
``Host: testserver``) passes the Host check, so that the app's tests run unchanged; a request from a
socket carries the peer's IP address and port as its client (uvicorn's X-Forwarded-For handling
sets the port to 0), so it cannot take this path.

Threat model and figures: ``docs/security.md``.  Proved by ``tests/server/test_security.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass, replace
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from .limits import BODY_READ_SECONDS, MAX_BODY_BYTES, MAX_WS_MESSAGE_BYTES

LOOPBACK_NAMES = frozenset({"localhost"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "", "*"})
TEST_CLIENT = ("testclient", 50000, "testserver")  # starlette TestClient's scope client and Host header
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$")


# ---- names and addresses ----------------------------------------------------------------------
def parse_host(value: str | None) -> tuple[str, int | None] | None:
    """``Host`` header -> (lower-case name or address without brackets, port or None); None if malformed."""
    if not value or len(value) > 300 or value != value.strip() or any(c in value for c in " \t@/\\?#%,;"):
        return None
    value = value.lower()
    if value.startswith("["):  # [IPv6] or [IPv6]:port
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        if value.count(":") > 1:  # a bare IPv6 address is not a valid Host header
            return None
        name, _, port_text = value.partition(":")
        port_text = port_text if ":" in value else None
        if not _NAME.match(name):
            return None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        return None
    return name, int(port_text)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(name: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (a trailing dot and letter case do not matter)."""
    name = name.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    ip = _ip(name)
    return ip is not None and ip.is_loopback


def is_wildcard(bind: str) -> bool:
    return bind.strip("[]") in WILDCARD_BINDS


def token_required(bind_host: str) -> bool:
    """A server bound anywhere but loopback requires a token."""
    return not is_loopback(bind_host)


def new_token() -> str:
    return secrets.token_hex(24)


def with_token(settings):
    """``settings`` with a freshly generated token if it is bound off loopback and has none."""
    if getattr(settings, "token", None) is None and token_required(settings.host):
        return replace(settings, token=new_token())
    return settings


# ---- the policy -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    allowed_hosts: frozenset[str]  # configured names (lower case, no trailing dot); "*" allows any
    allow_ip_literals: bool  # bound to a wildcard address
    token: str | None  # None: no token needed
    require_token: bool
    max_body_bytes: int = MAX_BODY_BYTES
    max_ws_message_bytes: int = MAX_WS_MESSAGE_BYTES
    body_read_seconds: float = BODY_READ_SECONDS
    port: int = 0

    @classmethod
    def from_settings(cls, settings) -> Policy:
        names = {h.lower().strip("[]").rstrip(".") for h in getattr(settings, "allowed_hosts", ()) or ()}
        bind = settings.host
        if not is_wildcard(bind):
            names.add(bind.lower().strip("[]").rstrip("."))
        token = getattr(settings, "token", None)
        return cls(frozenset(names), is_wildcard(bind), token, token is not None or token_required(bind),
                   getattr(settings, "max_body_bytes", MAX_BODY_BYTES),
                   getattr(settings, "max_ws_message_bytes", MAX_WS_MESSAGE_BYTES),
                   BODY_READ_SECONDS, settings.port)

    def host_allowed(self, name: str) -> bool:
        name = name.rstrip(".")
        if "*" in self.allowed_hosts or is_loopback(name) or name in self.allowed_hosts:
            return True
        return self.allow_ip_literals and _ip(name) is not None

    @property
    def cookie_name(self) -> str:
        return f"rnnlab-token-{self.port}"  # cookies ignore ports: one name per server

    def cookie_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"rnnlab session cookie", hashlib.sha256).hexdigest()


def _headers(scope) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in scope.get("headers", ()):
        out.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    """The header's value; None when absent; '' (invalid) when repeated with different values."""
    values = headers.get(name)
    if not values:
        return None
    return values[0] if len(set(values)) == 1 else ""


def origin_matches(origin: str, host: tuple[str, int | None]) -> bool:
    """Is ``Origin`` the server's own origin, given the request's parsed ``Host``?"""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return False
    origin_port = origin_port or DEFAULT_PORTS[parts.scheme]
    host_name, host_port = host
    return parts.hostname.lower().rstrip(".") == host_name.rstrip(".") and origin_port == (
        host_port or DEFAULT_PORTS[parts.scheme])


# ---- the middleware ---------------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or []


class SecurityMiddleware:
    """Pure ASGI middleware: ``app.add_middleware(SecurityMiddleware, settings=settings)``."""

    def __init__(self, app, settings=None, policy: Policy | None = None):
        self.app = app
        if policy is None:
            if settings is None:
                raise TypeError("SecurityMiddleware needs settings or a policy")
            policy = Policy.from_settings(settings)
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        try:
            cookie = self._check(scope, headers)
        except Refused as e:
            await self._refuse(scope, receive, send, e, headers)
            return
        if kind == "websocket":
            await self.app(scope, self._ws_receive(receive, send), send)
            return
        try:
            body_receive = await self._read_body(receive, headers)
        except Refused as e:
            await self._refuse(scope, receive, send, e, headers)
            return
        if body_receive is None:  # the client went away while sending
            return
        extra = list(SECURITY_HEADERS)
        if cookie is not None:
            extra.append((b"set-cookie", cookie.encode("latin-1")))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, body_receive, send_with_headers)

    # 1-3: host, origin, token.  Returns a Set-Cookie value when a URL token was accepted.
    def _check(self, scope, headers) -> str | None:
        p = self.policy
        raw_host = _one(headers, "host")
        host = parse_host(raw_host)
        if host is None:
            raise Refused(403, "refused: missing or malformed Host header")
        if not p.host_allowed(host[0]) and not _is_test_client(scope, host):
            raise Refused(403, f"refused: {host[0]!r} is not an allowed host name for this server "
                               "(add it with `rnnlab serve --allow-host NAME`)")
        origin = _one(headers, "origin")
        if origin is not None and not origin_matches(origin, host):
            raise Refused(403, f"refused: requests from another site ({origin[:100]!r}) are not allowed")
        if not p.require_token:
            return None
        return self._check_token(scope, headers)

    def _check_token(self, scope, headers) -> str | None:
        p = self.policy
        if p.token is None:
            raise Refused(503, "this server was started off loopback without a token: restart it with "
                               "`rnnlab serve`, which generates one")
        auth = _one(headers, "authorization") or ""
        scheme, _, given = auth.partition(" ")
        if scheme.lower() in ("token", "bearer") and _same(given.strip(), p.token):
            return None
        cookies = SimpleCookie()
        try:
            cookies.load(_one(headers, "cookie") or "")
        except Exception:
            pass
        morsel = cookies.get(p.cookie_name)
        if morsel is not None and _same(morsel.value, p.cookie_value()):
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if "token" in query and _same(query["token"], p.token):
            cookie = f"{p.cookie_name}={p.cookie_value()}; Path=/; HttpOnly; SameSite=Strict"
            if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and "text/html" in (
                    _one(headers, "accept") or ""):
                rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1"),
                                                                keep_blank_values=True) if k != "token"])
                location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
                raise Refused(303, "token accepted", [(b"location", location.encode("latin-1")),
                                                      (b"set-cookie", cookie.encode("latin-1"))])
            return cookie
        raise Refused(401, "this server needs its token: open the URL `rnnlab serve` printed (with ?token=...) "
                           "or send `Authorization: token <token>`",
                      [(b"www-authenticate", b'token realm="rnnlab"')])

    # 4: the body, read here in full and counted
    async def _read_body(self, receive, headers):
        p = self.policy
        declared = headers.get("content-length")
        if declared:
            if len(set(declared)) != 1 or not declared[0].strip().isdigit():
                raise Refused(400, "refused: invalid Content-Length header")
            if int(declared[0]) > p.max_body_bytes:
                raise Refused(413, f"request body too large: at most {p.max_body_bytes} bytes")
        chunks, size = [], 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + p.body_read_seconds
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise Refused(408, f"the request body did not arrive within {p.body_read_seconds:g} s") from None
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > p.max_body_bytes:
                raise Refused(413, f"request body too large: at most {p.max_body_bytes} bytes")
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return whole
            return await receive()  # after the body: the disconnect, when it comes

        return replay

    # 5: WebSocket messages
    def _ws_receive(self, receive, send):
        cap = self.policy.max_ws_message_bytes
        closed = False

        async def guarded():
            nonlocal closed
            if closed:
                return {"type": "websocket.disconnect", "code": 1009}
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                text = message.get("text")
                size = len(data) if data is not None else (
                    len(text) if text is None or len(text) * 4 <= cap else len(text.encode("utf-8", "replace")))
                if size > cap:
                    closed = True
                    try:
                        await send({"type": "websocket.close", "code": 1009,
                                    "reason": f"message larger than {cap} bytes"})
                    except Exception:  # the socket may already be gone
                        pass
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return guarded

    async def _refuse(self, scope, receive, send, refusal: Refused, headers) -> None:
        body = json.dumps({"detail": refusal.message, "message": refusal.message}).encode()
        content_type = b"application/json"
        if refusal.status == 401 and "text/html" in (_one(headers, "accept") or ""):
            body = (b"<!doctype html><meta charset=utf-8><title>rnnlab: token needed</title>"
                    b"<p>This rnnlab server needs its token. Open the address <code>rnnlab serve</code> "
                    b"printed in its terminal (it ends with <code>?token=...</code>).</p>")
            content_type = b"text/html; charset=utf-8"
        response_headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS, *refusal.headers]
        if scope["type"] == "websocket":
            if "websocket.http.response" in (scope.get("extensions") or {}):
                await send({"type": "websocket.http.response.start", "status": refusal.status,
                            "headers": response_headers})
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 4000 + refusal.status})
            return
        if refusal.status == 413:
            response_headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": refusal.status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _is_test_client(scope, host: tuple[str, int | None]) -> bool:
    client = scope.get("client") or ("", 0)
    return (client[0], client[1], host[0]) == TEST_CLIENT  # a proxy header can set the host, never the port
