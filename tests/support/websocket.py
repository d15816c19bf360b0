"""Test helper: one WebSocket exchange with the app, as the page has it.

``stream_messages(client, path, request)`` sends one JSON request and collects every message up to
and including the first ``done`` or ``error``; with ``stop_after=n`` it sends ``{"type": "stop"}``
once more than n messages have arrived and a progress message comes.
"""

from __future__ import annotations


def stream_messages(client, path: str, request: dict, stop_after: int | None = None) -> list[dict]:
    messages = []
    with client.websocket_connect(path) as ws:
        ws.send_json(request)
        while True:
            msg = ws.receive_json()
            messages.append(msg)
            if stop_after is not None and msg["type"] == "progress" and len(messages) > stop_after:
                ws.send_json({"type": "stop"})
            if msg["type"] in ("done", "error"):
                return messages
